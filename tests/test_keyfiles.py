"""Key files (docs/protocol.md §2): public lines, fingerprints, secret-key files, passboxes."""

from __future__ import annotations

import base64
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import keyfiles, keytypes, passbox
from keys.errors import KeyFileError, WrongPassphrase
from keys.keyfiles import KdfParams, PublicKey

# The parameters are not what these tests are about: the cheapest argon2id the bounds allow.
CHEAP = KdfParams(time_cost=1, memory_cost_kib=8 * 1024, parallelism=1)
RECIPIENT_SECRET = bytes([1]) * 32
SIGNING_SEED = bytes([3]) * 32
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
kinds = st.sampled_from(["recipient", "verify"])


def recipient_key() -> PublicKey:
    return keyfiles.recipient_public_key(keytypes.recipient_identity(RECIPIENT_SECRET))


def verify_key() -> PublicKey:
    return keyfiles.verify_public_key(keytypes.signing_key(SIGNING_SEED))


# --- public keys ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(kind=kinds, raw=st.binary(min_size=32, max_size=32))
def test_public_key_line_round_trips(kind: keyfiles.PublicKind, raw: bytes) -> None:
    key = PublicKey(kind, raw)
    line = key.to_line()
    assert re.fullmatch(rf"{keyfiles.PUBLIC_PREFIX[kind]}:[A-Z2-7]{{58}}", line)
    assert keyfiles.parse_public_key(line, kind) == key
    # Readers are lenient about case and surrounding white space, never about content.
    assert keyfiles.parse_public_key(f"  {line.lower()}\n", kind) == key


def test_public_key_files_round_trip(tmp_path: Path) -> None:
    for index, key in enumerate((recipient_key(), verify_key())):
        path = tmp_path / f"key{index}.pub"
        keyfiles.write_public_key(path, key)
        assert path.read_text() == key.to_line() + "\n"
        assert keyfiles.read_public_key(path, key.kind) == key
    assert keyfiles.read_public_key(tmp_path / "key0.pub", "recipient").as_recipient() == (
        keytypes.recipient_identity(RECIPIENT_SECRET).public_key
    )
    assert keyfiles.read_public_key(tmp_path / "key1.pub", "verify").as_verify_key() == (
        keytypes.signing_key(SIGNING_SEED).verify_key
    )


@settings(max_examples=60, deadline=None)
@given(kind=kinds, raw=st.binary(min_size=32, max_size=32))
def test_fingerprint_format(kind: keyfiles.PublicKind, raw: bytes) -> None:
    fingerprint = PublicKey(kind, raw).fingerprint
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4}){3}", fingerprint)
    other_kind: keyfiles.PublicKind = "verify" if kind == "recipient" else "recipient"
    assert PublicKey(other_kind, raw).fingerprint != fingerprint  # the type is fingerprinted


def test_fingerprints_differ_between_keys() -> None:
    prints = {PublicKey("recipient", bytes([i]) * 32).fingerprint for i in range(200)}
    assert len(prints) == 200


def test_every_single_character_typo_is_refused() -> None:
    """Exhaustive over the 58 base32 positions and every other base32 character."""
    line = recipient_key().to_line()
    prefix, body = line.split(":")
    for position in range(len(body)):
        for char in B32:
            if char == body[position]:
                continue
            typo = f"{prefix}:{body[:position]}{char}{body[position + 1 :]}"
            with pytest.raises(KeyFileError):
                keyfiles.parse_public_key(typo, "recipient")


def test_adjacent_swaps_are_refused() -> None:
    line = verify_key().to_line()
    prefix, body = line.split(":")
    for position in range(len(body) - 1):
        swapped = body[:position] + body[position + 1] + body[position] + body[position + 2 :]
        if swapped != body:
            with pytest.raises(KeyFileError):
                keyfiles.parse_public_key(f"{prefix}:{swapped}", "verify")


def _line(prefix: str, payload: bytes) -> str:
    return f"{prefix}:{base64.b32encode(payload).decode().rstrip('=')}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # A typo: one character changed.
        (lambda: recipient_key().to_line()[:-5] + "AAAAA", "checksum"),
        # The checksum recomputed for another key but this key kept.
        (lambda: _line("wbs-recipient-v1", bytes(32) + bytes(4)), "checksum"),
        # A verify key where a recipient key belongs.
        (lambda: verify_key().to_line(), "wrong key type"),
        # The prefix edited to the right type: the checksum covers the prefix.
        (lambda: verify_key().to_line().replace("wbs-verify-v1", "wbs-recipient-v1"), "checksum"),
        (lambda: "wbs-recipient-v2:" + recipient_key().to_line().split(":")[1], "unknown key"),
        (lambda: _line("wbs-recipient-v1", bytes(35)), "wrong length"),
        (lambda: _line("wbs-recipient-v1", bytes(37)), "wrong length"),
        (lambda: recipient_key().to_line()[:-1], "base32|length"),
        (lambda: "wbs-recipient-v1:" + "!" * 58, "base32"),
        (lambda: "hello world", "no type prefix"),
        (lambda: "", "exactly one line"),
        (lambda: "\n\n  \n", "exactly one line"),
        (lambda: recipient_key().to_line() + "\n" + recipient_key().to_line(), "exactly one"),
    ],
)
def test_bad_public_key_files_name_the_file(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "inspectorate.pub"
    path.write_text(content())
    with pytest.raises(KeyFileError, match=message) as caught:
        keyfiles.read_public_key(path, "recipient")
    text = str(caught.value)
    assert text.startswith(f"{path}: ")
    assert "\n" not in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe\x00\x01binary\x80", "not a text key file"),
        (bytes(range(256)), "not a text key file"),
        (b"A" * (keyfiles.MAX_KEY_FILE_BYTES + 1), "too large"),
        (b"\x00" * 64, "no type prefix"),
    ],
)
def test_binary_and_oversized_files(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "weird.pub"
    path.write_bytes(data)
    with pytest.raises(KeyFileError, match=message) as caught:
        keyfiles.read_public_key(path, "verify")
    assert str(caught.value).startswith(f"{path}: ")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    for path in (tmp_path / "absent.pub", tmp_path):
        with pytest.raises(KeyFileError, match="cannot read") as caught:
            keyfiles.read_public_key(path, "verify")
        assert str(caught.value).startswith(f"{path}: ")
        with pytest.raises(KeyFileError, match="cannot read"):
            keyfiles.read_secret_key(path, "ed25519-signing", None)


def test_public_key_must_be_32_bytes() -> None:
    with pytest.raises(KeyFileError):
        PublicKey("recipient", bytes(31))
    with pytest.raises(KeyFileError):
        recipient_key().as_verify_key()
    with pytest.raises(KeyFileError):
        verify_key().as_recipient()


# --- secret-key files ---------------------------------------------------------------------------


@pytest.mark.parametrize("passphrase", [b"correct horse battery staple", None])
def test_secret_key_files_round_trip(tmp_path: Path, passphrase: bytes | None) -> None:
    recipient_path, signing_path = tmp_path / "recipient.key", tmp_path / "signing.key"
    keyfiles.write_secret_key(
        recipient_path, "x25519-recipient", RECIPIENT_SECRET, passphrase, CHEAP
    )
    keyfiles.write_secret_key(signing_path, "ed25519-signing", SIGNING_SEED, passphrase, CHEAP)
    assert keyfiles.read_secret_key(recipient_path, "x25519-recipient", passphrase) == (
        RECIPIENT_SECRET
    )
    identity = keyfiles.read_recipient_identity(recipient_path, passphrase)
    assert bytes(identity) == RECIPIENT_SECRET
    signing = keyfiles.read_signing_key(signing_path, passphrase)
    assert bytes(signing) == SIGNING_SEED
    document = json.loads(recipient_path.read_text())
    assert document["public"] == recipient_key().to_line()
    if passphrase is None:
        assert document["kdf"] == {"name": "none"}
    else:
        assert "secret" not in document
        assert base64.b64encode(RECIPIENT_SECRET).decode() not in recipient_path.read_text()
        assert document["kdf"]["name"] == "argon2id"
        assert len(base64.b64decode(document["kdf"]["salt"])) == 16
        assert len(base64.b64decode(document["nonce"])) == 24


def test_secret_key_files_are_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    keyfiles.write_secret_key(path, "ed25519-signing", SIGNING_SEED, b"pw", CHEAP)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists") as caught:
        keyfiles.write_secret_key(path, "ed25519-signing", bytes(32), None, CHEAP)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before
    public = tmp_path / "signing.pub"
    keyfiles.write_public_key(public, verify_key())
    with pytest.raises(KeyFileError, match="already exists"):
        keyfiles.write_public_key(public, recipient_key())
    assert keyfiles.read_public_key(public, "verify") == verify_key()


@pytest.fixture(scope="module")
def protected_file() -> str:
    return keyfiles.encode_secret_key(
        "x25519-recipient", RECIPIENT_SECRET, b"right", CHEAP
    ).decode()


def test_wrong_passphrase(tmp_path: Path, protected_file: str) -> None:
    path = tmp_path / "recipient.key"
    path.write_text(protected_file)
    with pytest.raises(WrongPassphrase) as caught:
        keyfiles.read_secret_key(path, "x25519-recipient", b"wrong")
    assert str(caught.value).startswith(f"{path}: ")
    with pytest.raises(WrongPassphrase, match="needs a passphrase"):
        keyfiles.read_secret_key(path, "x25519-recipient", None)
    assert keyfiles.read_secret_key(path, "x25519-recipient", b"right") == RECIPIENT_SECRET


def _edit(text: str, change: Any) -> str:
    document = json.loads(text)
    change(document)
    return json.dumps(document)


def _b64_flip(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


OTHER_RECIPIENT_LINE = keyfiles.recipient_public_key(
    keytypes.recipient_identity(bytes(32))
).to_line()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        # Every header field is associated data: changing any makes the open fail.
        (lambda d: d["kdf"].update(time_cost=2), WrongPassphrase),
        (lambda d: d["kdf"].update(memory_cost_kib=16 * 1024), WrongPassphrase),
        (lambda d: d["kdf"].update(parallelism=2), WrongPassphrase),
        (lambda d: d["kdf"].update(salt=_b64_flip(d["kdf"]["salt"])), WrongPassphrase),
        (lambda d: d["kdf"].update(extra=1), WrongPassphrase),
        (lambda d: d.update(public=OTHER_RECIPIENT_LINE), WrongPassphrase),
        (lambda d: d.update(ciphertext=_b64_flip(d["ciphertext"])), WrongPassphrase),
        (lambda d: d.update(nonce=_b64_flip(d["nonce"])), WrongPassphrase),
        (lambda d: d.update(type="ed25519-signing"), KeyFileError),
        (lambda d: d.update(format="something-else"), KeyFileError),
        (lambda d: d.update(version=2), KeyFileError),
        (lambda d: d.update(kdf={"name": "none"}), KeyFileError),
        (lambda d: d.update(kdf={"name": "scrypt"}), KeyFileError),
        (lambda d: d["kdf"].update(salt="AAAA"), KeyFileError),
        (lambda d: d["kdf"].update(salt="not base64!"), KeyFileError),
        (lambda d: d["kdf"].update(time_cost="3"), KeyFileError),
        (lambda d: d["kdf"].update(time_cost=True), KeyFileError),
        (lambda d: d.pop("ciphertext"), KeyFileError),
        (lambda d: d.pop("public"), KeyFileError),
        (lambda d: d.update(nonce=5), KeyFileError),
    ],
)
def test_tampered_secret_key_files_fail(
    tmp_path: Path, protected_file: str, change: Any, error: type
) -> None:
    path = tmp_path / "recipient.key"
    path.write_text(_edit(protected_file, change))
    with pytest.raises(error) as caught:
        keyfiles.read_secret_key(path, "x25519-recipient", b"right")
    assert isinstance(caught.value, KeyFileError)
    assert str(caught.value).startswith(f"{path}: ")


def test_unprotected_file_with_a_swapped_public_key_is_refused() -> None:
    text = keyfiles.encode_secret_key("x25519-recipient", RECIPIENT_SECRET, None).decode()
    edited = _edit(text, lambda d: d.update(public=OTHER_RECIPIENT_LINE))
    with pytest.raises(KeyFileError, match="does not match its public key"):
        keyfiles.decode_secret_key(edited, "x25519-recipient", None)
    short = _edit(text, lambda d: d.update(secret=base64.b64encode(bytes(31)).decode()))
    with pytest.raises(KeyFileError):
        keyfiles.decode_secret_key(short, "x25519-recipient", None)


def test_secret_key_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    keyfiles.write_secret_key(path, "ed25519-signing", SIGNING_SEED, None)
    with pytest.raises(KeyFileError, match="wrong key type") as caught:
        keyfiles.read_recipient_identity(path, None)
    assert str(caught.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    "content",
    [
        "",
        "not json",
        "[1, 2, 3]",
        '"wbs-secret-key"',
        "{}",
        "[" * 5000 + "]" * 5000,
        '{"format": "wbs-secret-key"}',
        "wbs-recipient-v1:" + "A" * 58,
    ],
)
def test_garbage_secret_key_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "garbage.key"
    path.write_text(content)
    with pytest.raises(KeyFileError) as caught:
        keyfiles.read_secret_key(path, "x25519-recipient", b"pw")
    assert str(caught.value).startswith(f"{path}: ")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "params",
    [
        KdfParams(time_cost=0),
        KdfParams(time_cost=17),
        KdfParams(memory_cost_kib=8 * 1024 - 1),
        KdfParams(memory_cost_kib=1024 * 1024 + 1),
        KdfParams(memory_cost_kib=2**32),
        KdfParams(parallelism=0),
        KdfParams(parallelism=9),
    ],
)
def test_out_of_range_kdf_parameters_are_refused(params: KdfParams) -> None:
    with pytest.raises(KeyFileError, match="out of range"):
        params.check_bounds()
    with pytest.raises(KeyFileError, match="out of range"):
        keyfiles.encode_secret_key("ed25519-signing", SIGNING_SEED, b"pw", params)
    # A crafted file with these parameters is refused before argon2 runs: the AEAD would fail
    # anyway, but a 4 TiB memory cost must never be attempted.
    document = json.loads(keyfiles.encode_secret_key("ed25519-signing", SIGNING_SEED, b"pw", CHEAP))
    document["kdf"].update(
        time_cost=params.time_cost,
        memory_cost_kib=params.memory_cost_kib,
        parallelism=params.parallelism,
    )
    with pytest.raises(KeyFileError, match="out of range"):
        keyfiles.decode_secret_key(json.dumps(document), "ed25519-signing", b"pw")


def test_default_kdf_parameters() -> None:
    assert keyfiles.DEFAULT_KDF == KdfParams(time_cost=3, memory_cost_kib=65536, parallelism=1)
    keyfiles.DEFAULT_KDF.check_bounds()


# --- passphrase boxes ---------------------------------------------------------------------------


@settings(max_examples=5, deadline=None)
@given(secret=st.binary(max_size=200), passphrase=st.binary(min_size=1, max_size=40))
def test_passbox_round_trip(secret: bytes, passphrase: bytes) -> None:
    box = passbox.seal(secret, passphrase, "console-vault", CHEAP)
    assert passbox.open_box(box, passphrase, "console-vault") == secret


@pytest.fixture(scope="module")
def vault_box() -> bytes:
    return passbox.seal(b"three keys", b"right", "console-vault", CHEAP)


def test_passbox_wrong_purpose(vault_box: bytes) -> None:
    with pytest.raises(KeyFileError, match="console-vault") as caught:
        passbox.open_box(vault_box, b"right", "investigator-wrap")
    assert not isinstance(caught.value, WrongPassphrase)


def test_passbox_wrong_passphrase(vault_box: bytes) -> None:
    with pytest.raises(WrongPassphrase):
        passbox.open_box(vault_box, b"wrong", "console-vault")
    assert passbox.open_box(vault_box, b"right", "console-vault") == b"three keys"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d.update(purpose="investigator-wrap"), WrongPassphrase),
        (lambda d: d["kdf"].update(time_cost=2), WrongPassphrase),
        (lambda d: d["kdf"].update(salt=_b64_flip(d["kdf"]["salt"])), WrongPassphrase),
        (lambda d: d.update(ciphertext=_b64_flip(d["ciphertext"])), WrongPassphrase),
        (lambda d: d.update(version=2), KeyFileError),
        (lambda d: d.update(format="wbs-secret-key"), KeyFileError),
        (lambda d: d["kdf"].update(name="scrypt"), KeyFileError),
        (lambda d: d["kdf"].update(memory_cost_kib=2**31), KeyFileError),
        (lambda d: d["kdf"].update(salt="AAAA"), KeyFileError),
        (lambda d: d.pop("nonce"), KeyFileError),
        (lambda d: d.update(nonce=5), KeyFileError),
        (lambda d: d.update(kdf="argon2id"), KeyFileError),
    ],
)
def test_tampered_passbox(vault_box: bytes, change: Any, error: type) -> None:
    edited = _edit(vault_box.decode(), change)
    purpose = json.loads(edited).get("purpose", "console-vault")
    with pytest.raises(error):
        passbox.open_box(edited.encode(), b"right", purpose)


@pytest.mark.parametrize("document", [b"", b"not json", b"[]", b"{}", b"[" * 5000])
def test_garbage_passbox(document: bytes) -> None:
    with pytest.raises(KeyFileError):
        passbox.open_box(document, b"right", "console-vault")


def test_passbox_secret_size_limit() -> None:
    with pytest.raises(ValueError, match="too large"):
        passbox.seal(bytes(passbox.MAX_SECRET_BYTES + 1), b"pw", "console-vault", CHEAP)


def test_unprotected_key_is_refused_when_a_passphrase_is_expected(tmp_path: Path) -> None:
    # Someone with write access swaps an unprotected key of their own for the protected one.
    swapped = tmp_path / "swapped.key"
    secret = bytes(keytypes.new_recipient_identity())
    keyfiles.write_secret_key(swapped, "x25519-recipient", secret, None)
    with pytest.raises(KeyFileError, match="not protected by a passphrase"):
        keyfiles.read_secret_key(swapped, "x25519-recipient", b"the real passphrase")
