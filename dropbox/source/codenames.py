"""Getting a codename and using it: /, /generate, /confirm, /create, /codename, /login, /logout.

A new codename is shown once (/generate), then asked back before it is created: the reporter
types two of its words, chosen at random and named by position, from what they wrote down
(/confirm, /create). Until /create the codename exists only inside the page, sealed (a visitor
has no server-side session: dropbox/source/guards.py), so a flood of page views cannot lose it.
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from dropbox.i18n import current_language
from dropbox.source.guards import (
    check_form_token,
    dropbox,
    form_token,
    logged_in,
    login_required,
    notice_redirect,
    pages,
    process_key,
    sessions,
)
from dropbox.templating import PageCache
from keys import codename, tokens
from keys.errors import CodenameError, KdfBusy

# How long a codename page stays valid before /create (the sealed codename expires).
PENDING_SECONDS = 60 * 60
CONFIRM_WORDS = 2


def register(routes: Blueprint) -> None:
    routes.add_url_rule("/", view_func=index)
    routes.add_url_rule("/generate", view_func=generate, methods=["GET"])
    routes.add_url_rule("/generate", view_func=generate_again, methods=["POST"])
    routes.add_url_rule("/confirm", view_func=confirm, methods=["POST"])
    routes.add_url_rule("/create", view_func=create, methods=["POST"])
    routes.add_url_rule("/codename", view_func=show_codename)
    routes.add_url_rule("/login", view_func=login, methods=["GET", "POST"])
    routes.add_url_rule("/logout", view_func=logout, methods=["POST"])
    routes.add_url_rule("/logged-out", view_func=logged_out)


def index() -> str:
    if logged_in() or request.args:
        return render_template("index.html")
    # The same for every visitor without a session: rendered once per language.
    return pages().page(("index", current_language()), lambda: render_template("index.html"), {})


# -- a new codename ------------------------------------------------------------------------------


def generate() -> Any:
    if logged_in():
        # A logged-in reporter's new report belongs to the codename they already have.
        flash(
            gettext(
                "You are logged in: a new report uses the codename you have now. To get "
                "a new codename, log out first."
            )
        )
        return redirect(url_for("source.submit"), code=303)
    language = cast(codename.Language, current_language())
    text = codename.generate(language)
    positions = sorted(_distinct_positions(len(text.split()), CONFIRM_WORDS))
    pending = tokens.seal(
        process_key("pending_key"),
        "pending",
        {"c": text, "p": positions, "v": form_token("pending")},
        PENDING_SECONDS,
    )
    if request.args:
        # A notice in the query string (why the visitor was sent here) changes the page.
        return render_template("generate.html", codename=text, pending=pending)
    # The page around the codename is the same for everyone: rendered once per language, the
    # codename and its sealed token filled in (escaped) for each visitor, never kept.
    return pages().page(
        ("generate", language),
        lambda: render_template(
            "generate.html",
            codename=PageCache.marker("codename"),
            pending=PageCache.marker("pending"),
        ),
        {"codename": text, "pending": pending},
    )


def generate_again() -> Any:
    """The same codename page again (after a language switch, or "show it again")."""
    pending = _open_pending()
    if pending is None:
        return notice_redirect("source.generate", "expired")
    return render_template("generate.html", codename=pending["c"], pending=request.form["pending"])


def confirm() -> Any:
    """The codename hidden; two of its words asked back, by position."""
    pending = _open_pending()
    if pending is None:
        return notice_redirect("source.generate", "expired")
    return _confirm_page(pending, None, 200)


def _confirm_page(pending: dict[str, Any], error: str | None, status: int) -> Any:
    page = render_template(
        "confirm.html",
        positions=[position + 1 for position in pending["p"]],
        pending=request.form["pending"],
        error=error,
    )
    return page, status


def create() -> Any:
    pending = _open_pending()
    if pending is None:
        return notice_redirect("source.generate", "expired")
    words = pending["c"].split()
    for position in pending["p"]:
        typed = request.form.get(f"word{position + 1}", "")
        if _folded(typed) != words[position]:
            return _confirm_page(
                pending,
                gettext(
                    "The words you typed do not match your codename. Check what you wrote "
                    "down, or show the codename again and correct your copy."
                ),
                400,
            )
    secrets_ = _derive_or_busy(pending["c"])
    if dropbox().find_source(secrets_.lookup_id) is not None:
        # The same codename page sent twice (Back, then Reload): never a second login from it.
        return render_template("created_already.html"), 409
    source_id = dropbox().create_source(secrets_)
    _remember_login(source_id, secrets_, pending["c"], first=True)
    return redirect(url_for("source.submit"), code=303)


@login_required
def show_codename() -> Any:
    """During the session that created it, the codename can be shown again."""
    text = session.get("first_codename")
    if not text:
        flash(gettext("Your codename can be shown again only in the session that created it."))
        return redirect(url_for("source.lookup"), code=303)
    return render_template("codename.html", codename=text)


def _distinct_positions(count: int, wanted: int) -> list[int]:
    chosen: set[int] = set()
    while len(chosen) < min(wanted, count):
        chosen.add(secrets.randbelow(count))
    return list(chosen)


def _folded(text: str) -> str:
    try:
        return codename.normalize(text)
    except CodenameError:
        return ""


def _open_pending() -> dict[str, Any] | None:
    """The codename sealed into the page, if the page is genuine, unexpired, and was shown to
    this browser (a page copied to another browser does not work there)."""
    document = tokens.unseal(process_key("pending_key"), "pending", request.form.get("pending", ""))
    if document is None:
        return None
    text, positions, bound = document.get("c"), document.get("p"), document.get("v")
    if not (isinstance(text, str) and isinstance(positions, list) and isinstance(bound, str)):
        return None
    count = len(text.split())
    if not all(isinstance(p, int) and 0 <= p < count for p in positions):
        return None
    nonce = request.cookies.get("wbs_visit", "")
    if not tokens.is_bound(process_key("form_key"), "pending", nonce, bound):
        return None
    return document


# -- logging in and out --------------------------------------------------------------------------


def login() -> Any:
    if request.method == "GET":
        return _login_page(None, 200)
    if not check_form_token("login"):
        return _login_page(gettext("This form has expired. Please type your codename again."), 400)
    entered = request.form.get("codename", "")
    error = gettext("That codename was not recognised. Check the words and try again.")
    try:
        codename.normalize(entered)
    except CodenameError:
        return _login_page(error, 400)
    secrets_ = _derive_or_busy(entered)
    source_id = dropbox().find_source(secrets_.lookup_id)
    if source_id is None:
        return _login_page(error, 400)
    _remember_login(source_id, secrets_, entered, first=False)
    return redirect(url_for("source.lookup"), code=303)


def _login_page(error: str | None, status: int) -> Any:
    if error is not None or logged_in() or request.args:
        return render_template("login.html", error=error, token=form_token("login")), status
    page = pages().page(
        ("login", current_language()),
        lambda: render_template("login.html", error=None, token=PageCache.marker("token")),
        {"token": form_token("login")},
    )
    return page, status


def logout() -> BaseResponse:
    if logged_in():
        # Flask-WTF's check, exempted for this view because a visitor who is not logged in has
        # no token (and needs none to reach the logged-out page): raises CSRFError on a forgery.
        current_app.extensions["csrf"].protect()
        sessions().destroy(session)
    # After the redirect, Back and Reload show this page again, never a form to send twice.
    return redirect(url_for("source.logged_out"), code=303)


def logged_out() -> str:
    return render_template("logout.html")


def _derive_or_busy(text: str) -> codename.SourceSecrets:
    try:
        return dropbox().derive(text)
    except KdfBusy:
        abort(503)


def _remember_login(
    source_id: str, secrets_: codename.SourceSecrets, text: str, first: bool
) -> None:
    session.clear()
    sessions().regenerate(session)
    session["source_id"] = source_id
    session["source_key"] = secrets_.private_key
    session["codename_tag"] = codename.codename_tag(text, process_key("codename_tag_key"))
    if first:
        session["first_codename"] = codename.normalize(text)


ANONYMOUS_FORM_VIEWS = (generate_again, confirm, create, login, logout)
