"""Server-side sessions of logged-in sources, held in this process's memory only.

Only a source who has logged in (or just created a codename) has a session; a visitor who reads
pages, or holds a codename page open, has none (dropbox/source/guards.py), so no flood of page
views can push anyone's session out. The cookie carries a random 256-bit id and nothing else
(HttpOnly, SameSite=Strict, no Max-Age: the browser forgets it when it closes). What a session
holds (the source's derived key, the codename during the first session, the language, the
tickets of the upload forms it was shown) exists only here, is dropped after the idle timeout, at
logout, and when the process stops.

Three rules answer the threats to it:
- a destroyed or expired session never comes back: a request still in flight when its session was
  logged out or expired cannot write it back (`update` only changes a session that still exists);
- upload tickets are single-use and die with their session: taking one is atomic, and a ticket
  lives in the session record, not in the values a request writes back;
- expiry and eviction cost O(1) per session: the sessions are ordered by last activity, so the
  idle ones are at the front, and a full store drops its least recently used session.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

COOKIE_NAME = "wbs_session"
# Every session is a logged-in source's (a few KiB with its decrypted views cache): a flood
# that wants to fill this must pay a codename derivation per session, and HAProxy allows each
# circuit 10 a minute.
MAX_SESSIONS = 50_000
MAX_TICKETS_PER_SESSION = 32
_SWEEP_EVERY_SECONDS = 60.0
_SWEEPER_TICK_SECONDS = 0.5


class Discardable(Protocol):
    """Something a session may hold that must be destroyed with it (a kept upload)."""

    def discard(self) -> None: ...


@dataclass
class Ticket:
    """One upload form shown to the source: its purpose ("report" or "followup"), the report a
    follow-up is for, and the uploads kept for it from a refused submission of the same form."""

    purpose: str
    regno: str = ""
    kept: list[Any] = field(default_factory=list)


@dataclass
class SessionRecord:
    values: dict[str, Any]
    last_seen: float
    tickets: OrderedDict[str, Ticket] = field(default_factory=OrderedDict)

    def held(self) -> Iterable[Discardable]:
        for ticket in self.tickets.values():
            yield from ticket.kept


class MemorySession(CallbackDict[str, Any], SessionMixin):
    def __init__(
        self, session_id: str | None = None, initial: dict[str, Any] | None = None
    ) -> None:
        def on_update(_: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.session_id = session_id
        self.modified = False
        # `permanent` is left unset: Flask would store it as a key, and an empty session must
        # stay empty so that a plain page view creates no server-side session and no cookie.


class MemorySessionStore:
    """The sessions of this process, ordered from least to most recently active."""

    def __init__(self, idle_seconds: float, max_sessions: int = MAX_SESSIONS) -> None:
        self.idle_seconds = idle_seconds
        self.max_sessions = max_sessions
        self._records: OrderedDict[str, SessionRecord] = OrderedDict()
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()
        self._sweeper: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start_sweeper(self) -> None:
        """Forget idle sessions on a timer, so an idle server holds no codename-derived key
        even if nobody ever sends another request."""
        if self._sweeper is not None:
            return

        def sweep_forever() -> None:
            while True:
                time.sleep(_SWEEPER_TICK_SECONDS)
                self._forget(self._take_expired(time.monotonic(), force=False))

        self._sweeper = threading.Thread(target=sweep_forever, name="session-sweeper", daemon=True)
        self._sweeper.start()

    def get(self, session_id: str) -> dict[str, Any] | None:
        """A live session's values (and it counts as active now), or None."""
        now = time.monotonic()
        gone = self._take_expired(now, force=False)
        with self._lock:
            record = self._records.get(session_id)
            if record is not None:
                record.last_seen = now
                self._records.move_to_end(session_id)
        self._forget(gone)
        return dict(record.values) if record is not None else None

    def create(self, values: dict[str, Any]) -> str:
        """A new session with a fresh id; the least recently active one goes if the store is
        full."""
        session_id = secrets.token_urlsafe(32)
        evicted = []
        with self._lock:
            while len(self._records) >= self.max_sessions:
                evicted.append(self._records.popitem(last=False)[1])
            self._records[session_id] = SessionRecord(dict(values), time.monotonic())
        self._forget(evicted)
        return session_id

    def update(self, session_id: str, values: dict[str, Any]) -> bool:
        """Store a request's values, only if the session still exists: a session destroyed or
        expired while the request ran is never brought back."""
        with self._lock:
            record = self._records.get(session_id)
            if record is None:
                return False
            record.values = dict(values)
            record.last_seen = time.monotonic()
            self._records.move_to_end(session_id)
            return True

    def delete(self, session_id: str) -> None:
        with self._lock:
            record = self._records.pop(session_id, None)
        self._forget([record] if record is not None else [])

    def __len__(self) -> int:
        return len(self._records)

    def clear(self) -> None:
        """Forget every session and what it holds (at shutdown: kept uploads go too)."""
        with self._lock:
            records = list(self._records.values())
            self._records.clear()
        self._forget(records)

    # -- upload tickets ----------------------------------------------------------------------

    def issue_ticket(
        self, session_id: str, purpose: str, regno: str = "", kept: Iterable[Any] = ()
    ) -> str | None:
        """A new single-use ticket for an upload form, or None if the session is gone (then
        `kept` is discarded at once)."""
        ticket_id = secrets.token_urlsafe(24)
        dropped: list[Ticket] = []
        kept_list = list(kept)
        with self._lock:
            record = self._records.get(session_id)
            if record is not None:
                record.tickets[ticket_id] = Ticket(purpose, regno, kept_list)
                while len(record.tickets) > MAX_TICKETS_PER_SESSION:
                    dropped.append(record.tickets.popitem(last=False)[1])
        if record is None:
            dropped.append(Ticket(purpose, regno, kept_list))
        _discard(upload for ticket in dropped for upload in ticket.kept)
        return ticket_id if record is not None else None

    def take_ticket(self, session_id: str, ticket_id: str, purpose: str) -> Ticket | None:
        """Use up a ticket of this session for `purpose`; None if there is none (never issued,
        used already, or its session ended)."""
        with self._lock:
            record = self._records.get(session_id)
            if record is None or record.tickets.get(ticket_id, Ticket("")).purpose != purpose:
                return None
            return record.tickets.pop(ticket_id)

    # -- forgetting --------------------------------------------------------------------------

    def _take_expired(self, now: float, force: bool) -> list[SessionRecord]:
        # Forget idle sessions even if their owner never comes back: a seized idle process
        # must not hold a key derived from a codename.
        with self._lock:
            due = now - self._last_sweep >= min(_SWEEP_EVERY_SECONDS, self.idle_seconds / 2)
            if not (due or force):
                # Between sweeps, only the oldest session needs a look: the order is by activity.
                first = next(iter(self._records.values()), None)
                if first is None or now - first.last_seen <= self.idle_seconds:
                    return []
            self._last_sweep = now
            expired = []
            while self._records:
                session_id, record = next(iter(self._records.items()))
                if now - record.last_seen <= self.idle_seconds:
                    break
                expired.append(self._records.pop(session_id))
            return expired

    @staticmethod
    def _forget(records: Iterable[SessionRecord]) -> None:
        _discard(upload for record in records for upload in record.held())


def _discard(uploads: Iterable[Discardable]) -> None:
    for upload in uploads:
        upload.discard()


class MemorySessionInterface(SessionInterface):
    def __init__(self, store: MemorySessionStore) -> None:
        self.store = store

    def open_session(self, app: Flask, request: Request) -> MemorySession:
        session_id = request.cookies.get(COOKIE_NAME, "")
        if 20 <= len(session_id) <= 64:
            values = self.store.get(session_id)
            if values is not None:
                return MemorySession(session_id, values)
        return MemorySession()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, MemorySession)  # noqa: S101 (set by open_session above)
        if not session:
            if session.session_id is not None:
                self.store.delete(session.session_id)
                self._clear_cookie(response)
            return
        if session.session_id is None:
            session.session_id = self.store.create(dict(session))
        elif not self.store.update(session.session_id, dict(session)):
            # Logged out or expired while this request ran: it stays gone.
            self._clear_cookie(response)
            return
        response.set_cookie(
            COOKIE_NAME,
            session.session_id,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=bool(app.config["SESSION_COOKIE_SECURE"]),
        )
        response.vary.add("Cookie")

    @staticmethod
    def _clear_cookie(response: Response) -> None:
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="Strict")

    def regenerate(self, session: SessionMixin) -> None:
        """Give the session a fresh id (at login and /create): an id planted or seen before
        authentication is worthless after it (session fixation)."""
        assert isinstance(session, MemorySession)  # noqa: S101 (type narrowing only)
        if session.session_id is not None:
            self.store.delete(session.session_id)
        session.session_id = None
        session.modified = True

    def destroy(self, session: SessionMixin) -> None:
        """Log out: forget every value and ticket now, not at expiry."""
        assert isinstance(session, MemorySession)  # noqa: S101 (type narrowing only)
        if session.session_id is not None:
            self.store.delete(session.session_id)
        session.clear()
