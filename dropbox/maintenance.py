"""The operator's health check (`dropbox check`) and the daily job (`dropbox maintain`).

The daily job enforces the retention policy (docs/operator.md, "Retention"):
  - a source that never filed a report is forgotten after a day;
  - a closed report, with its entries and responses, is deleted `retention_days` after closing;
  - envelopes the console has acknowledged are deleted (the console holds them now).
Deletion goes through the store's secure delete and SQLCipher's secure_delete.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dropbox import db
from dropbox.instance import Instance, check_permissions
from dropbox.serve import RAM_FILESYSTEMS, filesystem_type
from dropbox.service import DropBox

DAY = dt.timedelta(days=1)


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _day(today: dt.date, days_ago: int) -> str:
    return (today - dt.timedelta(days=days_ago)).isoformat()


def check(instance: Instance, spill_dir: Path | None, torrc: Path | None) -> CheckReport:
    report = CheckReport()
    report.problems += check_permissions(instance.data_dir)
    for key in instance.recipients:
        report.notes.append(f"recipient key    {key.fingerprint}")
    for key in instance.console_keys:
        report.notes.append(f"console key      {key.fingerprint}")
    report.notes.append(f"server key       {instance.server_public_key.fingerprint}")
    free = shutil.disk_usage(instance.data_dir).free
    report.notes.append(
        f"free disk        {free // (1024 * 1024)} MiB "
        f"(upload limit {instance.upload_limit // (1024 * 1024)} MiB)"
    )
    if free < 2 * instance.upload_limit:
        report.problems.append("less free disk than two maximum submissions")
    box = DropBox(instance)
    with box.connection() as connection:
        pending = connection.execute(
            "SELECT count(*), min(day) FROM entries WHERE export_seq IS NULL"
        ).fetchone()
        unacked = connection.execute(
            "SELECT count(*), min(day) FROM entries WHERE export_seq IS NOT NULL AND acked = 0"
        ).fetchone()
    report.notes.append(
        f"not yet exported {pending[0]} item(s)"
        + (f", oldest from {pending[1]}" if pending[0] else "")
    )
    report.notes.append(
        f"awaiting console acknowledgement {unacked[0]} item(s)"
        + (f", oldest from {unacked[1]}" if unacked[0] else "")
    )
    if spill_dir is not None:
        fs_type = filesystem_type(spill_dir)  # of the mount that holds it, even before it exists
        if fs_type not in RAM_FILESYSTEMS:
            report.problems.append(f"spill directory {spill_dir} is on {fs_type}, not tmpfs")
    if torrc is not None and torrc.exists():
        report.problems += _check_torrc(torrc.read_text("utf-8", errors="replace"))
    return report


def _check_torrc(text: str) -> list[str]:
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    options = [line.split(None, 1) for line in lines if line]
    names = {option[0].lower(): option[1] if len(option) > 1 else "" for option in options}
    problems = []
    if "hiddenservicedir" not in names:
        problems.append("torrc: no HiddenServiceDir (no onion service configured)")
    port = names.get("hiddenserviceport", "")
    if port and "127.0.0.1" not in port and "unix:" not in port:
        problems.append("torrc: HiddenServicePort does not target the loopback interface")
    if names.get("hiddenservicepowdefensesenabled", "0") != "1":
        problems.append(
            "torrc: the onion proof-of-work defence is off (HiddenServicePoWDefensesEnabled 1)"
        )
    if names.get("socksport", "") not in ("0",):
        problems.append("torrc: SocksPort should be 0 on the server (no client listener)")
    return problems


@dataclass
class MaintenanceSummary:
    forgotten_sources: int = 0
    deleted_reports: int = 0
    purged_items: int = 0


def maintain(box: DropBox, today: dt.date | None = None) -> MaintenanceSummary:
    today = today or dt.datetime.now(dt.UTC).date()
    summary = MaintenanceSummary()
    doomed_items: list[str] = []
    with box.connection() as connection, db.transaction(connection):
        forgotten = connection.execute(
            "DELETE FROM sources WHERE created_day < ? AND NOT EXISTS"
            " (SELECT 1 FROM reports WHERE reports.source_id = sources.source_id)",
            (_day(today, 1),),
        )
        summary.forgotten_sources = forgotten.rowcount
        expired = [
            row[0]
            for row in connection.execute(
                "SELECT regno FROM reports WHERE closed_day IS NOT NULL AND closed_day <= ?",
                (_day(today, box.instance.retention_days),),
            )
        ]
        for regno in expired:
            doomed_items += [
                row[0]
                for row in connection.execute(
                    "SELECT entry_id FROM entries WHERE regno = ?", (regno,)
                )
            ]
            doomed_items += [
                row[0]
                for row in connection.execute(
                    "SELECT response_id FROM responses WHERE regno = ?", (regno,)
                )
            ]
            connection.execute("DELETE FROM reports WHERE regno = ?", (regno,))
        summary.deleted_reports = len(expired)
        # Sources whose every report is gone are forgotten too.
        connection.execute(
            "DELETE FROM sources WHERE NOT EXISTS"
            " (SELECT 1 FROM reports WHERE reports.source_id = sources.source_id)"
            " AND created_day < ?",
            (_day(today, 1),),
        )
        acked = [
            row[0] for row in connection.execute("SELECT entry_id FROM entries WHERE acked = 1")
        ]
    for item_id in doomed_items + acked:
        if box.store.item_exists(item_id):
            box.store.delete_item(item_id)
            summary.purged_items += 1
    return summary
