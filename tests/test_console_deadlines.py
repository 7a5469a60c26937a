"""The ministry's 30-day rule as the console counts it (journalist_console/answers.py,
deadlines.py): the clock stops at the first response that reaches the reporter (a reply, or a
status change with a note), on the day it leaves in an export; overdue means unanswered after the
due day, nothing else; a warning from the warning day. Pure clock first, then the queue through
the command line on chosen days, then a console migrated from schema version 3.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from journalist_console import deadlines, schema
from support.console import Desk, make_desk

D = dt.date.fromisoformat


def day(received: str, n: int) -> dt.date:
    return D(received) + dt.timedelta(days=n)


# -- the clock ----------------------------------------------------------------------------------


def test_answered_on_day_1_is_never_overdue() -> None:
    received = D("2025-01-10")
    for today in (day("2025-01-10", 1), day("2025-01-10", 31), day("2025-01-10", 400)):
        clock = deadlines.clock(received, day("2025-01-10", 1), day("2025-01-10", 1), today)
        assert clock.answered and not clock.answered_late
        assert not clock.overdue and not clock.warning and clock.days_left is None


def test_unanswered_is_overdue_from_day_31_only() -> None:
    received = D("2025-01-10")
    on_30 = deadlines.clock(received, None, None, day("2025-01-10", 30))
    assert on_30.days_left == 0 and not on_30.overdue and on_30.due_day == D("2025-02-09")
    on_31 = deadlines.clock(received, None, None, day("2025-01-10", 31))
    assert on_31.overdue and on_31.days_left == -1 and on_31.age == 31


def test_the_warning_day_default_20_and_configurable() -> None:
    received = D("2025-01-10")
    assert not deadlines.clock(received, None, None, day("2025-01-10", 19)).warning
    assert deadlines.clock(received, None, None, day("2025-01-10", 20)).warning
    assert deadlines.clock(received, None, None, day("2025-01-10", 30)).warning  # due today
    assert not deadlines.clock(received, None, None, day("2025-01-10", 31)).warning  # overdue
    later = deadlines.clock(received, None, None, day("2025-01-10", 24), warn_day=25)
    assert not later.warning
    assert deadlines.clock(received, None, None, day("2025-01-10", 25), warn_day=25).warning


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2025-01-31", "2025-03-02"),  # end of January, common year
        ("2024-01-31", "2024-03-01"),  # the same in a leap year: February has 29 days
        ("2024-02-29", "2024-03-30"),  # received on the leap day itself
        ("2025-02-28", "2025-03-30"),
        ("2024-12-31", "2025-01-30"),  # across the new year
        ("2025-04-30", "2025-05-30"),
    ],
)
def test_month_ends_and_leap_years(received: str, due: str) -> None:
    clock = deadlines.clock(D(received), None, None, D(due))
    assert clock.due_day == D(due) and clock.days_left == 0 and not clock.overdue
    after = deadlines.clock(D(received), None, None, D(due) + dt.timedelta(days=1))
    assert after.overdue
    on_time = deadlines.clock(D(received), D(due), D(due), D(due) + dt.timedelta(days=5))
    assert on_time.answered and not on_time.answered_late
    late = deadlines.clock(D(received), D(due) + dt.timedelta(days=1), None, D(due))
    assert late.answered_late


def test_an_answer_written_but_not_exported_leaves_the_clock_running() -> None:
    received = D("2025-01-10")
    clock = deadlines.clock(received, None, day("2025-01-10", 29), day("2025-01-10", 31))
    assert clock.waiting_export and clock.overdue and not clock.answered


# -- the queue, on chosen days ------------------------------------------------------------------


@pytest.fixture
def desk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Desk]:
    made = make_desk(tmp_path, capsys, monkeypatch, today="2025-01-10")
    yield made
    made.close()


def test_typed_on_day_29_exported_on_day_31_is_late(desk: Desk) -> None:
    regno = desk.server.add_report(day="2025-01-10")
    desk.import_new()
    desk.day("2025-02-08")  # day 29
    desk.ok("reply", regno, "--message", "Terima kasih, laporan Anda kami pelajari.")
    row = desk.rows()[regno]
    assert row["answered_day"] is None and row["waiting_export"] is True
    assert row["days_left"] == 1 and row["warning"] is True and row["overdue"] is False
    desk.day("2025-02-10")  # day 31: written two days ago, still on the console
    row = desk.rows()[regno]
    assert row["overdue"] is True and row["days_left"] == -1
    assert "OVERDUE 1d (not exported)" in desk.ok("list")
    desk.export()
    row = desk.rows()[regno]
    assert row["answered_day"] == "2025-02-10" and row["answered_late"] is True
    assert row["overdue"] is False and row["days_left"] is None
    assert "answered late" in desk.ok("list")
    [figures] = desk.stats()["compliance"]["rows"]
    assert (figures["answered_on_time"], figures["answered_late"]) == (0, 1)
    assert figures["median_days"] == 31


def test_answered_on_day_1_stays_answered_and_a_bare_status_answers_nothing(desk: Desk) -> None:
    answered = desk.server.add_report(day="2025-01-10")
    bare = desk.server.add_report(day="2025-01-10")
    noted = desk.server.add_report(day="2025-01-10")
    desk.import_new()
    desk.day("2025-01-11")  # day 1
    desk.ok("reply", answered, "--message", "Terima kasih.")
    desk.ok("status", bare, "verifying")  # no note: the reporter reads no word of ours
    desk.ok("status", noted, "needs_info", "--note", "Mohon kirim salinan kontrak.")
    desk.export()
    desk.day("2025-06-01")  # long after day 31
    rows = desk.rows()
    assert rows[answered]["answered_day"] == "2025-01-11" and not rows[answered]["overdue"]
    assert rows[noted]["answered_day"] == "2025-01-11" and not rows[noted]["overdue"]
    assert rows[bare]["answered_day"] is None and rows[bare]["overdue"] is True
    assert list(desk.rows("--overdue")) == [bare]
    assert set(desk.rows("--unanswered")) == {bare}
    # Closing it without a word does not answer it either: still overdue, among finished ones.
    desk.ok("status", bare, "closed")
    assert desk.rows()[bare]["overdue"] is True
    assert bare not in desk.rows("--open") and set(desk.rows("--open")) == {answered, noted}


def test_warning_day_in_the_queue_and_configurable(desk: Desk) -> None:
    regno = desk.server.add_report(day="2025-01-10")
    desk.import_new()
    desk.day("2025-01-29")  # day 19
    assert desk.rows()[regno]["warning"] is False
    desk.day("2025-01-30")  # day 20
    assert desk.rows()[regno]["warning"] is True and "10d left !" in desk.ok("list")
    assert "warning from day: 20" in desk.ok("config")
    assert "warning from day: 25" in desk.ok("config", "--warn-day", "25")
    assert desk.rows()[regno]["warning"] is False
    code, _out, err = desk.run("config", "--warn-day", "31")
    assert code == 1 and "warning day must be between 1 and the due days (30)" in err


def test_leap_year_and_month_end_receipts_in_the_queue(desk: Desk) -> None:
    leap = desk.server.add_report(day="2024-02-29")
    january = desk.server.add_report(day="2025-01-31")
    desk.import_new()
    desk.day("2024-03-30")
    assert desk.rows()[leap]["due_day"] == "2024-03-30" and desk.rows()[leap]["days_left"] == 0
    desk.day("2025-03-02")
    rows = desk.rows()
    assert rows[january]["due_day"] == "2025-03-02" and rows[january]["days_left"] == 0
    assert rows[leap]["overdue"] is True and rows[january]["overdue"] is False
    assert list(desk.rows()) == [leap, january]  # the most overdue first
    desk.day("2025-03-03")
    assert desk.rows()[january]["overdue"] is True


def test_search_and_the_first_words_of_what(desk: Desk) -> None:
    regno = desk.server.add_report(
        day="2025-01-10",
        what="Pungutan liar\nsaat pengurusan izin frekuensi radio di loket tiga, "
        "setiap pemohon diminta membayar lima ratus ribu rupiah tanpa kuitansi",
    )
    other = desk.server.add_report(day="2025-01-10")
    desk.import_new()
    row = desk.rows()[regno]
    assert row["what"].startswith("Pungutan liar saat pengurusan") and row["what"].endswith("…")
    assert "\n" not in row["what"] and len(row["what"]) <= 91
    part = regno[4:9].lower().replace("-", " ")  # a piece of it, as typed
    assert list(desk.rows("--search", part)) == [regno]
    assert list(desk.rows("--search", other)) == [other]
    assert desk.rows("--search", "WBS-0000") == {}


# -- a console from schema version 3 --------------------------------------------------------------


def test_a_version_3_console_keeps_its_reports_with_sensible_figures(desk: Desk) -> None:
    replied = desk.server.add_report(day="2025-01-10", category="bribery")
    bare = desk.server.add_report(day="2025-01-10")
    noted = desk.server.add_report(day="2025-01-12")
    waiting = desk.server.add_report(day="2025-01-12")
    desk.import_new()
    desk.day("2025-01-13")
    desk.ok("status", bare, "verifying")
    desk.ok("reply", replied, "--message", "Kami pelajari.")
    desk.day("2025-01-15")
    desk.ok("status", noted, "closed", "--note", "Sudah ditindak.")
    desk.export()  # created (and written) on the 15th
    desk.day("2025-01-20")
    desk.ok("reply", waiting, "--message", "Belum diekspor.")
    conn = desk.db()  # back to what the previous release wrote
    try:
        with schema.transaction(conn):
            for table in ("drafts", "standard_texts", "compliance_removed"):
                conn.execute(f"DROP TABLE {table}")
            conn.execute("ALTER TABLE reports DROP COLUMN answered_day")
            conn.execute("ALTER TABLE responses DROP COLUMN to_reporter")
            # The previous release set the first response day at any reply or status change.
            conn.execute(
                "UPDATE reports SET first_response_day = "
                "(SELECT min(day) FROM responses p WHERE p.regno = reports.regno)"
            )
            schema.set_setting(conn, "schema_version", "3")
    finally:
        conn.close()
    rows = desk.rows()  # the first unlock migrates and settles
    assert rows[replied]["answered_day"] == "2025-01-15"  # the day its export was written
    assert rows[noted]["answered_day"] == "2025-01-15"
    assert rows[bare]["answered_day"] is None  # a bare status change answered nothing
    assert rows[waiting]["answered_day"] is None and rows[waiting]["waiting_export"] is True
    conn = desk.db()
    try:
        assert schema.get_setting(conn, "schema_version") == str(schema.SCHEMA_VERSION)
        days = dict(conn.execute("SELECT regno, first_response_day FROM reports").fetchall())
        flags = conn.execute("SELECT count(*) FROM responses WHERE to_reporter IS NULL")
        assert flags.fetchone()[0] == 0
    finally:
        conn.close()
    assert days == {
        replied: "2025-01-13",
        bare: None,
        noted: "2025-01-15",
        waiting: "2025-01-20",
    }
    figures = desk.stats()["compliance"]["total"]
    assert figures["received"] == 4 and figures["answered_on_time"] == 2
    assert figures["unanswered"] == 2 and figures["median_days"] == 4  # 5 and 3 days
    assert "Audit log intact" in desk.ok("audit", "verify")
