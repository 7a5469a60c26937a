"""Register numbers and bundle records (docs/protocol.md §7, §9)."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from babel.support import Translations

from dropbox import labels as site_labels
from dropbox.i18n import TRANSLATIONS as SITE_TRANSLATIONS
from journalist_console import labels as console_labels
from journalist_console.web.app import TRANSLATIONS as CONSOLE_TRANSLATIONS
from keys import records
from keys.records import RecordError

ALPHABET = records.REGNO_ALPHABET
BODIES = ["00000000", "7K3MQ2XP", "ABCDEFGH", "YYYYYYYY", "0123456Y", "JKMNPQRS", "Y0Y0Y0Y0"]


def compact(regno: str) -> str:
    return regno.replace("WBS-", "").replace("-", "")


def expand(chars: str) -> str:
    return f"WBS-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def regno_of(body: str) -> str:
    for check in ALPHABET:
        if records.normalize_regno(expand(body + check)):
            return expand(body + check)
    raise AssertionError(f"no check character for {body}")


# --- register numbers -----------------------------------------------------------------------


def test_alphabet_has_31_unambiguous_symbols() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set("ILOUZ") & set(ALPHABET)


def test_generated_register_numbers() -> None:
    seen = set()
    for _ in range(2000):
        regno = records.new_regno()
        assert records.REGNO_PATTERN.match(regno), regno
        assert records.normalize_regno(regno) == regno
        seen.add(regno)
    assert len(seen) == 2000  # 39.6 bits: a collision here would be a broken generator


def test_every_body_has_exactly_one_check_character() -> None:
    for body in BODIES:
        valid = [c for c in ALPHABET + "Z" if records.normalize_regno(expand(body + c))]
        assert len(valid) == 1


def _sample_regnos() -> list[str]:
    return [regno_of(body) for body in BODIES] + [records.new_regno() for _ in range(25)]


def test_every_single_substitution_is_caught() -> None:
    """Exhaustive over all 9 positions (body and check) and every other symbol, including the
    Z that is not in the alphabet (0 <-> Z went unnoticed while Z was a body symbol)."""
    for regno in _sample_regnos():
        chars = compact(regno)
        for position in range(9):
            for symbol in ALPHABET + "Z":
                if symbol == chars[position]:
                    continue
                typo = chars[:position] + symbol + chars[position + 1 :]
                assert records.normalize_regno(expand(typo)) is None, (regno, typo)


def test_every_adjacent_transposition_is_caught() -> None:
    """Every swap of neighbours in the body, and of the last body character with the check."""
    for regno in _sample_regnos():
        chars = compact(regno)
        for position in range(8):
            if chars[position] == chars[position + 1]:
                continue
            swapped = (
                chars[:position] + chars[position + 1] + chars[position] + chars[position + 2 :]
            )
            assert records.normalize_regno(expand(swapped)) is None, (regno, swapped)


def test_zero_and_z_are_not_confused() -> None:
    regno = regno_of("00000000")
    assert regno == "WBS-0000-0000-0"
    assert records.normalize_regno("WBS-Z000-0000-0") is None
    assert records.normalize_regno("WBS-0000-000Z-0") is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("wbs-7k3m-q2xp-m", "WBS-7K3M-Q2XP-M"),
        ("  WBS 7K3M Q2XP M ", "WBS-7K3M-Q2XP-M"),
        ("7K3MQ2XPM", "WBS-7K3M-Q2XP-M"),
        ("7k3m-q2xp-m", "WBS-7K3M-Q2XP-M"),
        ("WBS-OOll-OOOO-7", "WBS-0011-0000-7"),
        ("WBS-0OIL-0000-7", "WBS-0011-0000-7"),
        ("wbs-7k3m-q2xp-n", None),
        ("WBS-7K3M-Q2X-M", None),
        ("WBS-7K3M-Q2XPP-M", None),
        ("WBS-7K3M-Q2XP-M" + " " * 30, None),
        ("WBS-7K3M-Q2XP-*", None),
        ("WBS-7K3M-Q2XP-\u041c", None),
        ("", None),
        ("WBS", None),
    ],
)
def test_register_number_normalisation(typed: str, expected: str | None) -> None:
    assert records.normalize_regno(typed) == expected


def test_u_is_read_as_v() -> None:
    regno = regno_of("VVVVVVVV")
    assert records.normalize_regno(regno.replace("V", "U").replace("WBS", "wbs")) == regno


def test_statuses_and_categories_are_the_documented_ones() -> None:
    assert list(records.STATUSES) == [
        "received", "verifying", "needs_info", "investigating", "forwarded", "closed", "rejected",
    ]  # fmt: skip
    assert list(records.CATEGORIES) == [
        "corruption", "bribery", "extortion", "embezzlement", "procurement_fraud",
        "conflict_of_interest", "abuse_of_authority", "code_of_conduct", "poor_service", "other",
    ]  # fmt: skip
    assert set(records.RELATIONS) == {"employee", "public"}
    assert records.FINAL_STATUSES <= set(records.STATUSES)
    # What people read for them, in both languages, on both sides (each interface's catalog).
    for labels in (console_labels, site_labels):
        assert set(labels.STATUS_LABELS) == set(records.STATUSES)
        assert set(labels.CATEGORY_LABELS) == set(records.CATEGORIES)
        assert set(labels.RELATION_LABELS) == set(records.RELATIONS)
    named = [*console_labels.STATUS_LABELS.values(), *console_labels.CATEGORY_LABELS.values()]
    for directory in (SITE_TRANSLATIONS, CONSOLE_TRANSLATIONS):
        indonesian = Translations.load(str(directory), ["id"]).ugettext
        for label in named:
            assert str(label) and indonesian(label.msgid) not in ("", label.msgid)


def test_ids_and_days() -> None:
    ids = {records.new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(records.today()) == 10


# --- bundle bodies --------------------------------------------------------------------------

REGNO = regno_of("7K3MQ2XP")
OTHER_REGNO = regno_of("ABCDEFGH")
BAD_CHECK = REGNO[:-1] + ("1" if REGNO[-1] == "0" else "0")
SOURCE_LINE = "wbs-recipient-v1:UTQJFEVWKHBHROLXFRLJ6X5JXMJ5SBVUNK3IZHPZ3QVUICPYUIEWQ36R2Q"


def server_body() -> dict[str, Any]:
    return {
        "instance": "0" * 32,
        "sequence": 3,
        "created_day": "2025-01-15",
        "sources": [
            {"source_id": "a" * 32, "public_key": SOURCE_LINE, "designation": "brave otter",
             "created_day": "2025-01-14"},
            {"source_id": "b" * 32, "public_key": SOURCE_LINE,
             "designation": "quiet red heron", "created_day": "2024-12-31"},
        ],
        "reports": [
            {"regno": REGNO, "source_id": "a" * 32, "received_day": "2025-01-14"},
            {"regno": OTHER_REGNO, "source_id": "b" * 32, "received_day": "2025-01-01"},
        ],
        "entries": [
            {"entry_id": "c" * 32, "kind": "report", "regno": REGNO, "day": "2025-01-14",
             "item": "e1", "parent": None},
            {"entry_id": "d" * 32, "kind": "file", "regno": REGNO, "day": "2025-01-14",
             "item": "e2", "parent": "c" * 32},
            {"entry_id": "e" * 32, "kind": "followup", "regno": OTHER_REGNO, "day": "2025-01-15",
             "item": "e3", "parent": None},
        ],
    }  # fmt: skip


SERVER_ITEMS = {"e1", "e2", "e3"}


def console_body() -> dict[str, Any]:
    return {
        "instance": "f" * 32,
        "sequence": 1,
        "created_day": "2025-01-16",
        "responses": [
            {"response_id": "1" * 32, "kind": "status", "regno": REGNO, "day": "2025-01-16",
             "item": "r1", "closes_report": False},
            {"response_id": "2" * 32, "kind": "reply", "regno": REGNO, "day": "2025-01-16",
             "item": "r2"},
            {"response_id": "3" * 32, "kind": "status", "regno": OTHER_REGNO,
             "day": "2025-01-16", "item": "r3", "closes_report": True},
        ],
        "acks": [{"entry_id": "c" * 32, "sha256": "e" * 64},
                 {"entry_id": "d" * 32, "sha256": "f" * 64}],
    }  # fmt: skip


CONSOLE_ITEMS = {"r1", "r2", "r3"}

Mutation = Callable[[dict[str, Any]], None]


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        target: Any = body
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        target: Any = body
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return mutate


BAD_HEADERS: list[tuple[str, Mutation]] = [
    ("instance missing", _delete(("instance",))),
    ("instance short", _set(("instance",), "0" * 31)),
    ("instance upper", _set(("instance",), "A" * 32)),
    ("instance int", _set(("instance",), 0)),
    ("sequence missing", _delete(("sequence",))),
    ("sequence 0", _set(("sequence",), 0)),
    ("sequence negative", _set(("sequence",), -1)),
    ("sequence string", _set(("sequence",), "3")),
    ("sequence bool", _set(("sequence",), True)),
    ("sequence float", _set(("sequence",), 3.0)),
    ("day missing", _delete(("created_day",))),
    ("day impossible", _set(("created_day",), "2025-02-30")),
    ("day with time", _set(("created_day",), "2025-01-15T10:00:00")),
    ("day format", _set(("created_day",), "15-01-2025")),
    ("day list", _set(("created_day",), ["2025-01-15"])),
]

BAD_SERVER: list[tuple[str, Mutation]] = [
    *BAD_HEADERS,
    ("sources not list", _set(("sources",), {"a": 1})),
    ("source not object", _set(("sources", 0), "a" * 32)),
    ("source id", _set(("sources", 0, "source_id"), "nope")),
    ("source id missing", _delete(("sources", 0, "source_id"))),
    ("source key type", _set(("sources", 0, "public_key"), SOURCE_LINE.replace("recip", "ver"))),
    ("source key int", _set(("sources", 0, "public_key"), 5)),
    ("designation one word", _set(("sources", 0, "designation"), "otter")),
    ("designation upper", _set(("sources", 0, "designation"), "Brave Otter")),
    ("designation four words", _set(("sources", 0, "designation"), "a bb cc dd")),
    ("designation missing", _delete(("sources", 0, "designation"))),
    ("source day", _set(("sources", 0, "created_day"), "yesterday")),
    ("reports not list", _set(("reports",), "x")),
    ("regno bad check", _set(("reports", 0, "regno"), BAD_CHECK)),
    ("regno lower", _set(("reports", 0, "regno"), REGNO.lower())),
    ("regno list", _set(("reports", 0, "regno"), [REGNO])),
    ("report unlisted source", _set(("reports", 0, "source_id"), "9" * 32)),
    ("report source list", _set(("reports", 0, "source_id"), ["a" * 32])),
    ("report day", _delete(("reports", 0, "received_day"))),
    ("entries not list", _set(("entries",), None)),
    ("entry not object", _set(("entries", 0), [])),
    ("entry id", _set(("entries", 0, "entry_id"), "c" * 31)),
    ("entry kind", _set(("entries", 0, "kind"), "reply")),
    ("entry kind list", _set(("entries", 0, "kind"), ["report"])),
    ("entry kind missing", _delete(("entries", 0, "kind"))),
    ("entry unlisted report", _set(("entries", 0, "regno"), regno_of("YYYYYYYY"))),
    ("entry regno dict", _set(("entries", 0, "regno"), {"regno": REGNO})),
    ("entry day", _set(("entries", 1, "day"), 20250114)),
    ("entry missing item", _set(("entries", 0, "item"), "e9")),
    ("entry item list", _set(("entries", 0, "item"), ["e1"])),
    ("entry item missing", _delete(("entries", 0, "item"))),
    ("entry parent", _set(("entries", 1, "parent"), "c")),
    ("entry parent int", _set(("entries", 1, "parent"), 1)),
    ("duplicate entry ids", _set(("entries", 1, "entry_id"), "c" * 32)),
]  # fmt: skip

BAD_CONSOLE: list[tuple[str, Mutation]] = [
    *BAD_HEADERS,
    ("responses not list", _set(("responses",), "x")),
    ("response not object", _set(("responses", 0), 1)),
    ("response id", _set(("responses", 0, "response_id"), "1" * 33)),
    ("response id missing", _delete(("responses", 0, "response_id"))),
    ("response kind", _set(("responses", 0, "kind"), "report")),
    ("response kind list", _set(("responses", 0, "kind"), ["status"])),
    ("response regno", _set(("responses", 0, "regno"), "WBS-7K3M-Q2XP")),
    ("response regno missing", _delete(("responses", 0, "regno"))),
    ("response day", _set(("responses", 0, "day"), "2025-13-01")),
    ("response missing item", _set(("responses", 0, "item"), "e1")),
    ("response item dict", _set(("responses", 0, "item"), {"r1": 1})),
    ("closes_report int", _set(("responses", 0, "closes_report"), 1)),
    ("closes_report string", _set(("responses", 0, "closes_report"), "false")),
    ("acks not list", _set(("acks",), "c" * 32)),
    ("ack bare id", _set(("acks", 0), "c" * 32)),
    ("ack int", _set(("acks", 1), 7)),
    ("ack bad id", _set(("acks", 0, "entry_id"), "C" * 32)),
    ("ack bad hash", _set(("acks", 0, "sha256"), "E" * 64)),
    ("ack short hash", _set(("acks", 1, "sha256"), "f" * 63)),
    ("ack extra field", _set(("acks", 1, "extra"), 1)),
]


def test_good_bodies_are_accepted() -> None:
    records.check_server_body(server_body(), SERVER_ITEMS)
    records.check_console_body(console_body(), CONSOLE_ITEMS)
    no_entries = server_body()
    no_entries["entries"] = []
    records.check_server_body(no_entries, set())
    no_reports = dict(no_entries, reports=[])
    records.check_server_body(no_reports, set())
    empty = {"instance": "0" * 32, "sequence": 1, "created_day": "2025-01-01"}
    records.check_server_body(dict(empty), set())
    records.check_console_body(dict(empty), set())


@pytest.mark.parametrize(("name", "mutate"), BAD_SERVER, ids=[n for n, _ in BAD_SERVER])
def test_malformed_server_bodies_are_refused(name: str, mutate: Mutation) -> None:
    body = copy.deepcopy(server_body())
    mutate(body)
    with pytest.raises(RecordError):
        records.check_server_body(body, SERVER_ITEMS)


@pytest.mark.parametrize(("name", "mutate"), BAD_CONSOLE, ids=[n for n, _ in BAD_CONSOLE])
def test_malformed_console_bodies_are_refused(name: str, mutate: Mutation) -> None:
    body = copy.deepcopy(console_body())
    mutate(body)
    with pytest.raises(RecordError):
        records.check_console_body(body, CONSOLE_ITEMS)


def test_bodies_are_checked_against_the_bundle_items() -> None:
    with pytest.raises(RecordError, match="missing item"):
        records.check_server_body(server_body(), {"e1", "e2"})
    with pytest.raises(RecordError, match="missing item"):
        records.check_console_body(console_body(), set())


def test_random_ids_are_valid_record_ids() -> None:
    body = console_body()
    body["acks"] = [{"entry_id": records.new_id(), "sha256": "a" * 64} for _ in range(10)]
    body["instance"] = secrets.token_hex(16)
    records.check_console_body(body, CONSOLE_ITEMS)
