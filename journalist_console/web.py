"""`serve`: the console's local web interface (Flask, served by waitress on 127.0.0.1 only).

* No JavaScript and no external resource: every page is server-rendered HTML with one local CSS
  file; the headers forbid scripts, frames, plugins and every browser feature (see _HEADERS).
* The investigator's name and passphrase are asked in the page (the name is prefilled with the
  console's default investigator, so a single-investigator console needs only the passphrase).
  The unlocked console belongs to the browser session that unlocked it (a random token in the
  signed, SameSite=Strict session cookie) and acts as that investigator; any other browser must
  unlock again, and an unlock by another investigator ends the first one's session. "Lock" and
  an idle timeout drop the keys from memory. Account administration asks for the acting
  administrator's passphrase again, so an unlocked, unattended browser cannot add, remove or
  reset anyone.
* Every POST carries a CSRF token (Flask-WTF CSRFProtect); the Host header must name the loopback
  address (TRUSTED_HOSTS), which defeats DNS rebinding.
* Files are never rendered: downloads are attachments of type application/octet-stream; without
  an image library no image is shown inline, and JPEG/PNG get a metadata-stripped download.
"""

from __future__ import annotations

import hmac
import re
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import IO, Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Flask,
    Request,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, SecurityError

from journalist_console import (
    accounts,
    dates,
    exporter,
    files,
    i18n,
    importer,
    metastrip,
    render,
    retention,
    schema,
)
from journalist_console.console import (
    MAX_NOTE_CHARS,
    MAX_REPLY_CHARS,
    MAX_STATUS_NOTE_CHARS,
    RETENTION_MODES,
    Console,
    FileInfo,
)
from journalist_console.errors import (
    ConsoleError,
    ImportRefused,
    NotPermitted,
    Recused,
    UnknownReport,
)
from journalist_console.home import Home, HomeLock, open_vault
from keys.errors import CryptoFormatError, WrongPassphrase
from keys.keyfiles import PublicKey
from keys.records import CATEGORIES, STATUSES

# Beside the packages in a checkout or editable install; under <prefix>/share/wbs-dropbox when
# installed from a wheel (setup.cfg [options.data_files]).
_IN_TREE = Path(__file__).resolve().parent.parent / "templates" / "console"
TEMPLATES = (
    _IN_TREE
    if _IN_TREE.is_dir()
    else Path(sys.prefix) / "share" / "wbs-dropbox" / "templates" / "console"
)
STATIC = TEMPLATES / "static"
LOOPBACK = "127.0.0.1"
DEFAULT_IDLE_SECONDS = 15 * 60
MAX_UPLOAD_BYTES = 4 * 1024 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
_TOKEN = re.compile(r"^[0-9a-f]{32}\Z")
_ENTRY = re.compile(r"^[0-9a-f]{32}\Z")
_EXPORT_NAME = re.compile(r"^wbs-console-[0-9]{5,}(-[0-9]+)?\.bundle\Z")
_USER = re.compile(r"^[a-z][a-z0-9_-]{0,31}\Z")

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Permissions-Policy": ", ".join(
        f"{feature}=()"
        for feature in (
            "accelerometer",
            "ambient-light-sensor",
            "autoplay",
            "battery",
            "bluetooth",
            "camera",
            "clipboard-read",
            "clipboard-write",
            "display-capture",
            "document-domain",
            "encrypted-media",
            "fullscreen",
            "gamepad",
            "geolocation",
            "gyroscope",
            "hid",
            "idle-detection",
            "interest-cohort",
            "magnetometer",
            "microphone",
            "midi",
            "payment",
            "picture-in-picture",
            "publickey-credentials-get",
            "screen-wake-lock",
            "serial",
            "sync-xhr",
            "usb",
            "web-share",
            "xr-spatial-tracking",
        )
    ),
}

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class WebState:
    """The process-wide state of the web console: the lock, and the console once unlocked."""

    home: Home
    lock: HomeLock
    idle_seconds: int
    default_user: str | None = None  # prefilled on the unlock page (serve --user)
    console: Console | None = None
    token: str = ""
    last_seen: float = 0.0
    # Uploaded bundles waiting for the first-import key confirmation: token -> (file, signer)
    uploads: dict[str, tuple[Path, PublicKey]] = field(default_factory=dict)

    def lock_console(self) -> None:
        if self.console is not None:
            self.console.close()
        self.console = None
        self.token = ""
        self.drop_uploads()

    def drop_uploads(self) -> None:
        for path, _signer in self.uploads.values():
            path.unlink(missing_ok=True)
        self.uploads.clear()

    def shutdown(self) -> None:
        self.lock_console()
        self.lock.release()


def _language() -> str:
    chosen = request.cookies.get("lang", i18n.DEFAULT_LANGUAGE)
    return chosen if chosen in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE


def _state() -> WebState:
    from flask import current_app

    return cast(WebState, current_app.extensions["wbs_console"])


def _console() -> Console:
    console = _state().console
    if console is None:  # guarded by the before_request hook
        abort(403)
    return console


def _local_target(target: str | None) -> str:
    """Only a path on this site, never another origin (open-redirect safe)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def _make_request_class(staging: Path) -> type[Request]:
    class StagingRequest(Request):
        """Uploaded bundles spill to the home's staging directory, not to the system's /tmp."""

        def _get_file_stream(
            self,
            total_content_length: int | None,
            content_type: str | None,
            filename: str | None = None,
            content_length: int | None = None,
        ) -> IO[bytes]:
            staging.mkdir(mode=0o700, exist_ok=True)
            return tempfile.TemporaryFile(dir=staging)  # noqa: SIM115

    return StagingRequest


def create_app(
    home: Home,
    idle_seconds: int = DEFAULT_IDLE_SECONDS,
    lock: HomeLock | None = None,
    testing: bool = False,
    default_user: str | None = None,
) -> Flask:
    """The web console for one home; takes the home's lock (refused if another console runs)."""
    home.require_initialised()
    held = lock or HomeLock(home)
    if lock is None:
        held.acquire()
    state = WebState(home=home, lock=held, idle_seconds=idle_seconds, default_user=default_user)
    app = Flask(
        __name__,
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
        static_url_path="/static",
    )
    app.request_class = _make_request_class(home.staging_dir)
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_NAME="wbs_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=False,  # plain HTTP on the loopback interface
        PERMANENT_SESSION_LIFETIME=idle_seconds,
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        TRUSTED_HOSTS=[LOOPBACK, "localhost"],
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=False,
        TESTING=testing,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["wbs_console"] = state
    CSRFProtect(app)
    # File names come from the reporter: show control and bidi-override characters as escapes so
    # "photo\u202egpj.exe" cannot pass for "photoexe.jpg".
    app.jinja_env.filters["visible"] = lambda text: render.safe(text, keep_newlines=False)
    app.jinja_env.globals["ROLES"] = accounts.ROLES
    _register(app, state)
    return app


def _serialised(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = _state()
        with _mutex(state):
            return view(*args, **kwargs)

    return cast(F, wrapper)


class _mutex:
    def __init__(self, state: WebState) -> None:
        self._state = state
        self._held: Console | None = None

    def __enter__(self) -> None:
        console = self._state.console
        if console is not None:
            console.mutex.acquire()
            self._held = console
        else:
            self._held = None

    def __exit__(self, *exc: object) -> None:
        if self._held is not None:
            self._held.mutex.release()


def _register(app: Flask, state: WebState) -> None:  # noqa: C901 - the route table
    @app.before_request
    def guard() -> Any:
        g.lang = _language()
        if request.routing_exception is not None:
            return None  # 404 / 405 / untrusted host: raised by dispatch, handled below
        endpoint = request.endpoint or ""
        if endpoint in ("static", "unlock", "set_language", "favicon"):
            return None
        if state.console is not None and time.monotonic() - state.last_seen > state.idle_seconds:
            state.lock_console()
            flash(i18n.text("locked_idle", g.lang), "info")
        token = session.get("unlock", "")
        if (
            state.console is None
            or not state.token
            or not isinstance(token, str)
            or not hmac.compare_digest(token, state.token)
        ):
            if request.method == "POST" and endpoint == "lock":
                return redirect(url_for("unlock"))
            return redirect(url_for("unlock", next=request.full_path.rstrip("?")))
        state.last_seen = time.monotonic()
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        for name, value in _HEADERS.items():
            response.headers[name] = value
        return response

    @app.context_processor
    def helpers() -> dict[str, Any]:
        lang = getattr(g, "lang", i18n.DEFAULT_LANGUAGE)
        return {
            "lang": lang,
            "t": lambda key, **values: i18n.text(key, lang, **values),
            "status_label": lambda status: i18n.status_label(status, lang),
            "category_label": lambda category: i18n.category_label(category, lang),
            "relation_label": lambda relation: i18n.relation_label(relation, lang),
            "STATUSES": list(STATUSES),
            "RETENTION_MODES": list(RETENTION_MODES),
            "CATEGORIES": list(CATEGORIES),
            "unlocked": state.console is not None,
            "MAX_REPLY_CHARS": MAX_REPLY_CHARS,
            "MAX_NOTE_CHARS": MAX_NOTE_CHARS,
            "MAX_STATUS_NOTE_CHARS": MAX_STATUS_NOTE_CHARS,
            "size_text": _size_text,
            "strippable": _strippable,
            "me": _session_user(state),
            "is_admin": _session_user(state) is not None and _is_admin(state),
        }

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return _error_page(
            400, i18n.text("bad_request", g.get("lang", "id")) + f" ({exc.description})"
        )

    @app.errorhandler(SecurityError)
    def untrusted_host(exc: SecurityError) -> Any:
        # The Host header is not the loopback address (DNS rebinding?): no page, no URLs.
        return Response("400 Bad Request: untrusted host\n", status=400, mimetype="text/plain")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        return _error_page(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(UnknownReport)
    def unknown_report(exc: UnknownReport) -> Any:
        return _error_page(404, i18n.error_text(exc, g.get("lang", i18n.DEFAULT_LANGUAGE)))

    @app.errorhandler(Recused)
    def recused(exc: Recused) -> Any:
        return _error_page(403, i18n.error_text(exc, g.get("lang", i18n.DEFAULT_LANGUAGE)))

    @app.errorhandler(NotPermitted)
    def not_permitted(exc: NotPermitted) -> Any:
        return _error_page(403, i18n.error_text(exc, g.get("lang", i18n.DEFAULT_LANGUAGE)))

    @app.get("/favicon.ico")
    def favicon() -> Any:
        return Response(status=204)

    @app.get("/lang/<code>")
    def set_language(code: str) -> Any:
        response = redirect(_local_target(request.args.get("next")))
        if code in i18n.LANGUAGES:
            response.set_cookie("lang", code, max_age=365 * 86400, httponly=True, samesite="Strict")
        return response

    def default_user() -> str:
        if state.default_user:
            return state.default_user
        return state.home.default_user() or ""

    @app.route("/unlock", methods=["GET", "POST"])
    def unlock() -> Any:
        target = _local_target(request.args.get("next"))
        if request.method == "GET":
            return render_template("unlock.html", next=target, user=default_user())
        passphrase = request.form.get("passphrase", "").encode("utf-8")
        typed = request.form.get("user", "").strip().lower()
        shown = typed or default_user()
        try:
            name = state.home.resolve_user(typed or state.default_user or None)
            if state.console is not None and state.console.user == name:
                open_vault(state.home, passphrase, name)
            else:
                # Another investigator: unlock as them first (a failure changes nothing), then
                # drop the previous investigator's console and session.
                opened = Console.open(state.home, passphrase, name, lock=state.lock)
                with _mutex(state):
                    state.lock_console()
                state.console = opened
        except WrongPassphrase:
            return render_template(
                "unlock.html",
                next=target,
                user=shown,
                error=i18n.text("wrong_passphrase", g.lang),
            ), 401
        except (ConsoleError, CryptoFormatError) as exc:
            return render_template(
                "unlock.html", next=target, user=shown, error=i18n.error_text(exc, g.lang)
            ), 400
        state.token = secrets.token_hex(16)
        state.last_seen = time.monotonic()
        session.clear()
        session["unlock"] = state.token
        return redirect(target)

    @app.post("/lock")
    def lock() -> Any:
        with _mutex(state):
            state.lock_console()
        session.clear()
        flash(i18n.text("locked", g.lang), "info")
        return redirect(url_for("unlock"))

    @app.get("/")
    @_serialised
    def queue() -> Any:
        status = request.args.get("status") or None
        category = request.args.get("category") or None
        mine = request.args.get("mine") == "1"
        if status is not None and status not in STATUSES:
            abort(400, f"unknown status {status[:40]!r}")
        if category is not None and category not in CATEGORIES:
            abort(400, f"unknown category {category[:40]!r}")
        reports = _console().list_reports(status, category, mine=mine)
        return render_template(
            "queue.html", reports=reports, status=status, category=category, mine=mine
        )

    def render_report(regno: str, code: int = 200, error: str | None = None, **form: Any) -> Any:
        console = _console()
        view = console.view(regno)
        return render_template(
            "report.html",
            view=view,
            form=form,
            error=error,
            investigators=accounts.active_names(console.conn),
        ), code

    @app.get("/report/<regno>")
    @_serialised
    def report(regno: str) -> Any:
        console = _console()
        canonical = console.resolve(regno)
        if canonical != regno:
            return redirect(url_for("report", regno=canonical))
        page = render_report(canonical)
        console.mark_viewed(canonical)
        return page

    def report_action(
        regno: str, action: Callable[[Console, str], str], keep: dict[str, str]
    ) -> Any:
        console = _console()
        canonical = console.resolve(regno)
        try:
            message = action(console, canonical)
        except ConsoleError as exc:
            return render_report(canonical, 400, error=i18n.error_text(exc, g.lang), **keep)
        flash(message, "ok")
        return redirect(url_for("report", regno=canonical))

    @app.post("/report/<regno>/reply")
    @_serialised
    def reply(regno: str) -> Any:
        text = request.form.get("message", "")

        def act(console: Console, canonical: str) -> str:
            console.reply(canonical, text)
            return i18n.text("reply_saved", g.lang)

        return report_action(regno, act, {"reply": text})

    @app.post("/report/<regno>/status")
    @_serialised
    def status(regno: str) -> Any:
        new_status = request.form.get("status", "")
        note = request.form.get("note", "")

        def act(console: Console, canonical: str) -> str:
            console.set_status(canonical, new_status, note)
            return i18n.text("status_saved", g.lang)

        return report_action(regno, act, {"status_note": note})

    @app.post("/report/<regno>/note")
    @_serialised
    def note(regno: str) -> Any:
        text = request.form.get("text", "")

        def act(console: Console, canonical: str) -> str:
            console.add_note(canonical, text)
            return i18n.text("note_saved", g.lang)

        return report_action(regno, act, {"note": text})

    @app.post("/report/<regno>/assign")
    @_serialised
    def assign(regno: str) -> Any:
        name = request.form.get("assignee", "").strip()

        def act(console: Console, canonical: str) -> str:
            if not name:
                previous = accounts.unassign(console, canonical)
                return i18n.text("unassigned_ok" if previous else "was_not_assigned", g.lang)
            accounts.assign(console, canonical, name)
            return i18n.text("assigned_ok", g.lang, user=name)

        return report_action(regno, act, {})

    @app.post("/report/<regno>/recuse")
    @_serialised
    def recuse(regno: str) -> Any:
        console = _console()
        canonical = console.resolve(regno)
        reason = request.form.get("reason", "")
        if request.form.get("confirm") != "yes":
            return render_report(
                canonical, 400, error=i18n.text("recuse_confirm_missing", g.lang), reason=reason
            )
        try:
            accounts.recuse(console, canonical, reason)
        except ConsoleError as exc:
            return render_report(canonical, 400, error=i18n.error_text(exc, g.lang), reason=reason)
        flash(i18n.text("recused_ok", g.lang, regno=canonical), "ok")
        return redirect(url_for("queue"))

    @app.post("/report/<regno>/save")
    @_serialised
    def save(regno: str) -> Any:
        folder = request.form.get("folder", "").strip()

        def act(console: Console, canonical: str) -> str:
            if not folder or not Path(folder).is_absolute():
                raise ConsoleError("give the full path of an existing folder", "folder_absolute")
            saved = files.save_files(console, canonical, Path(folder))
            written = [item for item in saved if item.path is not None]
            problems = [item.problem for item in saved if item.problem]
            return i18n.text("saved_files", g.lang, count=len(written), folder=folder) + (
                " " + "; ".join(p for p in problems if p) if problems else ""
            )

        return report_action(regno, act, {"folder": folder})

    @app.get("/report/<regno>/file/<entry_id>")
    @_serialised
    def download(regno: str, entry_id: str) -> Any:
        return _download(regno, entry_id, stripped=False)

    @app.get("/report/<regno>/file/<entry_id>/stripped")
    @_serialised
    def download_stripped(regno: str, entry_id: str) -> Any:
        return _download(regno, entry_id, stripped=True)

    def _download(regno: str, entry_id: str, stripped: bool) -> Any:
        console = _console()
        canonical = console.resolve(regno)
        if not _ENTRY.match(entry_id):
            abort(404)
        try:
            info, data = console.read_file_bytes(canonical, entry_id, MAX_DOWNLOAD_BYTES)
        except ConsoleError as exc:
            return render_report(canonical, 400, error=i18n.error_text(exc, g.lang))
        name = files.safe_name(info.name, fallback=f"file-{entry_id[:8]}")
        if stripped:
            try:
                kind, data = metastrip.strip(data)
            except metastrip.StripError as exc:
                message = i18n.text("strip_failed", g.lang, reason=str(exc))
                return render_report(canonical, 400, error=message)
            name = files.stripped_name(name, kind)
        console.record_download(canonical, entry_id, stripped)
        response = Response(data, mimetype="application/octet-stream")
        response.headers.set("Content-Disposition", "attachment", filename=name)
        return response

    @app.route("/import", methods=["GET", "POST"])
    @_serialised
    def import_page() -> Any:
        console = _console()
        if request.method == "GET":
            return _import_page(console)
        upload = request.files.get("bundle")
        if upload is None or not upload.filename:
            return _import_page(console, error="choose a bundle file", code=400)
        token = secrets.token_hex(16)
        path = state.home.staging_dir / f"upload-{token}.bundle"
        upload.save(path)
        seen: list[PublicKey] = []

        def ask(signer: PublicKey) -> bool:
            seen.append(signer)
            return False

        pinned = console.pinned_server_key
        try:
            result = importer.import_bundle(console, path, None, None if pinned else ask)
        except ImportRefused as exc:
            if seen and pinned is None:
                state.drop_uploads()  # only the newest upload waits for confirmation
                state.uploads[token] = (path, seen[0])
                return render_template(
                    "import_confirm.html", token=token, fingerprint=seen[0].fingerprint
                )
            path.unlink(missing_ok=True)
            message = i18n.text(
                "import_refused", g.lang, reason=str(exc).removeprefix("bundle refused: ")
            )
            return _import_page(console, error=message, code=400)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        path.unlink(missing_ok=True)
        _flash_import(result)
        return redirect(url_for("import_page"))

    @app.post("/import/confirm")
    @_serialised
    def import_confirm() -> Any:
        console = _console()
        token = request.form.get("token", "")
        waiting = state.uploads.pop(token, None) if _TOKEN.match(token) else None
        if waiting is None:
            return _import_page(console, error=i18n.text("upload_expired", g.lang), code=400)
        path, shown = waiting  # the key whose fingerprint the page showed, kept server-side
        if request.form.get("decision") != "trust":
            path.unlink(missing_ok=True)
            return redirect(url_for("import_page"))
        try:
            result = importer.import_bundle(console, path, None, lambda signer: signer == shown)
        except ImportRefused as exc:
            message = i18n.text(
                "import_refused", g.lang, reason=str(exc).removeprefix("bundle refused: ")
            )
            return _import_page(console, error=message, code=400)
        finally:
            path.unlink(missing_ok=True)
        _flash_import(result)
        return redirect(url_for("import_page"))

    def _flash_import(result: importer.ImportResult) -> None:
        lang = g.lang
        if result.already_imported:
            flash(i18n.text("already_imported", lang, seq=result.sequence), "info")
            return
        flash(
            i18n.text(
                "imported",
                lang,
                seq=result.sequence,
                reports=result.new_reports,
                entries=result.new_entries,
            ),
            "ok",
        )
        if result.gap:
            flash(i18n.text("gap_warning", lang, first=result.gap[0], last=result.gap[1]), "error")
        for regno in result.unreadable:
            flash(i18n.text("unreadable_warning", lang, regno=regno), "error")

    def _import_page(console: Console, error: str | None = None, code: int = 200) -> Any:
        imports = console.conn.execute(
            "SELECT sequence, created_day, imported_day, new_entries FROM imports "
            "ORDER BY imported_day DESC, sequence DESC LIMIT 50"
        ).fetchall()
        pinned = console.pinned_server_key
        return render_template(
            "import.html",
            imports=imports,
            pinned=pinned.fingerprint if pinned else None,
            error=error,
        ), code

    @app.route("/export", methods=["GET", "POST"])
    @_serialised
    def export_page() -> Any:
        console = _console()
        if request.method == "POST":
            sequence = int(schema.get_setting(console.conn, "export_sequence") or "0") + 1
            pending = console.conn.execute(
                "SELECT min(sequence) FROM exports WHERE state = 'pending'"
            ).fetchone()[0]
            if pending is not None:
                sequence = int(pending)
            state.home.exports_dir.mkdir(mode=0o700, exist_ok=True)
            out = state.home.exports_dir / f"wbs-console-{sequence:05d}.bundle"
            suffix = 2
            while out.exists():
                out = state.home.exports_dir / f"wbs-console-{sequence:05d}-{suffix}.bundle"
                suffix += 1
            try:
                result = exporter.export_bundle(console, out)
            except ConsoleError as exc:
                return _export_page(console, error=i18n.error_text(exc, g.lang), code=400)
            key = (
                "exported_completed"
                if result.completed_interrupted
                else ("exported_empty" if result.empty else "exported_ok")
            )
            flash(
                i18n.text(
                    key, g.lang, seq=result.sequence, responses=result.responses, acks=result.acks
                ),
                "ok",
            )
            return redirect(url_for("export_page"))
        return _export_page(console)

    def _export_page(console: Console, error: str | None = None, code: int = 200) -> Any:
        stats = console.stats()
        written = sorted(
            (p.name for p in state.home.exports_dir.glob("wbs-console-*.bundle")), reverse=True
        )
        return render_template(
            "export.html",
            stats=stats,
            exports=exporter.exports_written(console),
            files=written,
            error=error,
        ), code

    @app.get("/export/file/<name>")
    @_serialised
    def export_file(name: str) -> Any:
        if not _EXPORT_NAME.match(name):
            abort(404)
        path = state.home.exports_dir / name
        if not path.is_file():
            abort(404)
        return send_file(
            path, mimetype="application/octet-stream", as_attachment=True, download_name=name
        )

    @app.get("/stats")
    @_serialised
    def stats_page() -> Any:
        console = _console()
        return render_template(
            "stats.html",
            stats=console.stats(),
            today=dates.today(),
            retention=_retention_facts(console) if console.is_admin else None,
        )

    def retention_page(code: int = 200, error: str | None = None, **form: Any) -> Any:
        console = _console()
        accounts.require_admin(console, "manage retention")
        return render_template(
            "retention.html", retention=_retention_facts(console), form=form, error=error
        ), code

    @app.get("/retention")
    @_serialised
    def retention_view() -> Any:
        return retention_page()

    @app.post("/retention/settings")
    @_serialised
    def retention_settings() -> Any:
        console = _console()
        accounts.require_admin(console, "change the console's settings")
        days_text = request.form.get("retention_days", "").strip()
        mode = request.form.get("retention_mode", "") or None
        folder = request.form.get("archive_dir", "").strip() or None
        keep = {"retention_days": days_text, "archive_dir": folder or ""}
        try:
            try:
                days = int(days_text) if days_text else None
            except ValueError:
                raise ConsoleError(
                    "retention days must be a whole number", "retention_days_invalid"
                ) from None
            console.configure(retention_days=days, retention_mode=mode, archive_dir=folder)
        except NotPermitted:
            raise
        except ConsoleError as exc:
            return retention_page(400, i18n.error_text(exc, g.lang), **keep)
        flash(i18n.text("retention_saved", g.lang), "ok")
        return redirect(url_for("retention_view"))

    @app.post("/retention/run")
    @_serialised
    def retention_run() -> Any:
        console = _console()
        accounts.require_admin(console, "run retention")
        if request.form.get("confirm") != "yes":
            return retention_page(400, i18n.text("retention_confirm_missing", g.lang))
        try:
            _confirm_passphrase(console)
            result = retention.run(console)
        except NotPermitted:
            raise
        except ConsoleError as exc:
            return retention_page(400, i18n.error_text(exc, g.lang))
        lang = g.lang
        if result.archives:
            flash(
                i18n.text(
                    "retention_archived",
                    lang,
                    n=len(result.archives),
                    folder=result.plan.archive_dir or "",
                ),
                "ok",
            )
        flash(i18n.text("retention_done", lang, n=result.removed), "ok")
        if result.not_archived:
            reasons = "; ".join(f"{regno}: {why}" for regno, why in result.not_archived)
            flash(
                i18n.text(
                    "retention_not_archived", lang, n=len(result.not_archived), reasons=reasons
                ),
                "error",
            )
        return redirect(url_for("retention_view"))

    @app.get("/audit")
    @_serialised
    def audit_page() -> Any:
        console = _console()
        return render_template(
            "audit.html",
            result=console.audit_verify(),
            entries=console.audit_entries(200),
        )

    _register_accounts(app, state)


def _retention_facts(console: Console) -> dict[str, Any]:
    """The retention setting and a dry-run preview (counts only), for an administrator's page."""
    preview = retention.plan(console)
    return {
        "days": console.retention_days,
        "mode": console.retention_mode,
        "archive_dir": console.archive_dir,
        "due": len(preview.due),
        "waiting": preview.waiting,
        "cutoff": preview.cutoff.isoformat() if preview.cutoff else None,
    }


def _session_user(state: WebState) -> str | None:
    """The investigator this browser session unlocked as (None for any other session)."""
    token = session.get("unlock", "")
    if (
        state.console is None
        or not state.token
        or not isinstance(token, str)
        or not hmac.compare_digest(token, state.token)
    ):
        return None
    return state.console.user


def _is_admin(state: WebState) -> bool:
    console = state.console
    if console is None:
        return False
    try:
        return console.is_admin
    except ConsoleError:
        return False


def _confirm_passphrase(console: Console) -> None:
    """Account administration asks for the acting investigator's passphrase again."""
    typed = request.form.get("current_passphrase", "").encode("utf-8")
    try:
        open_vault(console.home, typed, console.user)
    except (WrongPassphrase, ConsoleError) as exc:
        raise ConsoleError("your passphrase is wrong", "confirm_passphrase_wrong") from exc


def _register_accounts(app: Flask, state: WebState) -> None:  # noqa: C901 - the route table
    """Investigators' accounts and recusals: /users, /users/<name>, and their forms."""

    def users_page(code: int = 200, error: str | None = None, **form: Any) -> Any:
        console = _console()
        return render_template(
            "users.html",
            users=accounts.all_accounts(console.conn),
            recusals=accounts.recusals(console),
            author=console.author_name,
            form=form,
            error=error,
        ), code

    def user_page(name: str, code: int = 200, error: str | None = None, **form: Any) -> Any:
        console = _console()
        account = accounts.get(console.conn, name) if _USER.match(name) else None
        if account is None:
            abort(404)
        if name != console.user and not console.is_admin:
            raise NotPermitted("only an administrator can manage other accounts", "admin_only")
        return render_template(
            "user.html",
            account=account,
            author=console.author_name,
            form=form,
            error=error,
        ), code

    @app.get("/users")
    @_serialised
    def users() -> Any:
        return users_page()

    @app.post("/users/add")
    @_serialised
    def user_add() -> Any:
        console = _console()
        name = request.form.get("name", "").strip()
        display = request.form.get("display_name", "").strip()
        keep = {"name": name, "display_name": display}
        try:
            accounts.require_admin(console, "add investigators")
            _confirm_passphrase(console)
            new = _new_passphrase()
            accounts.add_user(
                console,
                name,
                new,
                admin=request.form.get("admin") == "yes",
                display_name=display or None,
            )
        except NotPermitted:
            raise
        except ConsoleError as exc:
            return users_page(400, i18n.error_text(exc, g.lang), **keep)
        flash(i18n.text("user_added", g.lang, user=name), "ok")
        return redirect(url_for("users"))

    @app.get("/users/<name>")
    @_serialised
    def user(name: str) -> Any:
        return user_page(name)

    def user_action(name: str, action: Callable[[Console], str], keep: dict[str, str]) -> Any:
        console = _console()
        if not _USER.match(name) or accounts.get(console.conn, name) is None:
            abort(404)
        try:
            _confirm_passphrase(console)
            message = action(console)
        except NotPermitted:
            raise
        except ConsoleError as exc:
            return user_page(name, 400, i18n.error_text(exc, g.lang), **keep)
        flash(message, "ok")
        return redirect(url_for("user", name=name))

    @app.post("/users/<name>/passphrase")
    @_serialised
    def user_passphrase(name: str) -> Any:
        def act(console: Console) -> str:
            if name != console.user:
                accounts.require_admin(console, "reset another investigator's passphrase")
            accounts.set_passphrase(console, name, _new_passphrase())
            return i18n.text(
                "passphrase_changed" if name == console.user else "passphrase_reset",
                g.lang,
                user=name,
            )

        return user_action(name, act, {})

    @app.post("/users/<name>/edit")
    @_serialised
    def user_edit(name: str) -> Any:
        role = request.form.get("role") or None
        display = request.form.get("display_name", "").strip()
        default = request.form.get("default_display_name") == "yes"

        def act(console: Console) -> str:
            accounts.edit_user(
                console,
                name,
                role=role,
                display_name=None if default or not display else display,
                clear_display_name=default,
            )
            return i18n.text("user_changed", g.lang, user=name)

        return user_action(name, act, {"display_name": display})

    @app.post("/users/<name>/remove")
    @_serialised
    def user_remove(name: str) -> Any:
        console = _console()
        accounts.require_admin(console, "remove investigators")
        if request.form.get("confirm_name", "").strip() != name:
            return user_page(name, 400, i18n.text("remove_confirm_missing", g.lang))
        try:
            _confirm_passphrase(console)
            accounts.remove_user(console, name)
        except NotPermitted:
            raise
        except ConsoleError as exc:
            return user_page(name, 400, i18n.error_text(exc, g.lang))
        flash(i18n.text("user_removed_ok", g.lang, user=name), "ok")
        return redirect(url_for("users"))

    @app.post("/recusals/lift")
    @_serialised
    def recusal_lift() -> Any:
        console = _console()
        regno = request.form.get("regno", "")
        name = request.form.get("user", "")
        try:
            accounts.require_admin(console, "lift a recusal")
            _confirm_passphrase(console)
            canonical = accounts.lift_recusal(console, regno, name)
        except (NotPermitted, UnknownReport):
            raise
        except ConsoleError as exc:
            return users_page(400, i18n.error_text(exc, g.lang))
        flash(i18n.text("recusal_lifted", g.lang, user=name, regno=canonical), "ok")
        return redirect(url_for("users"))


def _new_passphrase() -> bytes:
    new = request.form.get("new_passphrase", "")
    if new != request.form.get("new_passphrase_again", ""):
        raise ConsoleError("the two passphrases differ; nothing changed", "passphrases_differ")
    return new.encode("utf-8")


def _error_page(code: int, message: str) -> Any:
    return render_template("error.html", code=code, message=message), code


def _strippable(info: FileInfo) -> bool:
    """Offer a metadata-free download for what looks like JPEG/PNG (checked by content later)."""
    name = (info.name or "").lower()
    return (info.media_type or "").lower() in ("image/jpeg", "image/jpg", "image/png") or (
        name.endswith((".jpg", ".jpeg", ".png"))
    )


def _size_text(size: int | None) -> str:
    if size is None:
        return "?"
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def serve(home: Home, host: str, port: int, user: str | None = None) -> None:
    """Run the web console with waitress on the loopback interface only.

    `user` prefills the unlock page's name (default: the console's default investigator).
    """
    if host not in (LOOPBACK, "localhost"):
        raise ConsoleError("the console only listens on 127.0.0.1; refusing another address")
    import waitress

    app = create_app(home, default_user=user)

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        # One worker thread: requests are handled one at a time (one investigator, one browser),
        # so unlocking, locking and every database transaction are naturally serialised.
        server = waitress.create_server(
            app, host=LOOPBACK, port=port, threads=1, ident="wbs-console"
        )
        print(f"Console at http://{LOOPBACK}:{port}/  (Ctrl-C to stop)", flush=True)
        server.run()  # returns on Ctrl-C / SIGTERM (waitress closes the server itself)
    except KeyboardInterrupt:
        pass
    finally:
        app.extensions["wbs_console"].shutdown()
    print("Console stopped; keys dropped from memory.", flush=True)
