"""Server-side sessions held in this process's memory only.

The cookie carries a random 256-bit id and nothing else (HttpOnly, SameSite=Strict, no Max-Age, so
the browser forgets it when it closes). What the session holds (the source's derived key while
logged in, the codename between /generate and /create, the CSRF secret, the language) exists only
in memory, is dropped after the idle timeout, and is gone when the process stops.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

COOKIE_NAME = "wbs_session"
_SWEEP_EVERY_SECONDS = 60.0
ANONYMOUS_IDLE_SECONDS = 30 * 60
MAX_SESSIONS = 20_000  # ~640 bytes each: a flood holds at most a few tens of MiB
_SWEEPER_TICK_SECONDS = 0.5


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
    """The sessions of this process: id -> (values, last activity on the monotonic clock)."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._sessions: dict[str, tuple[dict[str, Any], float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()
        self._sweeper: threading.Thread | None = None

    def start_sweeper(self) -> None:
        """Forget idle sessions on a timer, so an idle server holds no codename-derived key
        even if nobody ever sends another request."""
        if self._sweeper is not None:
            return

        def sweep_forever() -> None:
            while True:
                # Short ticks; _sweep itself decides whether a sweep is due.
                time.sleep(_SWEEPER_TICK_SECONDS)
                with self._lock:
                    self._sweep(time.monotonic())

        self._sweeper = threading.Thread(target=sweep_forever, name="session-sweeper", daemon=True)
        self._sweeper.start()

    def get(self, session_id: str) -> dict[str, Any] | None:
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            found = self._sessions.get(session_id)
            if found is None:
                return None
            values, last_seen = found
            if now - last_seen > self._limit(values):
                del self._sessions[session_id]
                return None
            self._sessions[session_id] = (values, now)
            return values

    def put(self, session_id: str, values: dict[str, Any]) -> None:
        with self._lock:
            if session_id not in self._sessions and len(self._sessions) >= MAX_SESSIONS:
                self._evict_one_anonymous()
            self._sessions[session_id] = (values, time.monotonic())

    def _limit(self, values: dict[str, Any]) -> float:
        """Idle limit: the full one for a logged-in source, a short one for anyone else (a
        visitor who only opened /generate or /login holds nothing worth keeping for hours)."""
        if values.get("source_id"):
            return self.idle_seconds
        return min(self.idle_seconds, ANONYMOUS_IDLE_SECONDS)

    def _evict_one_anonymous(self) -> None:
        # A flood of cheap page views must not grow memory without bound, nor push out the
        # sessions of logged-in sources: the least recently seen anonymous session goes.
        anonymous = [
            (seen, sid)
            for sid, (values, seen) in self._sessions.items()
            if not values.get("source_id")
        ]
        if anonymous:
            del self._sessions[min(anonymous)[1]]

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _sweep(self, now: float) -> None:
        # Forget idle sessions even if their owner never comes back: a seized idle process
        # must not hold a key derived from a codename.
        if now - self._last_sweep < min(_SWEEP_EVERY_SECONDS, self.idle_seconds / 2):
            return
        self._last_sweep = now
        expired = [
            sid
            for sid, (values, seen) in self._sessions.items()
            if now - seen > self._limit(values)
        ]
        for session_id in expired:
            del self._sessions[session_id]


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
                response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="Strict")
            return
        if session.session_id is None:
            session.session_id = secrets.token_urlsafe(32)
        self.store.put(session.session_id, dict(session))
        response.set_cookie(
            COOKIE_NAME,
            session.session_id,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=bool(app.config["SESSION_COOKIE_SECURE"]),
        )
        response.vary.add("Cookie")

    def regenerate(self, session: SessionMixin) -> None:
        """Give the session a fresh id (at login and /create): an id planted or seen before
        authentication is worthless after it (session fixation)."""
        assert isinstance(session, MemorySession)  # noqa: S101 (type narrowing only)
        if session.session_id is not None:
            self.store.delete(session.session_id)
        session.session_id = None
        session.modified = True

    def destroy(self, session: SessionMixin) -> None:
        """Log out: forget every value now, not at expiry."""
        assert isinstance(session, MemorySession)  # noqa: S101 (type narrowing only)
        if session.session_id is not None:
            self.store.delete(session.session_id)
        session.clear()
