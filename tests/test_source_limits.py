"""Flood limits of the source site: the KDF admission gate, Retry-After, bounded sessions."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dropbox import sessions
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
        response = client.post("/login", data={"csrf_token": hidden(page, "csrf_token"),
                                               "codename": codename})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "30"
        assert "busy" in response.get_data(as_text=True) or "sibuk" in response.get_data(
            as_text=True)
    finally:
        deriver.release.set()
        holder.join()


def test_anonymous_sessions_expire_sooner_than_logged_in_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB)
    store = server.flask.application.session_interface.store
    new_source(server.flask)  # logged in
    visitor = server.flask.application.test_client()
    visitor.get("/generate")  # anonymous: holds a pending codename only
    assert len(store) == 2
    monkeypatch.setattr(sessions, "ANONYMOUS_IDLE_SECONDS", 0.0)
    monkeypatch.setattr(sessions, "_SWEEP_EVERY_SECONDS", 0.0)
    store._last_sweep = 0.0
    assert server.flask.get("/lookup").status_code == 200  # the source is still logged in
    assert len(store) == 1


def test_a_flood_of_page_views_cannot_grow_the_session_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB)
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 4)
    store = server.flask.application.session_interface.store
    new_source(server.flask)  # a logged-in source must survive the flood
    for _ in range(10):
        server.flask.application.test_client().get("/generate")
    assert len(store) <= 4
    assert server.flask.get("/lookup").status_code == 200
