"""Pages of reports: the queue, a report and its forms, the audit log.

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
    drafts,
    files,
    reports,
    responses,
    staff,
    standard_texts,
    statistics,
    worklist,
)
from journalist_console.errors import ConsoleError
from journalist_console.session import Session
from journalist_console.texts import Text
from journalist_console.web.state import (
    current_session,
    error_text,
    gettext,
    keep_typed,
    serialised,
)
from keys.records import CATEGORIES, STATUSES, normalize_regno

blueprint = Blueprint("reports", __name__)


@blueprint.get("/")
@serialised
def queue() -> Any:
    status = request.args.get("status") or None
    category = request.args.get("category") or None
    show = request.args.get("show") or None
    search = request.args.get("q", "").strip()[:40] or None
    mine = request.args.get("mine") == "1"
    if status is not None and status not in STATUSES:
        abort(400, f"unknown status {status[:40]!r}")
    if category is not None and category not in CATEGORIES:
        abort(400, f"unknown category {category[:40]!r}")
    if show is not None and show not in worklist.SHOWS:
        abort(400, f"unknown filter {show[:40]!r}")
    session = current_session()
    listed = worklist.queue(session, status, category, mine, show, search)
    exact = normalize_regno(search or "")
    if exact is not None and [s.regno for s in listed] == [exact]:
        return redirect(url_for("reports.report", regno=exact))  # typed a whole register number
    everything = worklist.queue(session, what=False)
    counts = {key: sum(1 for s in everything if worklist.shown(s, key)) for key in worklist.SHOWS}
    return render_template(
        "queue.html",
        reports=listed,
        status=status,
        category=category,
        mine=mine,
        show=show,
        search=search,
        counts=counts,
        drafts=drafts.waiting(session),
    )


def _report_page(regno: str, code: int = 200, error: str | None = None, **form: Any) -> Any:
    session = current_session()
    view = reports.view(session, regno)
    return render_template(
        "report.html",
        view=view,
        form=form,
        error=error,
        investigators=accounts.active_names(session.conn),
        desk=_desk(session, view, form),
        desk_form="desk",  # the header's Lock button sends this form: what is typed is kept
    ), code


def _desk(session: Session, view: reports.ReportView, form: dict[str, Any]) -> dict[str, Any]:
    """What the Respond card shows: what was typed (the form sent back, else a kept draft),
    the standard texts in the reporter's language, and what waits for export."""
    kept = drafts.of_report(session, view.summary.regno)
    message, note = kept.get("message"), kept.get("note")
    language = view.fields.language if view.fields is not None else ""
    return {
        "message": form.get("message", message.text if message else ""),
        "status": form.get("status")
        or (message.status if message else None)
        or view.summary.status,
        "note": form.get("note", note.text if note else ""),
        "kept": message.day if message and "message" not in form else None,
        "kept_note": note.day if note and "note" not in form else None,
        "show": form.get("show", request.args.get("show", "")),
        "standard": standard_texts.for_language(session, language),
        "pending": statistics.pending(session)[0],
    }


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


@blueprint.post("/report/<regno>/respond")
@serialised
def respond(regno: str) -> Any:
    """The Respond card: a status and a message to the reporter, saved for the next export;
    then the same report again, or the next one in the queue the investigator came from."""
    session = current_session()
    canonical = reports.resolve(session, regno)
    form = request.form
    typed = {
        "message": form.get("message", ""),
        "status": form.get("status", ""),
        "note": form.get("text", ""),
        "show": form.get("show", ""),
    }
    standard = form.get("standard") or None
    if form.get("then") == "insert":
        # Without JavaScript, a standard text reaches the box by a round trip: shown, not saved.
        if standard not in standard_texts.NAMES:
            error = gettext("Choose a standard text first.")
            return _report_page(canonical, 400, error=error, **typed)
        start = standard_texts.for_report(session, canonical, standard)
        typed["message"] = responses.compose(start, typed["message"])
        return _report_page(canonical, 200, None, **typed)
    try:
        done = responses.respond(session, canonical, typed["status"], typed["message"], standard)
    except ConsoleError as exc:
        return _report_page(canonical, 400, error=error_text(exc), **typed)
    keep_typed(session, canonical, form, sent="message")
    flash(_responded(done), "ok")
    if form.get("then") == "next":
        show = typed["show"] if typed["show"] in worklist.SHOWS else None
        following = worklist.next_after(session, canonical, show)
        if following is None:
            flash(gettext("That was the last report in this list."), "info")
            return redirect(url_for("reports.queue", show=show))
        return redirect(url_for("reports.report", regno=following, show=show))
    return redirect(url_for("reports.report", regno=canonical))


def _responded(done: responses.Responded) -> str:
    if done.status and done.replied:
        return gettext(
            "%(regno)s: status changed and reply recorded; both leave with the next export.",
            regno=done.regno,
        )
    if done.status:
        return gettext(
            "%(regno)s: status changed; it leaves with the next export.", regno=done.regno
        )
    return gettext("%(regno)s: reply recorded; it leaves with the next export.", regno=done.regno)


@blueprint.post("/report/<regno>/draft/discard")
@serialised
def discard_draft(regno: str) -> Any:
    session = current_session()
    canonical = reports.resolve(session, regno)
    kind = request.form.get("kind", "")
    if kind not in drafts.KINDS:
        abort(400)
    drafts.discard(session, canonical, kind)
    keep_typed(session, canonical, request.form, sent=kind)
    flash(gettext("The kept text was discarded."), "info")
    return redirect(url_for("reports.report", regno=canonical))


@blueprint.post("/report/<regno>/note")
@serialised
def note(regno: str) -> Any:
    body = request.form.get("text", "")

    def act(session: Session, canonical: str) -> str:
        responses.add_note(session, canonical, body)
        keep_typed(session, canonical, request.form, sent="note")
        return gettext("Internal note added.")

    return _act(regno, act, note=body, message=request.form.get("message", ""))


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


@blueprint.get("/audit")
@serialised
def audit_page() -> Any:
    session = current_session()
    return render_template(
        "audit.html",
        result=staff.verify_audit(session),
        entries=staff.audit_entries(session, 200),
    )
