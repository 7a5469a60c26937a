"""The compliance figures (journalist_console/compliance.py): per month of receipt and category,
received, answered on time and late, still unanswered, the median days to the first answer, and
the reports with a final status, per final status. The same before and after retention removes
the reports, never counted twice; the CSV is a spreadsheet's (a header row, one row per month and
category); the queue, the statistics page and the CSV agree.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from journalist_console.cli import main
from support.console import Desk, make_desk
from support.instances import write_passphrase_file


@pytest.fixture
def desk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Desk]:
    made = make_desk(tmp_path, capsys, monkeypatch, today="2025-01-05")
    yield made
    made.close()


def a_year_of_work(desk: Desk) -> dict[str, str]:
    """Six reports over two months, answered on time, late or not at all, some finished."""
    r = {
        "on_time_closed": desk.server.add_report(day="2025-01-05", category="bribery"),
        "late_rejected": desk.server.add_report(day="2025-01-05", category="bribery"),
        "silent_closed": desk.server.add_report(day="2025-01-20", category="corruption"),
        "noted_forwarded": desk.server.add_report(day="2025-01-31", category="corruption"),
        "open_unanswered": desk.server.add_report(day="2025-02-03", category="bribery"),
        "open_answered": desk.server.add_report(day="2025-02-10", category="other"),
    }
    desk.import_new()
    desk.day("2025-01-07")
    desk.ok("reply", r["on_time_closed"], "--message", "Terima kasih, kami pelajari.")
    desk.export()  # answered on day 2
    desk.day("2025-02-03")
    desk.ok("status", r["noted_forwarded"], "forwarded", "--note", "Diteruskan ke KPK.")
    desk.ok("status", r["silent_closed"], "closed")  # closed without a word: unanswered
    desk.export()  # day 3 for the forwarded one
    desk.import_new()  # nothing new, the server's second bundle
    desk.day("2025-02-10")
    desk.ok("respond", r["late_rejected"], "--status", "rejected", "--text", "closed")
    desk.ok("status", r["on_time_closed"], "closed")
    desk.export()  # day 36 for the rejected one: late
    desk.day("2025-02-12")
    desk.ok("reply", r["open_answered"], "--message", "Mohon kirim buktinya.")
    desk.export()  # day 2
    return r


EXPECTED = [
    # month, category, received, on time, late, unanswered, median, final; forwarded closed rejected
    ["2025-01", "Corruption", "2", "1", "0", "1", "3", "2", "1", "1", "0"],
    ["2025-01", "Bribery / gratification", "2", "1", "1", "0", "19", "2", "0", "1", "1"],
    ["2025-02", "Bribery / gratification", "1", "0", "0", "1", "", "0", "0", "0", "0"],
    ["2025-02", "Other", "1", "1", "0", "0", "2", "0", "0", "0", "0"],
]


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_the_csv_is_a_spreadsheet_header_row_and_one_row_per_month_and_category(
    desk: Desk,
) -> None:
    a_year_of_work(desk)
    desk.day("2025-02-20")
    out = desk.tmp / "figures.csv"
    assert "Wrote the figures of 4 months and categories" in desk.ok("stats", "--csv", "--out", out)
    raw = out.read_bytes()
    assert b"\r\n" in raw and raw.count(b"\n") == 5  # spreadsheet line ends, 1 + 4 rows
    header, *rows = read_csv(raw.decode("utf-8"))
    assert header == [
        "Month",
        "Category",
        "Received",
        "Answered within 30 days",
        "Answered late",
        "Still unanswered",
        "Median days to the first answer",
        "With a final status",
        "Final status: forwarded",
        "Final status: closed",
        "Final status: rejected",
    ]
    assert rows == EXPECTED
    assert all(len(row) == len(header) for row in rows)
    assert read_csv(desk.ok("stats", "--csv")) == [header, *rows]  # the same on the terminal
    code, _out, err = desk.run("stats", "--csv", "--out", out)
    assert code == 1 and "File exists" in err  # never overwritten


def test_the_same_figures_before_and_after_retention_removes_the_reports(desk: Desk) -> None:
    r = a_year_of_work(desk)
    desk.day("2025-02-20")
    before = desk.stats()["compliance"]
    csv_before = desk.ok("stats", "--csv")
    desk.ok("config", "--retention-days", "30")
    desk.day("2025-03-20")  # 30 days after the last event of every finished report
    assert "Removed 4 reports" in desk.ok("retention")
    assert set(desk.rows()) == {r["open_unanswered"], r["open_answered"]}
    after = desk.stats()["compliance"]
    assert after["rows"] == before["rows"] and after["total"] == before["total"]
    assert after["removed"] == 4 and before["removed"] == 0
    assert desk.ok("stats", "--csv") == csv_before
    conn = desk.db()
    try:
        kept = [tuple(row) for row in conn.execute("SELECT * FROM compliance_removed")]
    finally:
        conn.close()
    assert sum(row[-1] for row in kept) == 4
    assert not any(regno in repr(kept) for regno in r.values())  # counts, no register numbers
    # A second run removes nothing and counts nothing twice.
    assert "Removed 0 reports" in desk.ok("retention")
    assert desk.stats()["compliance"]["total"] == before["total"]


def test_a_late_follow_up_for_a_removed_report_is_not_counted_again(desk: Desk) -> None:
    r = a_year_of_work(desk)
    desk.ok("config", "--retention-days", "30")
    desk.day("2025-03-20")
    desk.ok("retention")
    total = desk.stats()["compliance"]["total"]
    desk.server.add_followup(r["on_time_closed"], "Ada bukti baru.", day="2025-03-21")
    desk.import_new()  # the server still held it: the console makes a shell for the follow-up
    assert r["on_time_closed"] in desk.rows()
    assert desk.stats()["compliance"]["total"] == total


def test_the_queue_the_stats_page_and_the_csv_agree(desk: Desk) -> None:
    r = a_year_of_work(desk)
    desk.day("2025-03-10")  # open_unanswered is on day 35: overdue
    rows = desk.rows()
    web = desk.web()
    queue = web.text("/")
    counts = dict(re.findall(r'href="/\?show=(\w+)">[^<]+<span class="count">(\d+)</span>', queue))
    unanswered = [regno for regno, row in rows.items() if row["answered_day"] is None]
    assert counts == {"open": "2", "unanswered": str(len(unanswered)), "overdue": "2"}
    assert sorted(unanswered) == sorted([r["silent_closed"], r["open_unanswered"]])
    page = web.text("/stats")
    assert re.search(r'id="overdue">2<', page) and re.search(r'id="unanswered">2<', page)
    table = re.search(r'<table class="figures">(.*?)</table>', page, re.S)
    assert table
    cells = [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    ]
    header, *body, total = cells
    download = web.client.get("/stats/compliance.csv")
    assert download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "wbs-compliance-2025-03-10.csv" in download.headers["Content-Disposition"]
    sheet = read_csv(download.get_data(as_text=True))
    assert sheet[0] == header  # the page's headings, in the page's language
    assert (
        sheet[0][:3] == ["Bulan", "Kategori", "Diterima"] and sheet[0][3] == "Dijawab dalam 30 hari"
    )
    assert sheet[1:] == [[cell.replace("—", "") for cell in row] for row in body]  # row by row
    assert [row[:2] for row in sheet[1:]] == [
        ["2025-01", "Korupsi"],
        ["2025-01", "Suap / gratifikasi"],
        ["2025-02", "Suap / gratifikasi"],
        ["2025-02", "Lainnya"],
    ]
    assert [row[2:] for row in sheet[1:]] == [row[2:] for row in EXPECTED]
    assert total[0] == "Semua bulan" and total[1:4] == ["6", "3", "1"]
    # In English the medians and headings follow the page.
    web.client.get("/lang/en")
    english = read_csv(web.client.get("/stats/compliance.csv").get_data(as_text=True))
    assert english[0][0] == "Month" and english[2][1] == "Bribery / gratification"


def test_medians_and_numbers_are_written_the_page_languages_way(desk: Desk) -> None:
    first = desk.server.add_report(day="2025-01-05")
    second = desk.server.add_report(day="2025-01-05")
    desk.import_new()
    desk.day("2025-01-06")
    desk.ok("reply", first, "--message", "Terima kasih.")
    desk.export()
    desk.day("2025-01-07")
    desk.ok("reply", second, "--message", "Terima kasih.")
    desk.export()  # medians of 1 and 2 days: 1.5
    web = desk.web()
    assert re.search(r'id="median-first">1,5<', web.text("/stats"))
    assert ",1.5," in web.client.get("/stats/compliance.csv").get_data(as_text=True)
    web.client.get("/lang/en")
    assert re.search(r'id="median-first">1.5<', web.text("/stats"))


def test_a_recused_investigator_does_not_see_the_report_in_the_figures(desk: Desk) -> None:
    r = a_year_of_work(desk)
    pp = write_passphrase_file(desk.tmp / "pp-budi", "frasa sandi milik budi")
    desk.ok("user", "add", "budi", "--new-passphrase-file", pp)

    def as_budi(*args: str | Path) -> tuple[str, str]:
        desk.capsys.readouterr()
        code = main(
            [*map(str, args), "--home", str(desk.home), "--passphrase-file", str(pp)]
            + ["--user", "budi"]
        )
        out, err = desk.capsys.readouterr()
        assert code == 0, err
        return out, err

    as_budi("recuse", r["open_unanswered"])
    out, err = as_budi("stats", "--csv")
    assert "1 report(s) you recused from are not counted" in err
    rows = read_csv(out)
    assert ["2025-02", "Bribery / gratification"] not in [row[:2] for row in rows]
    everyone = read_csv(desk.ok("stats", "--csv"))
    assert len(everyone) == len(rows) + 1
