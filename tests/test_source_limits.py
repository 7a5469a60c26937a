"""Flood limits of the source site: the KDF admission gate, Retry-After, no sessions before a
login, bounded sessions."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from dropbox.sessions import COOKIE_NAME
from keys.codename import CodenameDeriver
from keys.errors import KdfBusy
from support.instances import CODENAME_KDF, MiB, make_site
from support.pages import hidden, new_source


class HeldDeriver(CodenameDeriver):
    """A deriver whose argon2 waits for an event, so a slot can be held deterministically."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.entered = threading.Event()
        self.release = threading.Event()

    def _argon2(self, secret: bytes, salt: bytes) -> bytes:
        self.entered.set()
        self.release.wait(10)
        return super()._argon2(secret, salt)


def _hold_the_only_slot(deriver: HeldDeriver) -> threading.Thread:
    holder = threading.Thread(target=deriver.derive, args=("kopi meja buku",))
    holder.start()
    assert deriver.entered.wait(5)
    return holder


def test_a_flood_is_refused_at_once_instead_of_queueing() -> None:
    # One slot, nobody may wait: with the slot held, another check is refused by the admission
    # gate (not after the 10 s slot wait), so server threads never pile up behind the KDF.
    deriver = HeldDeriver(b"l" * 32, b"k" * 32, max_concurrent=1, wait_seconds=10.0,
                          params=CODENAME_KDF, max_waiting=0)
    holder = _hold_the_only_slot(deriver)
    try:
        with pytest.raises(KdfBusy, match="waiting"):
            deriver.derive("gelas kursi pintu")
    finally:
        deriver.release.set()
        holder.join()
    assert deriver.derive("gelas kursi pintu").lookup_id  # the gate opens again


def test_busy_login_gets_a_503_page_with_retry_after(tmp_path: Path) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB)
    codename = new_source(server.flask)
    deriver = HeldDeriver(*server.box.instance.codename_salts(), max_concurrent=1,
                          wait_seconds=10.0, params=CODENAME_KDF, max_waiting=0)
    server.box.deriver = deriver
    holder = _hold_the_only_slot(deriver)
    try:
        client = server.flask.application.test_client()
        page = client.get("/login").get_data(as_text=True)
        response = client.post("/login", data={"token": hidden(page, "token"),
                                               "codename": codename})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "30"
        assert "busy" in response.get_data(as_text=True) or "sibuk" in response.get_data(
            as_text=True)
    finally:
        deriver.release.set()
        holder.join()


def _visit_without_logging_in(client: FlaskClient, codename: str) -> None:
    """Everything a visitor can do before a login: read pages, hold a codename page open (and
    switch its language, see it again, reach the confirmation step, type wrong words), open the
    login page and fail to log in."""
    assert client.get("/").status_code == 200
    assert client.get("/?lang=en").status_code == 200
    page = client.get("/generate").get_data(as_text=True)
    pending = hidden(page, "pending")
    assert client.post("/generate", data={"pending": pending, "lang": "id"}).status_code == 200
    assert client.post("/confirm", data={"pending": pending}).status_code == 200
    assert client.post("/create", data={"pending": pending, "word1": "x", "word2": "y",
                                        "word3": "z"}).status_code == 400
    login = client.get("/login").get_data(as_text=True)
    refused = client.post("/login", data={"token": hidden(login, "token"),
                                          "codename": codename + " salah"})
    assert refused.status_code == 400
    assert client.get("/logged-out").status_code == 200
    assert client.get_cookie(COOKIE_NAME) is None


def test_visitors_who_are_not_logged_in_have_no_session(tmp_path: Path) -> None:
    """Issue 15 item 8 reversed the anonymous sessions this test used to age out faster: a
    visitor who is not logged in has no server-side session at all (the pending codename lives
    sealed in the page, the language in its own cookie). Only a login makes one."""
    server = make_site(tmp_path, upload_limit=64 * MiB)
    store = server.flask.application.session_interface.store
    codename = new_source(server.flask)  # logged in
    assert len(store) == 1
    visitor = server.flask.application.test_client()
    _visit_without_logging_in(visitor, codename)
    assert len(store) == 1
    assert server.flask.get("/lookup").status_code == 200  # the source is still logged in
    # A login is what makes the second one.
    login = visitor.get("/login").get_data(as_text=True)
    assert visitor.post("/login", data={"token": hidden(login, "token"),
                                        "codename": codename}).status_code == 303
    assert len(store) == 2


def test_a_flood_of_page_views_cannot_grow_the_session_store(tmp_path: Path) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB)
    store = server.flask.application.session_interface.store
    store.max_sessions = 4
    codename = new_source(server.flask)  # a logged-in source must survive the flood
    for _ in range(20):
        _visit_without_logging_in(server.flask.application.test_client(), codename)
    assert len(store) == 1
    assert server.flask.get("/lookup").status_code == 200


def test_logged_in_sessions_are_bounded_least_recently_used_first(tmp_path: Path) -> None:
    """Only logins make sessions, and each costs a codename derivation; still, the store is
    bounded: when it is full, the least recently active session goes."""
    server = make_site(tmp_path, upload_limit=64 * MiB)
    store = server.flask.application.session_interface.store
    store.max_sessions = 3
    clients = [server.flask.application.test_client() for _ in range(4)]
    for client in clients[:3]:
        new_source(client)
    assert clients[0].get("/lookup").status_code == 200  # the first is active again
    new_source(clients[3])
    assert len(store) == 3
    assert clients[1].get("/lookup").status_code == 303  # the least recently used went
    for client in (clients[0], clients[2], clients[3]):
        assert client.get("/lookup").status_code == 200
