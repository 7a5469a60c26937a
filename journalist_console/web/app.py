"""`serve`: the console's local web interface (Flask, served by waitress on 127.0.0.1 only).

This module builds the application: configuration, the headers every response carries, the
guard in front of every page, error pages, and `serve`. The pages are blueprints: unlock.py
(unlocking, locking, language), reports.py, renditions.py (a report's files: safe pages, safe
copies, originals behind a warning), exchange.py (import and export) and admin.py (accounts,
recusals, retention); what they share is state.py.

* No JavaScript and no external resource: every page is server-rendered HTML with one local CSS
  file; the headers forbid scripts, frames, plugins and every browser feature (see HEADERS).
* The unlocked console belongs to the browser session that unlocked it and acts as that
  investigator; 15 minutes without a request (`idle_seconds`) drop the keys from memory.
* Every POST carries a CSRF token (Flask-WTF CSRFProtect); the Host header must name the loopback
  address (TRUSTED_HOSTS), which defeats DNS rebinding.
* Indonesian by default, English through a link (a `lang` cookie); the texts are the console's
  Flask-Babel catalog (journalist_console/translations). A translation is text, never markup:
  templates escape the whole translated sentence, values included.
"""

from __future__ import annotations

import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from flask import Flask, Request, Response, flash, g, redirect, request, url_for
from flask import session as cookie
from flask_babel import Babel, get_translations
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, SecurityError

from journalist_console import render, responses, settings
from journalist_console.accounts import ROLES
from journalist_console.errors import ConsoleError, NotPermitted, Recused, UnknownReport
from journalist_console.home import Home, HomeLock
from journalist_console.labels import (
    NOT_GIVEN,
    RELATION_LABELS,
    ROLE_LABELS,
    STANDARD_TEXT_LABELS,
)
from journalist_console.texts import with_numbers
from journalist_console.web import admin, exchange, figures, renditions, reports, texts, unlock
from journalist_console.web.state import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    WebState,
    acting_admin,
    category_label,
    decimal,
    error_page,
    error_text,
    gettext,
    keep_typed_for,
    label,
    mutex,
    number,
    session_user,
    state,
    status_label,
)
from keys.records import CATEGORIES, STATUSES

# Beside the packages in a checkout or editable install; under <prefix>/share/wbs-dropbox when
# installed from a wheel (setup.cfg [options.data_files]).
_IN_TREE = Path(__file__).resolve().parents[2] / "templates" / "console"
TEMPLATES = (
    _IN_TREE
    if _IN_TREE.is_dir()
    else Path(sys.prefix) / "share" / "wbs-dropbox" / "templates" / "console"
)
STATIC = TEMPLATES / "static"
TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
LOOPBACK = "127.0.0.1"
DEFAULT_IDLE_SECONDS = 15 * 60
# The signed session cookie slides with every request and outlives the idle lock by far: the
# server decides idleness (WebState.last_seen) and drops the keys; the cookie only has to still
# carry the CSRF token when a form typed for longer than that arrives, so the guard can keep
# what it holds (journalist_console/drafts.py) instead of refusing it.
COOKIE_SECONDS = 12 * 60 * 60
MAX_UPLOAD_BYTES = 4 * 1024 * 1024 * 1024

_FEATURES = (
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
HEADERS = {
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
    "Permissions-Policy": ", ".join(f"{feature}=()" for feature in _FEATURES),
}


def _staging_request(staging: Path) -> type[Request]:
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
    app = Flask(
        __name__,
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
        static_url_path="/static",
    )
    app.request_class = _staging_request(home.staging_dir)
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_NAME="wbs_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=False,  # plain HTTP on the loopback interface
        PERMANENT_SESSION_LIFETIME=max(COOKIE_SECONDS, idle_seconds),
        SESSION_REFRESH_EACH_REQUEST=True,
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        TRUSTED_HOSTS=[LOOPBACK, "localhost"],
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=False,
        TESTING=testing,
        TEMPLATES_AUTO_RELOAD=False,
        BABEL_DEFAULT_LOCALE=DEFAULT_LANGUAGE,
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
    )
    app.extensions["wbs_console"] = WebState(
        home=home, lock=held, idle_seconds=idle_seconds, default_user=default_user
    )
    # The page language first: a refused CSRF token (checked next) is said in it too.
    app.before_request(_set_language)
    CSRFProtect(app)
    Babel(app, locale_selector=lambda: g.get("lang", DEFAULT_LANGUAGE))
    _install_gettext(app)
    # File names come from the reporter: show control and bidi-override characters as escapes so
    # "photo\u202egpj.exe" cannot pass for "photoexe.jpg".
    app.jinja_env.filters["visible"] = lambda value: render.safe(value, keep_newlines=False)
    app.jinja_env.globals["ROLES"] = ROLES
    app.jinja_env.filters["number"] = number  # 10.000 in Indonesian, 10,000 in English
    app.jinja_env.filters["decimal"] = decimal  # 12,5 in Indonesian, 12.5 in English
    app.before_request(_guard)
    app.after_request(_headers)
    app.context_processor(_template_values)
    _register_errors(app)
    for blueprint in (
        unlock.blueprint,
        reports.blueprint,
        exchange.blueprint,
        admin.blueprint,
        figures.blueprint,
        texts.blueprint,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(renditions.blueprint)
    return app


def _install_gettext(app: Flask) -> None:
    """Templates' _(), gettext() and pgettext() return text, not markup: the sentence is escaped
    as a whole when the page is rendered, so no translation can inject HTML."""

    def template_gettext(msgid: str, **values: object) -> str:
        text = str(get_translations().ugettext(msgid))
        return text % with_numbers(values, number) if values else text

    def template_pgettext(context: str, msgid: str, **values: object) -> str:
        text = str(get_translations().upgettext(context, msgid))
        return text % with_numbers(values, number) if values else text

    def template_ngettext(singular: str, plural: str, count: int, **values: object) -> str:
        text = str(get_translations().ungettext(singular, plural, count))
        return text % with_numbers({"num": count, **values}, number)

    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=template_gettext,
        ngettext=template_ngettext,
        pgettext=template_pgettext,
        newstyle=False,
    )


def _language() -> str:
    chosen = request.cookies.get("lang", DEFAULT_LANGUAGE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def _set_language() -> None:
    g.lang = _language()


def _guard() -> Any:
    """Every page but unlocking needs this browser's unlocked session, used within the idle time."""
    if request.routing_exception is not None:
        return None  # 404 / 405 / untrusted host: raised by dispatch, handled below
    endpoint = request.endpoint or ""
    if endpoint in unlock.OPEN_ENDPOINTS:
        return None
    held = state()
    if held.session is not None and time.monotonic() - held.last_seen > held.idle_seconds:
        mine = held.holds(cookie.get("unlock", ""))
        with mutex(held):
            # The keys are still in memory until now: what this browser's form carries is kept
            # (encrypted in the database) before they go.
            kept = mine and request.method == "POST" and keep_typed_for(held.session, request.form)
            held.lock_console()
        flash(gettext("The console was locked after a period of inactivity."), "info")
        if kept:
            flash(unlock.kept_message(), "info")
            return redirect(unlock.back_to_report(request.form))
    if not held.holds(cookie.get("unlock", "")):
        carried = unlock.carried(request.form) if request.method == "POST" else None
        if carried is not None:
            return unlock.carry_page(carried)
        if request.method == "POST" and endpoint == "unlock.lock":
            return redirect(url_for("unlock.unlock"))
        return redirect(url_for("unlock.unlock", next=request.full_path.rstrip("?")))
    held.last_seen = time.monotonic()
    return None


def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


def _template_values() -> dict[str, Any]:
    me = session_user()
    return {
        "lang": g.get("lang", DEFAULT_LANGUAGE),
        "status_label": status_label,
        "category_label": category_label,
        "relation_label": lambda relation: label(RELATION_LABELS, relation, NOT_GIVEN),
        "role_label": lambda role: label(ROLE_LABELS, role, NOT_GIVEN),
        "standard_label": lambda name: label(STANDARD_TEXT_LABELS, name, NOT_GIVEN),
        "STATUSES": list(STATUSES),
        "RETENTION_MODES": list(settings.RETENTION_MODES),
        "CATEGORIES": list(CATEGORIES),
        "unlocked": state().session is not None,
        "MAX_REPLY_CHARS": responses.MAX_REPLY_CHARS,
        "MAX_NOTE_CHARS": responses.MAX_NOTE_CHARS,
        "MAX_STATUS_NOTE_CHARS": responses.MAX_STATUS_NOTE_CHARS,
        "size_text": _size_text,
        "me": me,
        "is_admin": me is not None and acting_admin(),
    }


def _register_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        # The cookie that held the form's token is gone (the console was restarted, or the
        # browser dropped it): a report page's text is carried into the unlock page.
        carried = unlock.carried(request.form)
        if carried is not None:
            return unlock.carry_page(carried)
        return error_page(
            400,
            gettext(
                "This form has expired or did not come from this console's pages. Open the "
                "page again and repeat what you did."
            ),
        )

    @app.errorhandler(SecurityError)
    def untrusted_host(exc: SecurityError) -> Any:
        # The Host header is not the loopback address (DNS rebinding?): no page, no URLs.
        return Response("400 Bad Request: untrusted host\n", status=400, mimetype="text/plain")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        return error_page(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(UnknownReport)
    def unknown_report(exc: UnknownReport) -> Any:
        return error_page(404, error_text(exc))

    @app.errorhandler(Recused)
    def recused(exc: Recused) -> Any:
        return error_page(403, error_text(exc))

    @app.errorhandler(NotPermitted)
    def not_permitted(exc: NotPermitted) -> Any:
        return error_page(403, error_text(exc))


def _size_text(size: int | None) -> str:
    if size is None:
        return "?"
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def serve(
    home: Home,
    host: str,
    port: int,
    user: str | None = None,
    idle_seconds: int = DEFAULT_IDLE_SECONDS,
) -> None:
    """Run the web console with waitress on the loopback interface only.

    `user` prefills the unlock page's name (default: the console's default investigator).
    """
    if host not in (LOOPBACK, "localhost"):
        raise ConsoleError("the console only listens on 127.0.0.1; refusing another address")
    import waitress

    app = create_app(home, idle_seconds=idle_seconds, default_user=user)

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
