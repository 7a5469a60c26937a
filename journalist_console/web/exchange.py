"""The USB crossing from the browser: import a server bundle, write and download response bundles.

An uploaded bundle spills to the home's staging/ folder, never to /tmp (app.py). At the first
import the server key is not pinned yet: the page shows the signer's fingerprint to compare with
the one the operator reads out, and keeps the upload (server-side, by a random token) until the
investigator confirms or cancels. Only the newest upload waits; locking drops it.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for

from journalist_console import exporter, importer, settings, statistics, worklist
from journalist_console.errors import ConsoleError, ImportRefused
from journalist_console.web.state import current_session, error_text, gettext, serialised, state
from keys.keyfiles import PublicKey

blueprint = Blueprint("exchange", __name__)
_TOKEN = re.compile(r"^[0-9a-f]{32}\Z")


def _import_page(error: str | None = None, code: int = 200) -> Any:
    session = current_session()
    pinned = settings.pinned_server_key(session.conn)
    chosen = request.args.get("bundle", "")  # after an import: links to what it brought
    sequence = int(chosen) if chosen.isdigit() and len(chosen) < 10 else None
    return render_template(
        "import.html",
        imports=importer.recent_imports(session),
        pinned=pinned.fingerprint if pinned else None,
        error=error,
        bundle=sequence,
        arrivals=None if sequence is None else worklist.arrivals(session, sequence),
    ), code


def _refused(exc: ImportRefused) -> Any:
    reason = str(exc).removeprefix("bundle refused: ")
    return _import_page(error=gettext("Bundle refused: %(reason)s", reason=reason), code=400)


@blueprint.get("/import")
@serialised
def import_page() -> Any:
    return _import_page()


@blueprint.post("/import")
@serialised
def import_upload() -> Any:
    session, held = current_session(), state()
    upload = request.files.get("bundle")
    if upload is None or not upload.filename:
        return _import_page(error="choose a bundle file", code=400)
    token = secrets.token_hex(16)
    path = held.home.staging_dir / f"upload-{token}.bundle"
    upload.save(path)
    seen: list[PublicKey] = []

    def ask(signer: PublicKey) -> bool:
        seen.append(signer)
        return False

    pinned = settings.pinned_server_key(session.conn)
    try:
        result = importer.import_bundle(session, path, None, None if pinned else ask)
    except ImportRefused as exc:
        if seen and pinned is None:
            held.drop_uploads()  # only the newest upload waits for confirmation
            held.uploads[token] = (path, seen[0])
            fingerprint = seen[0].fingerprint
            return render_template("import_confirm.html", token=token, fingerprint=fingerprint)
        return _refused(exc)
    finally:
        if token not in held.uploads:
            path.unlink(missing_ok=True)
    return _imported(result)


@blueprint.post("/import/confirm")
@serialised
def import_confirm() -> Any:
    token = request.form.get("token", "")
    waiting = state().uploads.pop(token, None) if _TOKEN.match(token) else None
    if waiting is None:
        return _import_page(error=gettext("The upload expired; choose the file again."), code=400)
    path, shown = waiting  # the key whose fingerprint the page showed, kept server-side
    try:
        if request.form.get("decision") != "trust":
            return redirect(url_for("exchange.import_page"))
        result = importer.import_bundle(
            current_session(), path, None, lambda signer: signer == shown
        )
    except ImportRefused as exc:
        return _refused(exc)
    finally:
        path.unlink(missing_ok=True)
    return _imported(result)


def _imported(result: importer.ImportResult) -> Any:
    """Say what the import did, then show the import page with links to what it brought."""
    _flash_import(result)
    if result.already_imported or not result.new_entries:
        return redirect(url_for("exchange.import_page"))
    return redirect(url_for("exchange.import_page", bundle=result.sequence))


def _flash_import(result: importer.ImportResult) -> None:
    if result.already_imported:
        said = gettext("Bundle %(seq)s was imported before; nothing changed.", seq=result.sequence)
        flash(said, "info")
        return
    counts = {"reports": result.new_reports, "entries": result.new_entries}
    said = gettext(
        "Imported bundle %(seq)s: %(reports)s new reports, %(entries)s new entries.",
        seq=result.sequence,
        **counts,
    )
    flash(said, "ok")
    if result.gap:
        said = gettext(
            "Warning: bundles %(first)s–%(last)s from this server were never imported here.",
            first=result.gap[0],
            last=result.gap[1],
        )
        flash(said, "error")
    for regno in result.unreadable:
        said = gettext(
            "Warning: %(regno)s holds an envelope this console cannot decrypt.", regno=regno
        )
        flash(said, "error")


def _export_page(error: str | None = None, code: int = 200) -> Any:
    session = current_session()
    return render_template(
        "export.html",
        stats=statistics.stats(session),
        exports=exporter.exports_written(session),
        files=[path.name for path in exporter.bundle_files(session.home)],
        error=error,
    ), code


@blueprint.get("/export")
@serialised
def export_page() -> Any:
    return _export_page()


@blueprint.post("/export")
@serialised
def export_write() -> Any:
    session = current_session()
    try:
        result = exporter.export_bundle(session, exporter.next_bundle_path(session))
    except ConsoleError as exc:
        return _export_page(error=error_text(exc), code=400)
    seq, responses, acks = result.sequence, result.responses, result.acks
    if result.completed_interrupted:
        said = gettext(
            "Completed the interrupted export %(seq)s; export again for anything newer.", seq=seq
        )
    elif result.empty:
        said = gettext("Nothing new; an empty bundle %(seq)s was written anyway.", seq=seq)
    else:
        said = gettext(
            "Wrote bundle %(seq)s: %(responses)s responses, %(acks)s acknowledgements.",
            seq=seq,
            responses=responses,
            acks=acks,
        )
    flash(said, "ok")
    return redirect(url_for("exchange.export_page"))


@blueprint.get("/export/file/<name>")
@serialised
def export_file(name: str) -> Any:
    path = exporter.bundle_file(state().home, name)
    if path is None:
        abort(404)
    return send_file(
        path, mimetype="application/octet-stream", as_attachment=True, download_name=name
    )
