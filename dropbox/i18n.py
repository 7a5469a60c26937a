"""The page language: Indonesian by default, English on request (a link, no JavaScript).

The choice lives in its own cookie (`wbs_lang`: "id" or "en", HttpOnly, SameSite=Strict, gone when
the browser closes), not in a server-side session: a visitor who only reads pages or holds a
codename page open has no session at all (dropbox/sessions.py), and logging out keeps the
language without keeping anything else.
"""

from __future__ import annotations

from pathlib import Path

from flask import g, has_request_context, request
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
LANG_COOKIE = "wbs_lang"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def choose_language() -> None:
    """Before each request: `?lang=` switches the language for this page and the ones after."""
    stored = request.cookies.get(LANG_COOKIE)
    # The visitor's language first: a refusal of a bad ?lang= is still shown in it.
    g.lang = stored if stored in LANGUAGES else DEFAULT_LANGUAGE
    requested = request.args.get("lang")
    if requested is None and _form_may_carry():
        requested = request.form.get("lang")
    if requested is not None:
        if requested not in LANGUAGES:
            raise BadRequest("unknown language")
        g.lang = requested
        g.remember_lang = True


def _form_may_carry() -> bool:
    # A page that answers a form switches language with a small form of its own (it must post
    # its state again); only url-encoded bodies are read here, never an upload's.
    return request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded"


def remember_language(response: Response) -> Response:
    if g.get("remember_lang"):
        response.set_cookie(LANG_COOKIE, g.lang, path="/", httponly=True, samesite="Strict")
    return response


def current_language() -> str:
    if has_request_context():
        language = g.get("lang")
        if language in LANGUAGES:
            return str(language)
    return DEFAULT_LANGUAGE
