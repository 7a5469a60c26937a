"""The source site's application factory: configuration, sessions, CSRF, languages, headers,
accepted host names, error pages. Routes live in dropbox/source/.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, session
from flask_babel import Babel, format_number, get_translations
from flask_wtf.csrf import CSRFProtect
from jinja2.runtime import Context
from jinja2.utils import pass_context

from dropbox import error_pages, source, static
from dropbox.error_pages import ERROR_CODES
from dropbox.formats import human_size, long_day
from dropbox.headers import with_security_headers
from dropbox.i18n import (
    DEFAULT_LANGUAGE,
    TRANSLATIONS,
    choose_language,
    current_language,
    remember_language,
)
from dropbox.service import DropBox
from dropbox.sessions import MemorySessionInterface, MemorySessionStore
from dropbox.source.guards import logged_in, page_notice, remember_visitor
from dropbox.templating import PageCache, PageEnvironment
from dropbox.uploads import EncryptingRequest, discard_unfinished
from keys import tokens

__all__ = ["ERROR_CODES", "STATIC", "create_app"]  # what the tests and scripts import from here

_SIGNED_TOKEN = "csrf_signed"  # noqa: S105 (a session key name, not a secret)
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

# The site answers to these host names whatever else is configured: tor, HAProxy and the
# operator reach it on the loopback interface.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def create_app(dropbox: DropBox, overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=None)
    # Constant texts translated when a template is compiled, once per language.
    app.jinja_environment = PageEnvironment
    app.jinja_env.translations_dir = TRANSLATIONS  # type: ignore[attr-defined]
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
        # A request for another name (a phishing onion that relays to this one, say) is refused
        # with 400: only the configured onion names and the loopback are this site.
        TRUSTED_HOSTS=[*LOOPBACK_HOSTS, *dropbox.instance.onion_names],
        PROPAGATE_EXCEPTIONS=False,
        TRAP_HTTP_EXCEPTIONS=False,
    )
    app.config.update(overrides or {})
    app.extensions["dropbox"] = dropbox
    # Keys of this process only, never on disk: a restart invalidates what they made.
    for name in ("form_key", "pending_key", "codename_tag_key"):
        app.extensions[name] = tokens.new_process_key()
    app.extensions["page_cache"] = PageCache()
    session_store = MemorySessionStore(dropbox.instance.session_idle_seconds)
    session_store.start_sweeper()
    app.session_interface = MemorySessionInterface(session_store)
    Babel(app, locale_selector=current_language)
    _install_fast_gettext(app)
    app.before_request(choose_language)
    csrf = CSRFProtect(app)
    # Upload forms carry a single-use ticket in their URL (checked before the body is read), and
    # the forms of visitors without a session are bound to the browser instead
    # (dropbox/source/guards.py): Flask-WTF's session-held token serves the other forms.
    for view in (*source.UPLOAD_VIEWS, *source.ANONYMOUS_FORM_VIEWS):
        csrf.exempt(view)
    app.teardown_request(discard_unfinished)
    app.register_blueprint(source.blueprint())
    static.install(app, STATIC)
    _quiet_logging(app)
    app.jinja_env.filters["human_size"] = human_size
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["day"] = long_day
    error_pages.register(app)

    app.wsgi_app = with_security_headers(app.wsgi_app)  # type: ignore[method-assign,assignment]

    @app.before_request
    def reuse_signed_token() -> None:
        # The session's anti-forgery token is signed once and kept with the session, not
        # signed again for every page (Flask-WTF uses what it finds in g).
        signed = session.get(_SIGNED_TOKEN)
        if signed and "csrf_token" in session:
            g.csrf_token = signed

    @app.after_request
    def finish_response(response: Response) -> Response:
        if session and g.get("csrf_token") and session.get(_SIGNED_TOKEN) != g.csrf_token:
            session[_SIGNED_TOKEN] = g.csrf_token
        response.headers["Content-Language"] = current_language()
        remember_language(response)
        remember_visitor(response)
        return response

    @app.context_processor
    def template_globals() -> dict[str, Any]:
        return {
            "_translations": get_translations(),
            "lang": current_language(),
            "logged_in": logged_in(),
            "notice": page_notice(),
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


def _quiet_logging(app: Flask) -> None:
    # Flask logs unhandled exceptions with the request path only; never bodies, headers or
    # addresses. Keep it at WARNING so nothing about individual requests is written.
    app.logger.setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
