"""Codenames: generation from word lists, normalisation, and the derivation of a source's secrets.

A codename is the reporter's only credential. From it the server derives, with two independent
per-instance secret salts (docs/protocol.md, 6.3; derivation scheme 2):

    master     = argon2id(normalised codename, lookup_salt)          one memory-hard run
    lookup_id  = BLAKE2b(master, key=lookup_salt, "wbs-cn-lookup")   finds the source's rows
    key_seed   = BLAKE2b(master, key=key_salt, "wbs-cn-seed")        seeds the source's X25519 pair

Neither output reveals the other, and without the salts (kept in the data directory, never in the
database) a copy of the database alone cannot be tested against guessed codenames at all.
Instances created before scheme 2 keep scheme 1 (two argon2id runs, one per salt), recorded in
their configuration, so that every codename already handed out still opens its reports.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import nacl.public
from argon2.low_level import Type, hash_secret_raw

from keys.admission import FifoGate
from keys.errors import CodenameError

Language = Literal["id", "en"]
LANGUAGES: tuple[Language, ...] = ("id", "en")
MIN_ENTROPY_BITS = 85
# Inputs longer than this are refused before any KDF runs: a megabyte "codename" must not cost us
# a megabyte of hashing, and no generated codename comes close (8 words of at most 9 letters).
MAX_CODENAME_CHARS = 256
SALT_BYTES = 32


Scheme = Literal[1, 2]
CURRENT_SCHEME: Scheme = 2


@dataclass(frozen=True)
class CodenameKdfParams:
    """argon2id cost of one derivation (scheme 2: one per login). The reasoning is in
    docs/protocol.md, 6.3: the codename's entropy stops guessing; this cost is defence in depth
    that must stay cheap enough to serve logins under a flood."""

    time_cost: int = 2
    memory_cost_kib: int = 19 * 1024
    parallelism: int = 1


# Scheme 1 ran argon2id twice at this cost; instances created under it keep it.
SCHEME_1_PARAMS = CodenameKdfParams(time_cost=2, memory_cost_kib=64 * 1024, parallelism=1)


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
    size, count = len(words), words_needed(len(words))
    # One draw for the whole codename, read as `count` digits in base `size`: uniform, like
    # `count` separate draws, with one call into the OS CSPRNG instead of one per word.
    number = secrets.randbelow(size**count)
    chosen = []
    for _ in range(count):
        number, index = divmod(number, size)
        chosen.append(words[index])
    return " ".join(chosen)


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
    """Derives a source's secrets from a codename, with the KDF behind a first-come,
    first-served gate (keys/admission.py).

    Each derivation holds its argon2id memory; `max_concurrent` bounds memory and CPU whatever the
    request rate. A request that finds every slot busy waits its turn, up to `wait_seconds`,
    behind at most `max_waiting` others; beyond either bound it gets KdfBusy ("busy, retry").
    The bounds also keep a flood from parking every server thread in the queue.

    The derivations run on threads of their own, one per slot. The C allocator keeps a freed
    argon2 buffer in the memory pool of the thread that used it, so derivations run on every
    server thread would hold one buffer per server thread (measured: 8 x 19 MiB), not per slot.
    """

    def __init__(
        self,
        lookup_salt: bytes,
        key_salt: bytes,
        max_concurrent: int = 2,
        wait_seconds: float = 5.0,
        params: CodenameKdfParams | None = None,
        max_waiting: int = 4,
        scheme: Scheme = CURRENT_SCHEME,
    ) -> None:
        if len(lookup_salt) < 16 or len(key_salt) < 16 or lookup_salt == key_salt:
            raise ValueError("two distinct salts of at least 16 bytes are required")
        if scheme not in (1, 2):
            raise ValueError(f"unknown codename derivation scheme {scheme!r}")
        self._lookup_salt = lookup_salt
        self._key_salt = key_salt
        self._gate = FifoGate(max_concurrent, max_waiting, wait_seconds)
        self._workers = ThreadPoolExecutor(max_concurrent, thread_name_prefix="codename-kdf")
        self._scheme = scheme
        self._params = params or (SCHEME_1_PARAMS if scheme == 1 else CodenameKdfParams())

    @property
    def params(self) -> CodenameKdfParams:
        return self._params

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
        # The length cap and normalisation come first: a refused input never queues for the KDF.
        normal = normalize(codename).encode("utf-8")
        with self._gate.slot():
            # The gate admits at most as many as there are workers: this never queues.
            return self._workers.submit(self._derive, normal).result()

    def _derive(self, normal: bytes) -> SourceSecrets:
        if self._scheme == 1:
            lookup = self._argon2(normal, self._lookup_salt)
            seed = self._argon2(normal, self._key_salt)
        else:
            master = self._argon2(normal, self._lookup_salt)
            lookup = _label(master, self._lookup_salt, b"wbs-cn-lookup")
            seed = _label(master, self._key_salt, b"wbs-cn-seed")
        return SourceSecrets(lookup.hex(), nacl.public.PrivateKey.from_seed(seed))


def _label(master: bytes, salt: bytes, person: bytes) -> bytes:
    """One independent 32-byte output of the master secret, keyed by a per-instance salt."""
    return hashlib.blake2b(master, key=salt, digest_size=32, person=person).digest()


def new_salts() -> tuple[bytes, bytes]:
    return secrets.token_bytes(SALT_BYTES), secrets.token_bytes(SALT_BYTES)


@cache
def _word_set(language: Language) -> frozenset[str]:
    return frozenset(wordlist(language))


def _fold(text: str) -> list[str]:
    """The words of `text` as normalisation sees them (no length cap: any text may be searched)."""
    return _SEPARATORS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split()


def contains_codename(text: str, tag: bytes, process_key: bytes) -> bool:
    """Whether `text` holds, anywhere, a codename whose tag is `tag`: any run of consecutive
    words, in either word list, as long as a codename of that list, in any case, width or
    separators. Only runs made entirely of list words are hashed, so ordinary prose costs little.
    """
    words = _fold(text)
    for language in LANGUAGES:
        length = words_needed(len(wordlist(language)))
        known = _word_set(language)
        run_start = 0
        for index, word in enumerate([*words, ""]):
            if word in known:
                continue
            for start in range(run_start, index - length + 1):
                candidate = " ".join(words[start : start + length]).encode("utf-8")
                if hmac.compare_digest(_tag(candidate, process_key), tag):
                    return True
            run_start = index + 1
    return False


def _tag(normal: bytes, process_key: bytes) -> bytes:
    return hashlib.blake2b(normal, key=process_key, digest_size=32, person=b"wbs-cn-tag").digest()


def codename_tag(codename: str, process_key: bytes) -> bytes:
    """A keyed hash of the normalised codename, for refusing a message that repeats it.

    The session keeps this tag instead of the codename itself; `process_key` is random per process,
    so the tag is useless outside the running server's memory.
    """
    return _tag(normalize(codename).encode("utf-8"), process_key)
