"""The committed Indonesian codename word list and the filters of the script that derives it.

The script (scripts/make_wordlist_id.py) is loaded from its path; it imports wordfreq only
inside main(), so these tests need neither wordfreq nor network access.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "scripts" / "make_wordlist_id.py"
WORDLIST = REPO_ROOT / "keys" / "wordlists" / "id.txt"

# A sample of what must never be part of a codename: frightening, accusing, or looking like a
# report itself.
BLOCKED_SAMPLE = frozenset(
    """
    mati bunuh korupsi suap penjara polisi tangkap curi maling bom senjata darah seks
    lapor laporan saksi pelapor rahasia
    """.split()
)


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_wordlist_id", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture(scope="module")
def text() -> str:
    return WORDLIST.read_bytes().decode("utf-8")


@pytest.fixture(scope="module")
def words(text: str) -> list[str]:
    return text.split("\n")[:-1]


def test_file_format(text: str) -> None:
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    assert "\r" not in text
    assert text.isascii()


def test_size_gives_enough_entropy(words: list[str]) -> None:
    assert len(words) == 4096
    assert 8 * math.log2(len(words)) >= 85


def test_words_are_sorted_unique_lowercase_ascii(words: list[str]) -> None:
    assert words == sorted(set(words))
    bad = [word for word in words if not re.fullmatch(r"[a-z]{3,8}", word)]
    assert bad == []


def test_no_nya_suffix(words: list[str]) -> None:
    assert [word for word in words if word.endswith("nya")] == []


def test_blocked_words_absent(script: ModuleType, words: list[str]) -> None:
    present = set(words)
    assert BLOCKED_SAMPLE & present == set()
    assert BLOCKED_SAMPLE <= script.BLOCKLIST
    assert script.BLOCKLIST & present == set()


def test_every_listed_word_passes_the_filters(script: ModuleType, words: list[str]) -> None:
    known = frozenset(words)
    rejected = {word: script.reject_reason(word, known=known) for word in words}
    assert {word: why for word, why in rejected.items() if why is not None} == {}


@pytest.mark.parametrize(
    ("word", "zipf_id", "zipf_en", "known", "reason"),
    [
        ("korupsi", 5.0, 0.0, (), "blocklist"),
        ("polisi", 5.0, 0.0, (), "blocklist"),
        ("rahasia", 5.0, 0.0, (), "blocklist"),
        ("widodo", 5.0, 0.0, (), "blocklist"),
        ("sih", 5.0, 0.0, (), "blocklist"),
        ("cd", 5.0, 0.0, (), "shape"),
        ("microsoft", 5.0, 0.0, (), "shape"),
        ("Rumah", 5.0, 0.0, (), "shape"),
        ("kupu-kupu", 5.0, 0.0, (), "shape"),
        ("jum'at", 5.0, 0.0, (), "shape"),
        ("rumahnya", 5.0, 0.0, (), "suffix-nya"),
        ("apakah", 5.0, 0.0, ("apa",), "particle"),
        ("rumahku", 5.0, 0.0, ("rumah",), "possessive"),
        ("dpr", 5.0, 0.0, (), "no-vowel"),
        ("alex", 5.0, 0.0, (), "spelling"),
        ("allah", 5.0, 0.0, (), "spelling"),
        ("kevin", 4.0, 4.2, (), "english"),
        ("game", 4.6, 5.3, (), "english"),
        ("air", 5.4, 5.2, (), "english"),
    ],
)
def test_filter_rejects(
    script: ModuleType,
    word: str,
    zipf_id: float,
    zipf_en: float,
    known: tuple[str, ...],
    reason: str,
) -> None:
    assert script.reject_reason(word, zipf_id, zipf_en, frozenset(known)) == reason


@pytest.mark.parametrize(
    ("word", "known"),
    [
        ("rumah", ()),
        ("sekolah", ("rumah",)),  # ends in -lah, but "seko" is not a word
        ("ulah", ("u",)),  # the remainder is too short to be a stem
        ("buku", ("bu",)),
        ("tinggi", ()),  # "ngg" is the one doubled consonant Indonesian spells
        ("kopi", ()),
    ],
)
def test_filter_accepts(script: ModuleType, word: str, known: tuple[str, ...]) -> None:
    assert script.reject_reason(word, 5.0, 1.0, frozenset(known)) is None


def test_select_words_is_deterministic_and_sorted(script: ModuleType) -> None:
    ranked = ["yang", "polisi", "rumahnya", "kopi", "game", "meja", "buku", "air"]
    zipf_id = dict.fromkeys(ranked, 5.0)
    zipf_en = {"game": 5.5, "air": 5.2}
    chosen, examined, reasons = script.select_words(ranked, zipf_id, zipf_en, size=3)
    assert chosen == ["kopi", "meja", "yang"]
    assert examined == 6
    assert reasons == {"blocklist": 1, "suffix-nya": 1, "english": 1}
    with pytest.raises(SystemExit):
        script.select_words(ranked, zipf_id, zipf_en, size=6)
