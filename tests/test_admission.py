"""The first-come, first-served gate in front of codename derivations (keys/admission.py)."""

from __future__ import annotations

import threading
import time

import pytest

from keys.admission import FifoGate
from keys.errors import KdfBusy


def _wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


def _queue_one(
    gate: FifoGate, name: str, order: list[str], hold: threading.Event
) -> threading.Thread:
    """Start a thread that takes a slot, records its name, and holds the slot until `hold`."""
    before = gate.waiting

    def run() -> None:
        with gate.slot():
            order.append(name)
            hold.wait(10)

    thread = threading.Thread(target=run)
    thread.start()
    _wait_until(lambda: gate.waiting == before + 1)  # queued behind everyone already waiting
    return thread


def test_waiters_are_served_in_arrival_order() -> None:
    gate = FifoGate(slots=1, max_waiting=10, wait_seconds=10)
    order: list[str] = []
    go = threading.Event()
    go.set()
    with gate.slot():
        threads = [_queue_one(gate, f"waiter-{n}", order, go) for n in range(6)]
    for thread in threads:
        thread.join(10)
    assert order == [f"waiter-{n}" for n in range(6)]


def test_a_newcomer_never_overtakes_the_queue() -> None:
    """With a slot free but someone waiting for it, the newcomer queues behind that waiter."""
    gate = FifoGate(slots=1, max_waiting=10, wait_seconds=10)
    order: list[str] = []
    hold = threading.Event()
    with gate.slot():
        first = _queue_one(gate, "first", order, hold)
    # The slot went straight to "first"; a newcomer now must wait even though it asked after the
    # release, and is served only when "first" is done.
    _wait_until(lambda: order == ["first"])
    second = _queue_one(gate, "second", order, threading.Event())
    assert order == ["first"]
    hold.set()
    first.join(10)
    _wait_until(lambda: order == ["first", "second"])
    second.join(0.1)


def test_the_queue_is_bounded_and_refuses_at_once() -> None:
    gate = FifoGate(slots=1, max_waiting=2, wait_seconds=30)
    release = threading.Event()
    order: list[str] = []
    with gate.slot():
        waiting = [_queue_one(gate, name, order, release) for name in ("a", "b")]
        started = time.monotonic()
        with pytest.raises(KdfBusy, match="waiting"):
            with gate.slot():
                pass
        assert time.monotonic() - started < 1  # refused at once, not after the 30 s wait
    release.set()
    for thread in waiting:
        thread.join(10)
    assert order == ["a", "b"]


def test_a_waiter_gives_up_after_its_time_and_leaves_the_queue() -> None:
    gate = FifoGate(slots=1, max_waiting=5, wait_seconds=0.2)
    with gate.slot():
        started = time.monotonic()
        with pytest.raises(KdfBusy, match="waiting time"):
            with gate.slot():
                pass
        assert 0.15 < time.monotonic() - started < 5
        assert gate.waiting == 0
    with gate.slot():  # the slot came back when the holder left
        pass


def test_a_failure_inside_the_slot_releases_it() -> None:
    gate = FifoGate(slots=1, max_waiting=0, wait_seconds=0)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            with gate.slot():
                raise RuntimeError("argon2 failed")
    with gate.slot():
        pass


def test_slots_run_side_by_side() -> None:
    gate = FifoGate(slots=2, max_waiting=0, wait_seconds=0)
    with gate.slot(), gate.slot():
        with pytest.raises(KdfBusy):
            with gate.slot():
                pass


@pytest.mark.parametrize(("slots", "waiting", "seconds"), [(0, 1, 1), (1, -1, 1), (1, 1, -1)])
def test_bad_limits_are_refused(slots: int, waiting: int, seconds: float) -> None:
    with pytest.raises(ValueError):
        FifoGate(slots, waiting, seconds)
