"""What every page of the web console shares: the process's one unlocked session, who holds it,
and the few things routes need about the request (the page language, confirmations).

The unlocked session belongs to the browser that unlocked it: a random token in the signed,
SameSite=Strict session cookie, compared in constant time (`session_user`); any other browser
must unlock again. Requests run one at a time against the session (`serialised`: its mutex),
whatever thread waitress gives them.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import flask_babel
from flask import abort, current_app, render_template, request
from flask import session as cookie

from journalist_console import accounts, drafts, reports
from journalist_console.errors import ConsoleError
from journalist_console.home import Home, HomeLock
from journalist_console.labels import CATEGORY_LABELS, STATUS_LABELS, UNREADABLE
from journalist_console.session import Session
from journalist_console.texts import Text, with_numbers
from journalist_console.vault import open_vault
from keys.errors import WrongPassphrase
from keys.keyfiles import PublicKey

F = TypeVar("F", bound=Callable[..., Any])
LANGUAGES = ("id", "en")  # the first is the default
DEFAULT_LANGUAGE = LANGUAGES[0]


class UnlockThrottle:
    """Wrong passphrases slow the next try down: after the n-th failure in a row (n >= 2: one
    typing mistake costs nothing) no attempt is even tried for 2^(n-2) seconds (at most 10
    minutes), whoever asks. The console listens on
    127.0.0.1 only, but any program on the workstation can reach it; without this, one argon2id
    run per guess is the only brake on guessing a passphrase. Per process: a restart forgets."""

    MAX_DELAY = 600.0

    def __init__(self) -> None:
        self.failures = 0
        self.next_try_at = 0.0

    def wait_seconds(self, now: float) -> int:
        """Seconds before the next attempt may be tried (0: now)."""
        return max(0, math.ceil(self.next_try_at - now))

    def failed(self, now: float) -> None:
        self.failures += 1
        if self.failures >= 2:
            self.next_try_at = now + min(2.0 ** (self.failures - 2), self.MAX_DELAY)

    def succeeded(self) -> None:
        self.failures, self.next_try_at = 0, 0.0


@dataclass
class WebState:
    """The process-wide state of the web console: the lock, and the session once unlocked."""

    home: Home
    lock: HomeLock
    idle_seconds: int
    default_user: str | None = None  # prefilled on the unlock page (serve --user)
    session: Session | None = None
    token: str = ""
    last_seen: float = 0.0
    # Uploaded bundles waiting for the first-import key confirmation: token -> (file, signer)
    uploads: dict[str, tuple[Path, PublicKey]] = field(default_factory=dict)
    throttle: UnlockThrottle = field(default_factory=lambda: UnlockThrottle())

    def lock_console(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session = None
        self.token = ""
        self.drop_uploads()

    def drop_uploads(self) -> None:
        for path, _signer in self.uploads.values():
            path.unlink(missing_ok=True)
        self.uploads.clear()

    def shutdown(self) -> None:
        self.lock_console()
        self.lock.release()

    def holds(self, token: object) -> bool:
        """Whether a browser's cookie token is the unlocked session's."""
        return (
            self.session is not None
            and bool(self.token)
            and isinstance(token, str)
            and hmac.compare_digest(token, self.token)
        )


def state() -> WebState:
    return cast(WebState, current_app.extensions["wbs_console"])


def current_session() -> Session:
    """The unlocked session (the before_request guard sends everyone else to the unlock page)."""
    session = state().session
    if session is None:
        abort(403)
    return session


def session_user() -> str | None:
    """The investigator this browser session unlocked as (None for any other browser)."""
    held = state()
    if not held.holds(cookie.get("unlock", "")) or held.session is None:
        return None
    return held.session.investigator


def acting_admin() -> bool:
    session = state().session
    return session is not None and accounts.is_admin(session.conn, session.investigator)


class mutex:
    """Holds the unlocked session's lock for the length of a request (nothing when locked)."""

    def __init__(self, held: WebState) -> None:
        self._state = held
        self._held: Session | None = None

    def __enter__(self) -> None:
        self._held = self._state.session
        if self._held is not None:
            self._held.mutex.acquire()

    def __exit__(self, *exc: object) -> None:
        if self._held is not None:
            self._held.mutex.release()


def serialised(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with mutex(state()):
            return view(*args, **kwargs)

    return cast(F, wrapper)


def local_target(target: str | None) -> str:
    """Only a path on this site, never another origin (open-redirect safe)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def translated(text: Text) -> str:
    """A Text in the page's language, its numbers grouped that language's way."""
    return text.render(flask_babel.get_translations().ugettext, number)


def label(labels: dict[str, Text], name: str | None, missing: Text) -> str:
    """A machine name's label in the page's language (the name itself if it has none)."""
    if not name:
        return translated(missing)
    found = labels.get(name)
    return name if found is None else translated(found)


def status_label(status: str | None) -> str:
    return label(STATUS_LABELS, status, UNREADABLE)


def category_label(category: str | None) -> str:
    return label(CATEGORY_LABELS, category, UNREADABLE)


def number(value: int) -> str:
    """A whole number as the page's language writes it (10.000 in Indonesian)."""
    return str(flask_babel.format_number(value))


def decimal(value: float) -> str:
    """A median as the page's language writes it (12,5 in Indonesian), one decimal at most."""
    return str(flask_babel.format_decimal(value, format="#,##0.#"))


def gettext(msgid: str, **values: object) -> str:
    """A message of the console's catalog in the page's language."""
    return str(flask_babel.gettext(msgid, **with_numbers(values, number)))


def error_text(exc: Exception) -> str:
    """An error as a page shows it: a ConsoleError's message in the page's language; anything
    else (a key file's own error, say) as its English line."""
    message = exc.message if isinstance(exc, ConsoleError) else None
    return translated(message) if isinstance(message, Text) else str(exc)


def error_page(code: int, message: str) -> Any:
    return render_template("error.html", code=code, message=message), code


def confirm_passphrase() -> None:
    """Account administration asks for the acting investigator's passphrase again, so that an
    unlocked, unattended browser cannot add, remove or reset anyone."""
    session = current_session()
    typed = request.form.get("current_passphrase", "").encode("utf-8")
    try:
        open_vault(session.home, typed, session.investigator)
    except (WrongPassphrase, ConsoleError) as exc:
        raise ConsoleError(Text("Your passphrase (to confirm) is wrong; nothing changed.")) from exc


def new_passphrase() -> bytes:
    """The new passphrase typed twice in the form."""
    new = request.form.get("new_passphrase", "")
    if new != request.form.get("new_passphrase_again", ""):
        raise ConsoleError(Text("The two new passphrases differ; nothing changed."))
    return new.encode("utf-8")


def confirmed_new_passphrase() -> bytes:
    """An administrator's form: their own passphrase again, then the new one twice."""
    confirm_passphrase()
    return new_passphrase()


def keep_typed(session: Session, regno: str, form: Mapping[str, str], sent: str = "") -> bool:
    """Keep what the report page's form holds as drafts (journalist_console/drafts.py), except
    the field whose action just ran (`sent`: "message" or "note"); whether anything is kept.

    The page is one form (templates/console/_respond.html): every button of it, Lock included,
    sends the message to the reporter, the status beside it and the internal note together."""
    kept = False
    if "message" in form and sent != "message":
        kept |= drafts.keep(session, regno, "message", form["message"], form.get("status"))
    if "text" in form and sent != "note":
        kept |= drafts.keep(session, regno, "note", form["text"])
    return kept


def keep_typed_for(session: Session, form: Mapping[str, str]) -> bool:
    """keep_typed for the report named by the form's `regno` field (the guard and Lock, which
    have no register number in their URL); nothing for a report that cannot be opened."""
    try:
        regno = reports.resolve(session, form.get("regno", ""))
    except ConsoleError:
        return False
    return keep_typed(session, regno, form)
