"""What every source route leans on: who is asking, and may they.

- Logged-in sources have a server-side session (dropbox/sessions.py); their forms carry the
  session's anti-forgery token (Flask-WTF), and their upload forms a single-use ticket in the
  form's action URL, checked before a byte of the body is read.
- Visitors who are not logged in have no session. Their two forms (log in, create a codename) are
  bound to a random value in a SameSite=Strict cookie (keys/tokens.py `bind`), and the codename
  between /generate and /create travels sealed inside the page (`seal`). A flood of page views
  therefore stores nothing and can push nobody out.
- Notices for visitors without a session (why they were sent somewhere) travel as a short code
  in the URL, never as text and never in a session.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, TypeVar, cast

from flask import (
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from werkzeug.wrappers import Response as BaseResponse

from dropbox.service import DropBox
from dropbox.sessions import MemorySessionInterface, Ticket
from dropbox.templating import PageCache
from keys import tokens

F = TypeVar("F", bound=Callable[..., Any])
VISIT_COOKIE = "wbs_visit"
# Why a visitor without a session was sent to a page: shown as the page's notice.
NOTICES = {
    "login-first": lazy_gettext("Please log in with your codename first."),
    "expired": lazy_gettext(
        "The page with your codename expired before you continued. Here is a new codename."
    ),
    "session-ended": lazy_gettext(
        "Your session ended: you logged out, or it was unused for too long. Please log in "
        "with your codename again."
    ),
}


def dropbox() -> DropBox:
    return cast(DropBox, current_app.extensions["dropbox"])


def process_key(name: str) -> bytes:
    return cast(bytes, current_app.extensions[name])


def sessions() -> MemorySessionInterface:
    return cast(MemorySessionInterface, current_app.session_interface)


def pages() -> PageCache:
    return cast(PageCache, current_app.extensions["page_cache"])


def refuse(code: int, message: str) -> NoReturn:
    abort(Response(render_template("error.html", code=code, message=message), code))


def notice_redirect(endpoint: str, notice: str) -> BaseResponse:
    return redirect(url_for(endpoint, notice=notice), code=303)


def page_notice() -> str | None:
    text = NOTICES.get(request.args.get("notice", ""))
    return str(text) if text is not None else None


# -- visitors without a session ---------------------------------------------------------------


def visitor_nonce() -> str:
    """This browser's random value for binding anonymous forms; made (and set as a cookie after
    the request) on first need."""
    nonce = request.cookies.get(VISIT_COOKIE, "")
    if not 20 <= len(nonce) <= 64:
        nonce = g.get("new_visit") or tokens.new_nonce()
        g.new_visit = nonce
    return nonce


def remember_visitor(response: BaseResponse) -> BaseResponse:
    if g.get("new_visit"):
        response.set_cookie(VISIT_COOKIE, g.new_visit, path="/", httponly=True, samesite="Strict")
    return response


def form_token(purpose: str) -> str:
    return tokens.bind(process_key("form_key"), purpose, visitor_nonce())


def check_form_token(purpose: str) -> bool:
    nonce = request.cookies.get(VISIT_COOKIE, "")
    return tokens.is_bound(process_key("form_key"), purpose, nonce, request.form.get("token", ""))


# -- logged-in sources ------------------------------------------------------------------------


def logged_in() -> bool:
    return bool(session.get("source_id"))


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not logged_in():
            return notice_redirect("source.login", "login-first")
        return view(*args, **kwargs)

    return cast(F, wrapper)


def issue_ticket(purpose: str, regno: str = "", kept: list[Any] | None = None) -> str:
    """A single-use ticket for one upload form of this session (with the uploads kept for it)."""
    ticket = sessions().store.issue_ticket(session_id_now(), purpose, regno, kept or ())
    if ticket is None:
        refuse(400, str(NOTICES["session-ended"]))
    return ticket


def session_id_now() -> str:
    """The session's id, fixed now if the session is new in this request (a ticket issued while
    rendering must belong to the id the response will carry)."""
    if session.session_id is None:  # type: ignore[attr-defined]
        session.session_id = sessions().store.create(dict(session))  # type: ignore[attr-defined]
    return str(session.session_id)  # type: ignore[attr-defined]


def take_ticket(purpose: str) -> Ticket:
    """Before an upload's body is read: the ticket in the action URL must be one this session
    was given, for this kind of form, and not used before. It is used up now, and the request's
    file parts may then be encrypted into the store (dropbox/uploads.py)."""
    ticket_id = request.args.get("ticket", "")
    if not logged_in() or not ticket_id:
        _refuse_ticket()
    ticket = sessions().store.take_ticket(session_id_now(), ticket_id, purpose)
    if ticket is None:
        _refuse_ticket()
    g.upload_authorised = True
    return ticket


def _refuse_ticket() -> NoReturn:
    if not logged_in():
        refuse(400, str(NOTICES["session-ended"]))
    refuse(
        400,
        gettext(
            "This form was already sent, or it is too old. Nothing new was stored. Please "
            "open your reports to check what arrived, and send it again if it is missing."
        ),
    )
