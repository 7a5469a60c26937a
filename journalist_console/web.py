"""`serve`: the console's local web interface (Flask, served by waitress on 127.0.0.1 only).

* No JavaScript and no external resource: every page is server-rendered HTML with one local CSS
  file; the headers forbid scripts, frames, plugins and every browser feature (see _HEADERS).
* The passphrase is asked in the page. The unlocked console belongs to the browser session that
  unlocked it (a random token in the signed, SameSite=Strict session cookie); any other browser
  must unlock again. "Lock" and an idle timeout drop the keys from memory.
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
    dates,
    exporter,
    files,
    i18n,
    importer,
    metastrip,
    render,
    schema,
)
from journalist_console.console import (
    MAX_NOTE_CHARS,
    MAX_REPLY_CHARS,
    MAX_STATUS_NOTE_CHARS,
    Console,
    FileInfo,
)
from journalist_console.errors import ConsoleError, ImportRefused, UnknownReport
from journalist_console.home import Home, HomeLock, open_vault
from keys.errors import CryptoFormatError, WrongPassphrase
from keys.keyfiles import PublicKey
from keys.records import CATEGORIES, STATUSES

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "console"
STATIC = TEMPLATES / "static"
LOOPBACK = "127.0.0.1"
DEFAULT_IDLE_SECONDS = 15 * 60
MAX_UPLOAD_BYTES = 4 * 1024 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_ENTRY = re.compile(r"^[0-9a-f]{32}$")
_EXPORT_NAME = re.compile(r"^wbs-console-[0-9]{5,}(-[0-9]+)?\.bundle$")

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
) -> Flask:
    """The web console for one home; takes the home's lock (refused if another console runs)."""
    home.require_initialised()
    held = lock or HomeLock(home)
    if lock is None:
        held.acquire()
    state = WebState(home=home, lock=held, idle_seconds=idle_seconds)
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
            "CATEGORIES": list(CATEGORIES),
            "unlocked": state.console is not None,
            "MAX_REPLY_CHARS": MAX_REPLY_CHARS,
            "MAX_NOTE_CHARS": MAX_NOTE_CHARS,
            "MAX_STATUS_NOTE_CHARS": MAX_STATUS_NOTE_CHARS,
            "size_text": _size_text,
            "strippable": _strippable,
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

    @app.get("/favicon.ico")
    def favicon() -> Any:
        return Response(status=204)

    @app.get("/lang/<code>")
    def set_language(code: str) -> Any:
        response = redirect(_local_target(request.args.get("next")))
        if code in i18n.LANGUAGES:
            response.set_cookie("lang", code, max_age=365 * 86400, httponly=True, samesite="Strict")
        return response

    @app.route("/unlock", methods=["GET", "POST"])
    def unlock() -> Any:
        target = _local_target(request.args.get("next"))
        if request.method == "GET":
            return render_template("unlock.html", next=target)
        passphrase = request.form.get("passphrase", "").encode("utf-8")
        try:
            if state.console is None:
                state.console = Console.open(state.home, passphrase, lock=state.lock)
            else:
                open_vault(state.home, passphrase, state.console.user)
        except WrongPassphrase:
            return render_template(
                "unlock.html", next=target, error=i18n.text("wrong_passphrase", g.lang)
            ), 401
        except (ConsoleError, CryptoFormatError) as exc:
            return render_template("unlock.html", next=target, error=str(exc)), 400
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
        if status is not None and status not in STATUSES:
            abort(400, f"unknown status {status[:40]!r}")
        if category is not None and category not in CATEGORIES:
            abort(400, f"unknown category {category[:40]!r}")
        reports = _console().list_reports(status, category)
        return render_template("queue.html", reports=reports, status=status, category=category)

    def render_report(regno: str, code: int = 200, error: str | None = None, **form: Any) -> Any:
        console = _console()
        view = console.view(regno)
        return render_template("report.html", view=view, form=form, error=error), code

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
        return render_template("stats.html", stats=_console().stats(), today=dates.today())

    @app.get("/audit")
    @_serialised
    def audit_page() -> Any:
        from journalist_console import audit

        console = _console()
        return render_template(
            "audit.html",
            result=console.audit_verify(),
            entries=audit.entries(console.conn, 200),
        )


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


def serve(home: Home, host: str, port: int) -> None:
    """Run the web console with waitress on the loopback interface only."""
    if host not in (LOOPBACK, "localhost"):
        raise ConsoleError("the console only listens on 127.0.0.1; refusing another address")
    import waitress

    app = create_app(home)

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
