"""The source site's application factory: configuration, sessions, CSRF, languages, headers,
error pages. Routes live in dropbox/source.py.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import sys
from pathlib import Path
from typing import Any

from flask import Flask, Response, render_template, session
from flask_babel import (
    Babel,
    format_date,
    format_decimal,
    get_translations,
    gettext,
    lazy_gettext,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2.runtime import Context
from jinja2.utils import pass_context
from werkzeug.exceptions import HTTPException, InternalServerError

from dropbox import source
from dropbox.i18n import DEFAULT_LANGUAGE, TRANSLATIONS, current_language
from dropbox.service import DropBox
from dropbox.sessions import MemorySessionInterface, MemorySessionStore
from dropbox.uploads import EncryptingRequest, discard_unfinished
from keys import tokens

ROOT = Path(__file__).resolve().parent.parent
# In a checkout or an editable install the pages sit beside the packages; a wheel installs them
# as data files under <prefix>/share/wbs-dropbox (setup.cfg [options.data_files]).
_IN_TREE = ROOT / "templates" / "source"
TEMPLATES = (
    _IN_TREE
    if _IN_TREE.is_dir()
    else Path(sys.prefix) / "share" / "wbs-dropbox" / "templates" / "source"
)
STATIC = TEMPLATES / "static"
# Space for the text fields and multipart framing on top of the attachments' limit.
FORM_OVERHEAD_BYTES = 2 * 1024 * 1024
MAX_FIELD_BYTES = 512 * 1024

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Permissions-Policy": (
        "accelerometer=(), ambient-light-sensor=(), autoplay=(), battery=(), camera=(), "
        "display-capture=(), document-domain=(), encrypted-media=(), fullscreen=(), "
        "geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), "
        "picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), "
        "sync-xhr=(), usb=(), xr-spatial-tracking=(), interest-cohort=()"
    ),
}
ERROR_TEXTS = {
    400: lazy_gettext("The request could not be understood. Please go back and try again."),
    403: lazy_gettext("You are not allowed to open this page."),
    404: lazy_gettext("This page does not exist."),
    405: lazy_gettext("This page cannot be used that way."),
    408: lazy_gettext(
        "What you sent arrived too slowly and was not received. Please go back and try again."
    ),
    413: lazy_gettext(
        "What you sent is larger than this service accepts (at most %(limit)s per submission). "
        "Please send fewer or smaller files, or split them across a report and follow-ups."
    ),
    429: lazy_gettext("Too many attempts. Please wait a minute and try again."),
    500: lazy_gettext(
        "Something went wrong on our side. Nothing you sent before was lost. "
        "Please try again later."
    ),
    503: lazy_gettext("The service is busy right now. Please wait a minute and try again."),
}
# The proxy's answers when the site does not answer in time or at all: to the reporter, busy.
ERROR_TEXTS[502] = ERROR_TEXTS[504] = ERROR_TEXTS[503]
ERROR_CODES = tuple(ERROR_TEXTS)
OUT_OF_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def error_text(code: int, upload_limit: int) -> str:
    text = ERROR_TEXTS.get(code, ERROR_TEXTS[400])
    return str(text % {"limit": human_size(upload_limit)}) if code == 413 else str(text)


def create_app(dropbox: DropBox, overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
        static_url_path="/static",
    )
    app.request_class = EncryptingRequest
    app.config.update(
        SECRET_KEY=tokens.new_process_key(),  # CSRF signing; per process, never on disk
        MAX_CONTENT_LENGTH=dropbox.instance.upload_limit + FORM_OVERHEAD_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_FIELD_BYTES,
        MAX_FORM_PARTS=1000,
        SESSION_COOKIE_SECURE=False,  # onion services are plain HTTP; Tor encrypts the hop
        # The token is tied to the in-memory session; upload forms use tickets (see source.py).
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=False,
        BABEL_DEFAULT_LOCALE=DEFAULT_LANGUAGE,
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
        UPLOAD_TICKET_SECONDS=24 * 60 * 60,
        PROPAGATE_EXCEPTIONS=False,
        TRAP_HTTP_EXCEPTIONS=False,
    )
    app.config.update(overrides or {})
    app.extensions["dropbox"] = dropbox
    app.extensions["upload_ticket_key"] = tokens.new_process_key()
    app.extensions["codename_tag_key"] = tokens.new_process_key()
    session_store = MemorySessionStore(dropbox.instance.session_idle_seconds)
    session_store.start_sweeper()
    app.session_interface = MemorySessionInterface(session_store)
    Babel(app, locale_selector=current_language)
    _install_fast_gettext(app)
    csrf = CSRFProtect(app)
    # Upload forms carry an upload ticket instead (checked in the view): it outlives the
    # in-memory session, so a slow upload is not refused when it finally arrives.
    csrf.exempt(source.submit_post)
    csrf.exempt(source.followup)
    app.teardown_request(discard_unfinished)
    app.register_blueprint(source.blueprint)
    _quiet_logging(app)
    app.jinja_env.filters["human_size"] = human_size
    app.jinja_env.filters["day"] = long_day
    _register_error_pages(app)

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        response.headers["Content-Language"] = current_language()
        return response

    @app.context_processor
    def template_globals() -> dict[str, Any]:
        return {
            "_translations": get_translations(),
            "lang": current_language(),
            "logged_in": bool(session.get("source_id")),
            "upload_limit": dropbox.instance.upload_limit,
        }

    return app


def _install_fast_gettext(app: Flask) -> None:
    """Templates translate through the catalog looked up once per render (the context
    processor puts it in `_translations`), not once per string: Flask-Babel's own callables
    resolve the locale and catalog anew for each of a page's ~45 strings. Same catalog, same
    output; Python code keeps using flask_babel.gettext."""

    @pass_context
    def template_gettext(context: Context, message: str) -> str:
        return str(context["_translations"].ugettext(message))

    @pass_context
    def template_ngettext(context: Context, singular: str, plural: str, number: int) -> str:
        return str(context["_translations"].ungettext(singular, plural, number))

    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=template_gettext, ngettext=template_ngettext, newstyle=True
    )


def human_size(num_bytes: int) -> str:
    """A size in the page's number format: "1,5 MiB" in Indonesian, "1.5 MiB" in English."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    value, unit = float(num_bytes), 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{format_decimal(round(value, 1), format='#,##0.#')} {units[unit]}"


def long_day(iso_day: str) -> str:
    """A stored day (YYYY-MM-DD) as people write it: "29 November 2026", "November 29, 2026"."""
    try:
        return str(format_date(dt.date.fromisoformat(iso_day), format="long"))
    except ValueError:
        return iso_day


def _quiet_logging(app: Flask) -> None:
    # Flask logs unhandled exceptions with the request path only; never bodies, headers or
    # addresses. Keep it at WARNING so nothing about individual requests is written.
    app.logger.setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def _register_error_pages(app: Flask) -> None:
    def render_error(code: int, message: str | None = None) -> Response:
        upload_limit = app.extensions["dropbox"].instance.upload_limit
        text = message or error_text(code, upload_limit)
        response = Response(render_template("error.html", code=code, message=text), code)
        if code in (429, 503):
            response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Response:
        return render_error(
            400,
            gettext(
                "This form has expired or was not sent from this site. Please go back, reload the "
                "page and try again."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | HTTPException:
        code = error.code or 500
        if code not in ERROR_CODES:
            return error
        return render_error(code)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        if isinstance(error, OSError) and error.errno in OUT_OF_SPACE:
            app.logger.error("storage full: a submission was refused")
            return render_error(
                503,
                gettext(
                    "The server has run out of storage space, so what you sent could not be "
                    "stored. Nothing you sent before was lost. Please try again later."
                ),
            )
        # Logged without request details; the page shows no traceback.
        app.logger.error("unhandled %s", type(error).__name__)
        return render_error(InternalServerError.code)
