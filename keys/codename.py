"""Codenames: generation from word lists, normalisation, and the two argon2id derivations.

A codename is the reporter's only credential. From it the server derives, with two independent
per-instance secret salts:

    lookup_id  = argon2id(normalised codename, lookup_salt)    finds the source's rows
    key_seed   = argon2id(normalised codename, key_salt)       seeds the source's X25519 key pair

Neither output reveals the other, and without the salts (kept in the data directory, never in the
database) a copy of the database alone cannot be tested against guessed codenames at all.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import nacl.public
from argon2.low_level import Type, hash_secret_raw

from keys.errors import CodenameError, KdfBusy

Language = Literal["id", "en"]
LANGUAGES: tuple[Language, ...] = ("id", "en")
MIN_ENTROPY_BITS = 85
# Inputs longer than this are refused before any KDF runs: a megabyte "codename" must not cost us
# a megabyte of hashing, and no generated codename comes close (8 words of at most 9 letters).
MAX_CODENAME_CHARS = 256
SALT_BYTES = 32


@dataclass(frozen=True)
class CodenameKdfParams:
    """argon2id cost per derivation (two per login). See docs/protocol.md for the reasoning."""

    time_cost: int = 2
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 1


@cache
def wordlist(language: Language) -> tuple[str, ...]:
    """The generation list for a language; loaded once, validated once."""
    if language == "id":
        text = resources.files("keys").joinpath("wordlists/id.txt").read_text("utf-8")
        words = [line.strip() for line in text.splitlines() if line.strip()]
    elif language == "en":
        # The EFF large list, as shipped by the maintained `diceware` package ("11111\tabacus").
        text = (
            resources.files("diceware").joinpath("wordlists/wordlist_en_eff.txt").read_text("utf-8")
        )
        words = [line.split()[-1] for line in text.splitlines() if line.strip()]
        # Hyphenated entries would normalise into two words and blur the entropy count.
        words = [word for word in words if word.isalpha()]
    else:
        raise ValueError(f"unknown language {language!r}")
    unique = tuple(sorted(set(words)))
    if len(unique) != len(words) or any(normalize(word) != word for word in unique):
        raise ValueError(f"word list {language} has duplicates or unnormalised words")
    return unique


def words_needed(list_size: int) -> int:
    """How many words from a list of this size reach MIN_ENTROPY_BITS."""
    return math.ceil(MIN_ENTROPY_BITS / math.log2(list_size))


def entropy_bits(language: Language) -> float:
    size = len(wordlist(language))
    return words_needed(size) * math.log2(size)


def generate(language: Language = "id") -> str:
    """A fresh codename: words drawn uniformly with the OS CSPRNG, separated by spaces."""
    words = wordlist(language)
    return " ".join(secrets.choice(words) for _ in range(words_needed(len(words))))


_SEPARATORS = re.compile(r"[\s\-_.,;:/\\]+")


def normalize(codename: str) -> str:
    """Fold case, width and separators: 'Kopi-Meja  BUKU' and 'kopi meja buku' are one codename.

    Raises CodenameError for an empty or over-long input; the cap applies before anything else.
    """
    if len(codename) > MAX_CODENAME_CHARS:
        raise CodenameError("codename too long")
    folded = unicodedata.normalize("NFKC", codename).casefold()
    normal = _SEPARATORS.sub(" ", folded).strip()
    if not normal:
        raise CodenameError("empty codename")
    return normal


@dataclass(frozen=True)
class SourceSecrets:
    """What a codename unlocks; held in memory for one request, never stored or logged."""

    lookup_id: str
    private_key: nacl.public.PrivateKey

    @property
    def public_key(self) -> nacl.public.PublicKey:
        return self.private_key.public_key


class CodenameDeriver:
    """Runs the two derivations under a global cap on concurrent KDF work.

    Each derivation holds 64 MiB; the semaphore bounds memory and CPU whatever the request rate,
    and a request that cannot get a slot in `wait_seconds` gets KdfBusy (shown as "busy, retry")
    instead of queueing without limit.
    """

    def __init__(
        self,
        lookup_salt: bytes,
        key_salt: bytes,
        max_concurrent: int = 2,
        wait_seconds: float = 15.0,
        params: CodenameKdfParams | None = None,
        max_waiting: int = 2,
    ) -> None:
        if len(lookup_salt) < 16 or len(key_salt) < 16 or lookup_salt == key_salt:
            raise ValueError("two distinct salts of at least 16 bytes are required")
        self._lookup_salt = lookup_salt
        self._key_salt = key_salt
        self._slots = threading.BoundedSemaphore(max_concurrent)
        # At most `max_waiting` requests queue for a slot; beyond that a request is refused at
        # once. Otherwise a login flood parks every server worker thread in this queue and
        # every page of the site waits behind it.
        self._admitted = threading.BoundedSemaphore(max_concurrent + max_waiting)
        self._wait_seconds = wait_seconds
        self._params = params or CodenameKdfParams()

    def _argon2(self, secret: bytes, salt: bytes) -> bytes:
        return hash_secret_raw(
            secret=secret,
            salt=salt,
            time_cost=self._params.time_cost,
            memory_cost=self._params.memory_cost_kib,
            parallelism=self._params.parallelism,
            hash_len=32,
            type=Type.ID,
        )

    def derive(self, codename: str) -> SourceSecrets:
        normal = normalize(codename).encode("utf-8")
        if not self._admitted.acquire(blocking=False):
            raise KdfBusy("too many codename checks waiting")
        try:
            if not self._slots.acquire(timeout=self._wait_seconds):
                raise KdfBusy("too many codename checks at once")
            try:
                lookup_id = self._argon2(normal, self._lookup_salt).hex()
                seed = self._argon2(normal, self._key_salt)
            finally:
                self._slots.release()
        finally:
            self._admitted.release()
        return SourceSecrets(lookup_id, nacl.public.PrivateKey.from_seed(seed))


def new_salts() -> tuple[bytes, bytes]:
    return secrets.token_bytes(SALT_BYTES), secrets.token_bytes(SALT_BYTES)


def codename_tag(codename: str, process_key: bytes) -> bytes:
    """A keyed hash of the normalised codename, for refusing a message that repeats it.

    The session keeps this tag instead of the codename itself; `process_key` is random per process,
    so the tag is useless outside the running server's memory.
    """
    normal = normalize(codename).encode("utf-8")
    return hashlib.blake2b(normal, key=process_key, digest_size=32, person=b"wbs-cn-tag").digest()
