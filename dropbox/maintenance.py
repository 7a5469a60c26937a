"""The operator's health check (`dropbox check`) and the daily job (`dropbox maintain`).

The daily job enforces the retention policy (docs/operator.md, "Retention"):
  - a source that never filed a report is forgotten after a day;
  - a closed report, with its entries and responses, is deleted `retention_days` after closing;
  - envelopes the console has acknowledged are deleted (the console holds them now).
Deletion goes through the store's overwrite (keys.disk.wipe_file) and SQLCipher's secure_delete.
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
    for name in instance.onion_names:
        report.notes.append(f"onion address    {name}")
    if not instance.onion_names:
        # install.sh sets it once tor has made the address; until then only the loopback works.
        report.notes.append("onion address    none set (dropbox onion --add NAME.onion)")
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
        report.problems += _check_torrc(torrc)
    return report


# Listeners a drop box's tor must not open (0 switches each off; MetricsPort 0 opens one).
_FORBIDDEN_LISTENERS = (
    "socksport",
    "controlport",
    "controlsocket",
    "orport",
    "dnsport",
    "transport",
    "natdport",
    "httptunnelport",
)


def _torrc_options(path: Path, depth: int = 0) -> list[tuple[str, str]]:
    """(option, value) pairs of a torrc, following %include of files and directories."""
    options: list[tuple[str, str]] = []
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return options
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, value = line.partition(" ")
        if name.lower() == "%include" and depth < 4:
            included = Path(value.strip())
            targets = sorted(included.glob("*")) if included.is_dir() else [included]
            for target in targets:
                if target.is_file():
                    options += _torrc_options(target, depth + 1)
            continue
        options.append((name.lower(), value.strip()))
    return options


def _check_torrc(torrc: Path) -> list[str]:
    options = _torrc_options(torrc)
    values: dict[str, list[str]] = {}
    for name, value in options:
        values.setdefault(name, []).append(value)
    problems = []
    if "hiddenservicedir" not in values:
        problems.append("torrc: no HiddenServiceDir (no onion service configured)")
    for port in values.get("hiddenserviceport", []):
        if "127.0.0.1" not in port and "unix:" not in port:
            problems.append(f"torrc: HiddenServicePort {port} does not target the loopback")
    if values.get("hiddenserviceexportcircuitid", [""])[-1].lower() != "haproxy":
        # Without it HAProxy sees tor's own address on every stream, so its per-circuit caps
        # would be one cap for all: one flooding circuit would lock every reporter out.
        problems.append(
            "torrc: HiddenServiceExportCircuitID haproxy is missing (HAProxy cannot tell "
            "circuits apart)"
        )
    if values.get("hiddenservicepowdefensesenabled", ["0"])[-1] != "1":
        problems.append(
            "torrc: the onion proof-of-work defence is off (HiddenServicePoWDefensesEnabled 1)"
        )
    for listener in _FORBIDDEN_LISTENERS:
        # Debian's defaults open a SOCKS port and a control socket unless told otherwise.
        settings = values.get(listener, ["0"] if listener != "socksport" else [])
        if not settings or any(setting.split()[0] != "0" for setting in settings if setting):
            problems.append(f"torrc: {listener} should be 0 on the server (no extra listener)")
    if "metricsport" in values:
        problems.append("torrc: MetricsPort opens a listener (even with 0); remove it")
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
