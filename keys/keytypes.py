"""The key types the rest of the product holds, so that only `keys/` imports libsodium's bindings.

    RecipientIdentity   an X25519 private key: opens the envelopes sealed to its public half
                        (the inspectorate's key, the console's vault key, a source's key)
    RecipientKey        an X25519 public key: what an envelope is sealed to
    SigningKey          an Ed25519 private key: signs bundle manifests (server, console)
    VerifyKey           an Ed25519 public key: checks them

They are PyNaCl's classes under the protocol's names: `bytes(key)` is the 32-byte key, an
identity's `.public_key` its recipient key, a signing key's `.verify_key` its verify key. Public
keys travel as key lines (keys.keyfiles.PublicKey); these are what the code computes with.
"""

from __future__ import annotations

import nacl.public
import nacl.signing

RecipientIdentity = nacl.public.PrivateKey
RecipientKey = nacl.public.PublicKey
SigningKey = nacl.signing.SigningKey
VerifyKey = nacl.signing.VerifyKey


def recipient_identity(secret: bytes) -> RecipientIdentity:
    """The X25519 identity whose 32 secret bytes were stored (a vault, a key file)."""
    return nacl.public.PrivateKey(secret)


def signing_key(seed: bytes) -> SigningKey:
    """The Ed25519 signing key of a stored 32-byte seed."""
    return nacl.signing.SigningKey(seed)


def new_recipient_identity() -> RecipientIdentity:
    """A fresh X25519 key pair (inspectorate recipients, the console's vault key)."""
    return nacl.public.PrivateKey.generate()


def new_signing_key() -> SigningKey:
    """A fresh Ed25519 signing key (the server's and the console's bundle keys)."""
    return nacl.signing.SigningKey.generate()
