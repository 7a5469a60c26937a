"""Codenames (docs/protocol.md §6): word lists, entropy, normalisation, derivations, the KDF cap."""

from __future__ import annotations

import hashlib
import math
import threading
from importlib import resources

import pytest
from argon2.low_level import Type, hash_secret_raw
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import codename
from keys.errors import CodenameError, KdfBusy

# Derivation tests that are not about the cost use the cheapest argon2id there is.
CHEAP = codename.CodenameKdfParams(time_cost=1, memory_cost_kib=64, parallelism=1)
LOOKUP_SALT = bytes([0x11]) * 32
KEY_SALT = bytes([0x22]) * 32
SEPARATORS = [" ", "  ", "-", "_", ".", ",", ";", ":", "/", "\\", "\t", "\n", " - ", "\u3000", "--"]


def id_list_present() -> bool:
    return resources.files("keys").joinpath("wordlists/id.txt").is_file()


def need_list(language: codename.Language) -> None:
    if language == "id" and not id_list_present():
        pytest.skip("keys/wordlists/id.txt does not exist yet (being produced separately)")


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- word lists and entropy ---------------------------------------------------------------


@pytest.mark.parametrize("language", codename.LANGUAGES)
def test_entropy_is_at_least_85_bits(language: codename.Language) -> None:
    need_list(language)
    words = codename.wordlist(language)
    count = codename.words_needed(len(words))
    bits = count * math.log2(len(words))
    assert bits >= 85
    assert codename.entropy_bits(language) == pytest.approx(bits)
    # And not one word more than needed: fewer words would fall short.
    assert (count - 1) * math.log2(len(words)) < 85


@pytest.mark.parametrize("language", codename.LANGUAGES)
def test_word_lists_are_clean(language: codename.Language) -> None:
    need_list(language)
    words = codename.wordlist(language)
    assert len(set(words)) == len(words)
    assert len(words) >= 1024
    for word in words:
        assert codename.normalize(word) == word
        assert word.isalpha(), word
        assert " " not in word
    # Generated codenames stay far inside the input cap.
    longest = codename.words_needed(len(words)) * (max(map(len, words)) + 1)
    assert longest < codename.MAX_CODENAME_CHARS


def test_english_list_is_the_eff_list_without_hyphenated_words() -> None:
    words = codename.wordlist("en")
    assert 7700 < len(words) <= 7776
    assert codename.words_needed(len(words)) == 7
    assert {"abacus", "zoom"} <= set(words)


@pytest.mark.parametrize(("size", "words"), [(2, 85), (1296, 9), (2048, 8), (4096, 8), (7776, 7)])
def test_words_needed(size: int, words: int) -> None:
    assert codename.words_needed(size) == words


@pytest.mark.parametrize("language", codename.LANGUAGES)
def test_generated_codenames_normalise_to_themselves(language: codename.Language) -> None:
    need_list(language)
    words = set(codename.wordlist(language))
    seen = set()
    for _ in range(50):
        text = codename.generate(language)
        assert codename.normalize(text) == text
        parts = text.split(" ")
        assert len(parts) == codename.words_needed(len(words))
        assert set(parts) <= words
        seen.add(text)
    assert len(seen) == 50


def test_default_language_is_indonesian() -> None:
    need_list("id")
    assert set(codename.generate().split()) <= set(codename.wordlist("id"))


# --- normalisation --------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(st.sampled_from(codename.wordlist("en")), min_size=1, max_size=8),
    data=st.data(),
)
def test_normalisation_folds_case_separators_and_width(
    words: list[str], data: st.DataObject
) -> None:
    styles = [str.lower, str.upper, str.title, fullwidth, lambda w: fullwidth(w.upper())]
    parts = []
    for word in words:
        style = data.draw(st.sampled_from(styles))
        parts.append(style(word))
    separators = data.draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words) - 1,
                                    max_size=len(words) - 1))  # fmt: skip
    text = parts[0] + "".join(s + p for s, p in zip(separators, parts[1:], strict=True))
    edges = data.draw(st.sampled_from(["", " ", "\n", "-", " \u3000 "]))
    assert codename.normalize(edges + text + edges) == " ".join(words)


@pytest.mark.parametrize("text", ["", " ", "-_.", "\u3000\t\n", ",;:/\\"])
def test_empty_codenames_are_refused(text: str) -> None:
    with pytest.raises(CodenameError, match="empty"):
        codename.normalize(text)


def test_length_cap_applies_before_normalisation() -> None:
    cap = codename.MAX_CODENAME_CHARS
    assert codename.normalize("a" * cap) == "a" * cap
    for text in ("a" * (cap + 1), "\u00e9" * (cap + 1), " " * (cap + 1), "x" * 10_000_000):
        with pytest.raises(CodenameError, match="too long"):
            codename.normalize(text)


class CountingDeriver(codename.CodenameDeriver):
    """A real deriver that also counts argon2id runs (the KDF itself is not replaced)."""

    calls = 0

    def _argon2(self, secret: bytes, salt: bytes) -> bytes:
        type(self).calls += 1
        return super()._argon2(secret, salt)


class HeldDeriver(codename.CodenameDeriver):
    """A real deriver whose KDF waits for a signal, so a test can hold its slots for certain."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()
        self.calls = 0

    def _argon2(self, secret: bytes, salt: bytes) -> bytes:
        self.calls += 1
        self.entered.release()
        if not self.release.wait(10):
            raise RuntimeError("test never released the KDF")
        return super()._argon2(secret, salt)


def _hold(deriver: HeldDeriver, text: str) -> tuple[threading.Thread, list[codename.SourceSecrets]]:
    results: list[codename.SourceSecrets] = []
    thread = threading.Thread(target=lambda: results.append(deriver.derive(text)))
    thread.start()
    assert deriver.entered.acquire(timeout=10), "the holder never reached the KDF"
    return thread, results


def test_over_long_input_is_refused_before_any_kdf() -> None:
    """derive() of 10 MB refuses with CodenameError; no KDF runs and no KDF slot is even asked
    for: with the only slot held and no waiting allowed, asking would have raised KdfBusy."""
    counting = CountingDeriver(LOOKUP_SALT, KEY_SALT, params=CHEAP)
    with pytest.raises(CodenameError, match="too long"):
        counting.derive("kopi " * 2_000_000)
    assert CountingDeriver.calls == 0

    held = HeldDeriver(LOOKUP_SALT, KEY_SALT, max_concurrent=1, wait_seconds=0, params=CHEAP)
    thread, _ = _hold(held, "kopi meja")
    try:
        with pytest.raises(CodenameError, match="too long"):
            held.derive("x" * 10_000_000)
        with pytest.raises(CodenameError, match="empty"):
            held.derive(" - ")
        with pytest.raises(KdfBusy):
            held.derive("kopi meja")  # the control: a valid codename does ask for the slot
    finally:
        held.release.set()
        thread.join(10)
    assert held.calls == 1  # the holder's one derivation, nobody else's


# --- derivations ----------------------------------------------------------------------------


def test_derivations_are_deterministic_and_normalised() -> None:
    first = codename.CodenameDeriver(LOOKUP_SALT, KEY_SALT, params=CHEAP)
    second = codename.CodenameDeriver(LOOKUP_SALT, KEY_SALT, params=CHEAP)
    base = first.derive("kopi meja buku sawah")
    assert len(base.lookup_id) == 64 and int(base.lookup_id, 16) >= 0
    for variant in (
        "kopi meja buku sawah",
        "KOPI-Meja_buku  sawah",
        fullwidth("KOPI meja buku sawah"),
    ):
        again = second.derive(variant)
        assert again.lookup_id == base.lookup_id
        assert bytes(again.private_key) == bytes(base.private_key)
        assert bytes(again.public_key) == bytes(base.public_key)
    other = first.derive("kopi meja buku sawit")
    assert other.lookup_id != base.lookup_id
    assert bytes(other.public_key) != bytes(base.public_key)


def _cheap_argon2(normal: bytes, salt: bytes) -> bytes:
    return hash_secret_raw(normal, salt, time_cost=1, memory_cost=64, parallelism=1,
                           hash_len=32, type=Type.ID)  # fmt: skip


def _blake(master: bytes, salt: bytes, person: bytes) -> bytes:
    return hashlib.blake2b(master, key=salt, digest_size=32, person=person).digest()


@settings(max_examples=4, deadline=None)
@given(
    text=st.text(alphabet="abcdefghij -", min_size=1, max_size=30).filter(lambda t: t.strip(" -"))
)
def test_derivations_follow_the_spec(text: str) -> None:
    """Scheme 2: master = argon2id(normal, lookup_salt); lookup_id = hex(BLAKE2b(master,
    key=lookup_salt, person="wbs-cn-lookup")); the key pair comes from BLAKE2b(master,
    key=key_salt, person="wbs-cn-seed") as a crypto_box seed (secret = SHA-512(seed)[:32])."""
    secrets_ = codename.CodenameDeriver(LOOKUP_SALT, KEY_SALT, params=CHEAP).derive(text)
    master = _cheap_argon2(codename.normalize(text).encode(), LOOKUP_SALT)
    assert secrets_.lookup_id == _blake(master, LOOKUP_SALT, b"wbs-cn-lookup").hex()
    seed = _blake(master, KEY_SALT, b"wbs-cn-seed")
    assert bytes(secrets_.private_key) == hashlib.sha512(seed).digest()[:32]


def test_scheme_1_derivations_still_follow_their_spec() -> None:
    """Instances made before scheme 2 keep it: lookup_id = hex(argon2id(normal, lookup_salt)),
    key seed = argon2id(normal, key_salt), at 64 MiB unless told otherwise."""
    text = "kopi meja buku sawah"
    deriver = codename.CodenameDeriver(LOOKUP_SALT, KEY_SALT, params=CHEAP, scheme=1)
    secrets_ = deriver.derive(text)
    normal = codename.normalize(text).encode()
    assert secrets_.lookup_id == _cheap_argon2(normal, LOOKUP_SALT).hex()
    seed = _cheap_argon2(normal, KEY_SALT)
    assert bytes(secrets_.private_key) == hashlib.sha512(seed).digest()[:32]
    default = codename.CodenameDeriver(LOOKUP_SALT, KEY_SALT, scheme=1)
    assert default.params == codename.SCHEME_1_PARAMS
    assert default.params.memory_cost_kib == 64 * 1024
    with pytest.raises(ValueError, match="scheme"):
        codename.CodenameDeriver(LOOKUP_SALT, KEY_SALT, scheme=3)  # type: ignore[arg-type]


def test_scheme_2_runs_argon2id_once_per_derivation() -> None:
    counting = CountingDeriver(LOOKUP_SALT, KEY_SALT, params=CHEAP)
    CountingDeriver.calls = 0
    counting.derive("kopi meja buku sawah")
    assert CountingDeriver.calls == 1
    legacy = CountingDeriver(LOOKUP_SALT, KEY_SALT, params=CHEAP, scheme=1)
    legacy.derive("kopi meja buku sawah")
    assert CountingDeriver.calls == 3


def test_lookup_and_key_salts_are_separated() -> None:
    text = "tulip ladder ocean mosaic zebra pencil glider"
    normal = codename.CodenameDeriver(LOOKUP_SALT, KEY_SALT, params=CHEAP).derive(text)
    swapped = codename.CodenameDeriver(KEY_SALT, LOOKUP_SALT, params=CHEAP).derive(text)
    assert swapped.lookup_id != normal.lookup_id
    assert bytes(swapped.public_key) != bytes(normal.public_key)
    # The stored lookup id is not the key seed, nor does it give it: the seed needs the key salt.
    lookup = bytes.fromhex(normal.lookup_id)
    assert hashlib.sha512(lookup).digest()[:32] != bytes(normal.private_key)
    # Another key salt changes the key and nothing else; another lookup salt changes both.
    changed = codename.CodenameDeriver(LOOKUP_SALT, bytes([0x23]) * 32, params=CHEAP).derive(text)
    assert changed.lookup_id == normal.lookup_id
    assert bytes(changed.public_key) != bytes(normal.public_key)
    moved = codename.CodenameDeriver(bytes([0x12]) * 32, KEY_SALT, params=CHEAP).derive(text)
    assert moved.lookup_id != normal.lookup_id
    assert bytes(moved.public_key) != bytes(normal.public_key)


@pytest.mark.parametrize(
    ("lookup", "key"),
    [(LOOKUP_SALT, LOOKUP_SALT), (bytes(15), KEY_SALT), (LOOKUP_SALT, bytes(15)), (b"", b"")],
)
def test_bad_salts_are_refused(lookup: bytes, key: bytes) -> None:
    with pytest.raises(ValueError, match="distinct salts"):
        codename.CodenameDeriver(lookup, key)


def test_new_salts() -> None:
    lookup, key = codename.new_salts()
    assert len(lookup) == len(key) == codename.SALT_BYTES == 32
    assert lookup != key
    codename.CodenameDeriver(lookup, key)


def test_default_kdf_parameters_are_the_documented_ones() -> None:
    # Scheme 2's argon2id cost: above SecureDrop's scrypt (N=2^14, r=8: 16 MiB) in memory.
    assert codename.CodenameKdfParams() == codename.CodenameKdfParams(
        time_cost=2, memory_cost_kib=19 * 1024, parallelism=1
    )
    assert codename.CodenameKdfParams().memory_cost_kib * 1024 > 128 * 8 * 2**14
    assert codename.CURRENT_SCHEME == 2


# --- the concurrency cap --------------------------------------------------------------------


def test_second_concurrent_derivation_is_busy() -> None:
    deriver = HeldDeriver(LOOKUP_SALT, KEY_SALT, max_concurrent=1, wait_seconds=0.01, params=CHEAP)
    thread, results = _hold(deriver, "kopi meja")
    try:
        with pytest.raises(KdfBusy):
            deriver.derive("buku sawah")
    finally:
        deriver.release.set()
        thread.join(10)
    assert len(results) == 1
    # The slot is free again once the first derivation has finished.
    assert deriver.derive("kopi meja").lookup_id == results[0].lookup_id


def test_cap_of_two_allows_two_and_refuses_a_third() -> None:
    deriver = HeldDeriver(LOOKUP_SALT, KEY_SALT, max_concurrent=2, wait_seconds=0.01, params=CHEAP)
    first, results = _hold(deriver, "kopi meja")
    second, more = _hold(deriver, "buku sawah")
    try:
        with pytest.raises(KdfBusy):
            deriver.derive("pintu hujan")
    finally:
        deriver.release.set()
        first.join(10)
        second.join(10)
    assert len(results) == len(more) == 1


def test_a_failed_derivation_releases_its_slot() -> None:
    class Failing(codename.CodenameDeriver):
        def _argon2(self, secret: bytes, salt: bytes) -> bytes:
            raise MemoryError("argon2 could not allocate")

    deriver = Failing(LOOKUP_SALT, KEY_SALT, max_concurrent=1, wait_seconds=0, params=CHEAP)
    for _ in range(3):
        with pytest.raises(MemoryError):
            deriver.derive("kopi meja")


# --- the codename tag -----------------------------------------------------------------------


def test_codename_tag() -> None:
    key = bytes([0x33]) * 32
    tag = codename.codename_tag("kopi meja buku", key)
    assert len(tag) == 32
    for variant in ("KOPI-MEJA-BUKU", " kopi  meja\tbuku ", fullwidth("Kopi Meja Buku")):
        assert codename.codename_tag(variant, key) == tag
    assert codename.codename_tag("kopi meja buka", key) != tag
    assert codename.codename_tag("kopi meja buku", bytes(32)) != tag
    with pytest.raises(CodenameError):
        codename.codename_tag("a" * 1000, key)


def test_derivations_run_on_their_own_threads_one_per_slot() -> None:
    """However many server threads ask, argon2 runs on at most `max_concurrent` threads of the
    deriver's own: the C allocator keeps a freed argon2 buffer per thread that used one, so the
    KDF's memory is bounded by the slots, not by the server's threads."""
    seen: set[threading.Thread] = set()  # threads, not idents: an ident is reused once its
    # thread has ended, so a slot could wear the ident of a caller that is already gone

    class Recording(codename.CodenameDeriver):
        def _argon2(self, secret: bytes, salt: bytes) -> bytes:
            seen.add(threading.current_thread())
            return super()._argon2(secret, salt)

    deriver = Recording(LOOKUP_SALT, KEY_SALT, max_concurrent=2, max_waiting=16, params=CHEAP)
    callers = [threading.Thread(target=deriver.derive, args=(f"kopi meja {n}",))
               for n in range(12)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(10)
    assert 1 <= len(seen) <= 2
    assert not seen & set(callers)


@pytest.mark.parametrize("language", codename.LANGUAGES)
def test_one_draw_gives_every_word_sequence_exactly_once(
    language: codename.Language, monkeypatch: pytest.MonkeyPatch
) -> None:
    """generate() reads one CSPRNG draw below size**count as `count` base-size digits: a
    bijection onto word sequences, so uniform draws give uniform codenames."""
    need_list(language)
    words = codename.wordlist(language)
    size, count = len(words), codename.words_needed(len(words))
    asked: list[int] = []
    indices = [(7 * position + 3) % size for position in range(count)]
    number = sum(index * size**position for position, index in enumerate(indices))

    def draw(bound: int) -> int:
        asked.append(bound)
        return number

    monkeypatch.setattr(codename.secrets, "randbelow", draw)
    assert codename.generate(language).split() == [words[i] for i in indices]
    assert asked == [size**count]
    monkeypatch.setattr(codename.secrets, "randbelow", lambda bound: bound - 1)
    assert codename.generate(language).split() == [words[-1]] * count
