"""A report's files in the web console: their safe pages inline, safe copies, and the originals
behind an explicit warning (the report page includes templates/console/_renditions.html).

* Page images are PNGs the console made itself from checked pixels (journalist_console/
  rendition), served from this origin (the CSP's `img-src 'self'`), inline, no script anywhere.
* Text and the text of HTML are printed as text, escaped by the template; nothing becomes a link.
* "Download safe copy": the PDF of the pages (or the PNG, or the text), as an attachment.
* The original: a page that says why not to open it, then a POST with a confirmation box and the
  CSRF token; the download is an application/octet-stream attachment. Both are audited.
* Conversions run in the session's background worker: every file of a web import is queued
  after the import, and a report's files first when its page is opened. A file still converting
  is shown with its progress (page n of m) and a link to reload; the page does not reload itself,
  since every view of a report is an audited `viewed`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from journalist_console import files, reports
from journalist_console.errors import ConsoleError, Unreadable
from journalist_console.rendition import copies, messages, sandbox, store, worker
from journalist_console.reports import FileInfo, ReportView
from journalist_console.web.state import (
    current_session,
    error_page,
    error_text,
    gettext,
    serialised,
    state,
    translated,
)

blueprint = Blueprint("renditions", __name__)
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
_ENTRY = re.compile(r"^[0-9a-f]{32}\Z")
_IMPORTS = ("exchange.import_upload", "exchange.import_confirm")


@dataclass(frozen=True)
class FileState:
    """What the report page shows of one file."""

    rendition: store.Rendition | None
    progress: tuple[int, int] | None  # (done, of) while converting; (0, 0) while waiting
    problem: str | None  # in the page's language
    notes: list[str]
    text: str | None
    retry: bool = False  # offer "Convert again": the conversion failed, or cannot be read now

    @property
    def pages(self) -> int:
        return self.rendition.pages if self.rendition is not None else 0

    @property
    def safe_copy(self) -> bool:
        rendition = self.rendition
        return rendition is not None and (rendition.pages > 0 or rendition.has_text)


def _state_of(info: FileInfo, rendition: store.Rendition | None) -> FileState:
    session = current_session()
    converter = worker.background(session)
    if rendition is None:
        reason = sandbox.unavailable_reason()
        why = converter.problems.get(info.entry_id)
        if reason is not None:
            why = messages.sandbox_unavailable(reason)
        problem = None if why is None else translated(why)
        return FileState(None, converter.progress(info.entry_id), problem, [], None)
    shown: str | None = None
    problem_text = messages.problem(rendition)
    problem = None if problem_text is None else translated(problem_text)
    retry = rendition.problem is not None
    try:
        shown = copies.text(session, rendition)
        if rendition.pages:
            copies.page(session, rendition, 1)  # sealed to a key this console still holds?
    except Unreadable as exc:
        problem, retry = error_text(exc), True
    notes = [translated(note) for note in messages.notes(rendition)]
    return FileState(rendition, None, problem, notes, shown, retry)


@blueprint.app_template_global()
def file_states(view: ReportView) -> dict[str, FileState]:
    """Each file's rendition state, for templates/console/_renditions.html."""
    session = current_session()
    made = store.of_entries(session.conn, [info.entry_id for info in view.files])
    return {info.entry_id: _state_of(info, made.get(info.entry_id)) for info in view.files}


@blueprint.app_template_global()
def original_warning() -> str:
    return translated(messages.ORIGINAL_WARNING)


@blueprint.before_app_request
def _queue_report_files() -> None:
    """Opening a report page puts its files not yet converted first in the queue."""
    if request.endpoint != "reports.report" or state().session is None:
        return
    session = current_session()
    regno = (request.view_args or {}).get("regno", "")
    with session.mutex:
        try:
            canonical = reports.resolve(session, regno)
            infos = reports.files(session, canonical)
        except ConsoleError:
            return  # the page itself says why
        done = store.of_entries(session.conn, [info.entry_id for info in infos])
    waiting = [i.entry_id for i in infos if i.readable and i.entry_id not in done]
    if waiting:
        worker.background(session).request(waiting, first=True)


@blueprint.after_app_request
def _queue_imported_files(response: Response) -> Response:
    """After an import through the web, every file without a rendition is queued."""
    if request.endpoint in _IMPORTS and response.status_code < 400 and state().session:
        session = current_session()
        with session.mutex:
            waiting = store.missing(session.conn)
        if waiting:
            worker.background(session).request(waiting)
    return response


def _checked(regno: str, entry_id: str) -> tuple[str, FileInfo]:
    session = current_session()
    canonical = reports.resolve(session, regno)
    if not _ENTRY.match(entry_id):
        abort(404)
    try:
        return canonical, reports.file_info(session, canonical, entry_id)
    except ConsoleError:
        abort(404)


def _attachment(data: bytes, name: str) -> Response:
    response = Response(data, mimetype="application/octet-stream")
    response.headers.set("Content-Disposition", "attachment", filename=name)
    return response


@blueprint.get("/report/<regno>/file/<entry_id>/page/<int:number>")
@serialised
def page(regno: str, entry_id: str, number: int) -> Any:
    """One safe page, a PNG made by the console, shown inline in the report page."""
    _canonical, info = _checked(regno, entry_id)
    session = current_session()
    rendition = store.get(session.conn, info.entry_id)
    if rendition is None or not 1 <= number <= rendition.pages:
        abort(404)
    try:
        data = copies.page(session, rendition, number)
    except Unreadable:
        abort(404)
    response = Response(data, mimetype="image/png")
    response.headers["Content-Disposition"] = "inline"
    return response


@blueprint.get("/report/<regno>/file/<entry_id>/safe")
@serialised
def safe_copy(regno: str, entry_id: str) -> Any:
    canonical, info = _checked(regno, entry_id)
    try:
        name, data = files.download_safe(current_session(), canonical, info.entry_id)
    except ConsoleError as exc:
        return error_page(400, error_text(exc))
    return _attachment(data, name)


@blueprint.get("/report/<regno>/file/<entry_id>")
@serialised
def original_page(regno: str, entry_id: str) -> Any:
    """Why the original should not be opened here; the download is a confirmed POST."""
    canonical, info = _checked(regno, entry_id)
    return render_template("original.html", regno=canonical, file=info, error=None)


@blueprint.post("/report/<regno>/file/<entry_id>")
@serialised
def original(regno: str, entry_id: str) -> Any:
    canonical, info = _checked(regno, entry_id)
    if request.form.get("understood") != "yes":
        error = gettext("Tick the box to confirm that you understand the risk.")
        return render_template("original.html", regno=canonical, file=info, error=error), 400
    try:
        name, data = files.download(current_session(), canonical, info.entry_id, MAX_DOWNLOAD_BYTES)
    except ConsoleError as exc:
        return render_template(
            "original.html", regno=canonical, file=info, error=error_text(exc)
        ), 400
    return _attachment(data, name)


@blueprint.post("/report/<regno>/file/<entry_id>/convert")
@serialised
def convert_again(regno: str, entry_id: str) -> Any:
    """Make a file's rendition again (after a timeout on a busy machine, say)."""
    canonical, info = _checked(regno, entry_id)
    session = current_session()
    converter = worker.background(session)
    if not converter.busy_with(info.entry_id):
        store.forget(session, info.entry_id)
        converter.problems.pop(info.entry_id, None)
        converter.request([info.entry_id], first=True)
    return redirect(url_for("reports.report", regno=canonical, _anchor="files"))
