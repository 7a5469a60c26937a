"""Pages of reports: the queue, a report and its forms, statistics, the audit log.

A report's files, their safe copies and the originals' downloads are web/renditions.py. A refused
form comes back as the report page with the reason (400); a recused investigator gets 403 and an
unknown report 404 (app.py's handlers).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from journalist_console import (
    accounts,
    dates,
    files,
    reports,
    responses,
    retention,
    staff,
    statistics,
)
from journalist_console.errors import ConsoleError
from journalist_console.session import Session
from journalist_console.texts import Text
from journalist_console.web.state import (
    acting_admin,
    current_session,
    error_text,
    gettext,
    serialised,
)
from keys.records import CATEGORIES, STATUSES

blueprint = Blueprint("reports", __name__)


@blueprint.get("/")
@serialised
def queue() -> Any:
    status = request.args.get("status") or None
    category = request.args.get("category") or None
    mine = request.args.get("mine") == "1"
    if status is not None and status not in STATUSES:
        abort(400, f"unknown status {status[:40]!r}")
    if category is not None and category not in CATEGORIES:
        abort(400, f"unknown category {category[:40]!r}")
    listed = reports.queue(current_session(), status, category, mine=mine)
    return render_template(
        "queue.html", reports=listed, status=status, category=category, mine=mine
    )


def _report_page(regno: str, code: int = 200, error: str | None = None, **form: Any) -> Any:
    session = current_session()
    return render_template(
        "report.html",
        view=reports.view(session, regno),
        form=form,
        error=error,
        investigators=accounts.active_names(session.conn),
    ), code


@blueprint.get("/report/<regno>")
@serialised
def report(regno: str) -> Any:
    session = current_session()
    canonical = reports.resolve(session, regno)
    if canonical != regno:
        return redirect(url_for("reports.report", regno=canonical))
    page = _report_page(canonical)
    reports.mark_viewed(session, canonical)
    return page


def _act(regno: str, action: Callable[[Session, str], str], **keep: str) -> Any:
    """Run a report form's action: flash its message and show the report again, or show the
    report with the reason it was refused and what was typed."""
    session = current_session()
    canonical = reports.resolve(session, regno)
    try:
        message = action(session, canonical)
    except ConsoleError as exc:
        return _report_page(canonical, 400, error=error_text(exc), **keep)
    flash(message, "ok")
    return redirect(url_for("reports.report", regno=canonical))


@blueprint.post("/report/<regno>/reply")
@serialised
def reply(regno: str) -> Any:
    message = request.form.get("message", "")

    def act(session: Session, canonical: str) -> str:
        responses.reply(session, canonical, message)
        return gettext("Reply recorded; it leaves with the next export.")

    return _act(regno, act, reply=message)


@blueprint.post("/report/<regno>/status")
@serialised
def status(regno: str) -> Any:
    new_status, note = request.form.get("status", ""), request.form.get("note", "")

    def act(session: Session, canonical: str) -> str:
        responses.set_status(session, canonical, new_status, note)
        return gettext("Status changed; it leaves with the next export.")

    return _act(regno, act, status_note=note)


@blueprint.post("/report/<regno>/note")
@serialised
def note(regno: str) -> Any:
    body = request.form.get("text", "")

    def act(session: Session, canonical: str) -> str:
        responses.add_note(session, canonical, body)
        return gettext("Internal note added.")

    return _act(regno, act, note=body)


@blueprint.post("/report/<regno>/assign")
@serialised
def assign(regno: str) -> Any:
    name = request.form.get("assignee", "").strip()

    def act(session: Session, canonical: str) -> str:
        if not name:
            previous = staff.unassign(session, canonical)
            return (
                gettext("The report is no longer assigned.")
                if previous
                else gettext("The report was not assigned.")
            )
        staff.assign(session, canonical, name)
        return gettext("The report is assigned to %(user)s.", user=name)

    return _act(regno, act)


@blueprint.post("/report/<regno>/recuse")
@serialised
def recuse(regno: str) -> Any:
    session = current_session()
    canonical = reports.resolve(session, regno)
    reason = request.form.get("reason", "")
    if request.form.get("confirm") != "yes":
        return _report_page(
            canonical,
            400,
            error=gettext("Tick the confirmation box to declare a conflict of interest."),
            reason=reason,
        )
    try:
        staff.recuse(session, canonical, reason)
    except ConsoleError as exc:
        return _report_page(canonical, 400, error=error_text(exc), reason=reason)
    flash(
        gettext("You are recused from %(regno)s; you can no longer open it.", regno=canonical), "ok"
    )
    return redirect(url_for("reports.queue"))


@blueprint.post("/report/<regno>/save")
@serialised
def save(regno: str) -> Any:
    folder = request.form.get("folder", "").strip()
    safe_only = request.form.get("safe_only") == "yes"

    def act(session: Session, canonical: str) -> str:
        if not folder or not Path(folder).is_absolute():
            raise ConsoleError(
                Text("Give the full path of an existing folder (e.g. /media/usb/case).")
            )
        saved = files.save_files(session, canonical, Path(folder), safe_only=safe_only)
        written = [item for item in saved if item.path is not None or item.safe]
        problems = "; ".join(item.problem for item in saved if item.problem)
        said = gettext("Saved %(count)s files to %(folder)s.", count=len(written), folder=folder)
        return f"{said} {problems}" if problems else said

    return _act(regno, act, folder=folder)


@blueprint.get("/stats")
@serialised
def stats_page() -> Any:
    session = current_session()
    return render_template(
        "stats.html",
        stats=statistics.stats(session),
        today=dates.today(),
        retention=retention.overview(session) if acting_admin() else None,
    )


@blueprint.get("/audit")
@serialised
def audit_page() -> Any:
    session = current_session()
    return render_template(
        "audit.html",
        result=staff.verify_audit(session),
        entries=staff.audit_entries(session, 200),
    )
