"""Unlocking and locking the console, and the page language (a cookie; Indonesian by default).

The investigator's name and passphrase are asked in the page (the name prefilled with the
console's default investigator, or `serve --user`). A successful unlock by another investigator
ends the first one's session; a failed one changes nothing. "Lock" drops the keys from memory.

No typed work is lost to a lock. "Lock" on a report page sends that page's form, whose text is
kept as drafts first (journalist_console/drafts.py); so does a form that arrives after the idle
time, while the keys are still in memory (app.py, the guard). A report page's form that arrives
when the console is already locked (restarted, or locked from another tab) cannot be stored
without the keys: its text is carried in the unlock page itself (`carry_page`) and kept once the
investigator has unlocked.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask import session as cookie

from journalist_console.errors import ConsoleError
from journalist_console.session import Session
from journalist_console.vault import open_vault
from journalist_console.web.state import (
    LANGUAGES,
    error_text,
    gettext,
    keep_typed_for,
    local_target,
    mutex,
    state,
)
from keys.errors import CryptoFormatError, WrongPassphrase
from keys.records import normalize_regno

blueprint = Blueprint("unlock", __name__)
# Endpoints a browser reaches without an unlocked session (see app.py, the guard).
OPEN_ENDPOINTS = ("static", "unlock.unlock", "unlock.set_language", "unlock.favicon")


@blueprint.get("/favicon.ico")
def favicon() -> Any:
    return Response(status=204)


@blueprint.get("/lang/<code>")
def set_language(code: str) -> Any:
    response = redirect(local_target(request.args.get("next")))
    if code in LANGUAGES:
        response.set_cookie("lang", code, max_age=365 * 86400, httponly=True, samesite="Strict")
    return response


# The report page's fields that are kept (drafts.py): the report, the message to the reporter,
# the status beside it, the internal note.
CARRIED = ("regno", "message", "status", "text")
MAX_CARRIED_CHARS = 100_000


def kept_message() -> str:
    return gettext(
        "What you were typing was kept; it is offered back on the report after unlocking."
    )


def back_to_report(form: Mapping[str, str]) -> str:
    """The unlock page, then the report the form was typed on."""
    regno = normalize_regno(form.get("regno", ""))
    target = url_for("reports.report", regno=regno) if regno else "/"
    return url_for("unlock.unlock", next=target)


def carried(form: Mapping[str, str]) -> dict[str, str] | None:
    """A report page's typed text that reached a locked console, if it is worth carrying: it
    came from this console's own pages (a browser says so in Sec-Fetch-Site) and holds text."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return None
    regno = normalize_regno(form.get("regno", ""))
    fields = {name: form.get(name, "")[:MAX_CARRIED_CHARS] for name in CARRIED[1:]}
    if regno is None or not (fields["message"].strip() or fields["text"].strip()):
        return None
    return {"regno": regno, **fields}


def carry_page(fields: dict[str, str]) -> Any:
    """The unlock page holding what was typed, to be kept once unlocked."""
    target = url_for("reports.report", regno=fields["regno"])
    page = render_template("unlock.html", next=target, user=_default_user(), carried=fields)
    return page, 401


def _default_user() -> str:
    held = state()
    return held.default_user or held.home.default_user() or ""


@blueprint.route("/unlock", methods=["GET", "POST"])
def unlock() -> Any:
    target = local_target(request.args.get("next"))
    if request.method == "GET":
        return render_template("unlock.html", next=target, user=_default_user())
    typed = request.form.get("user", "").strip().lower()
    throttle = state().throttle
    wait = throttle.wait_seconds(time.monotonic())
    if wait:
        # Refused before the passphrase is even tried: guessing costs the time, not just argon2.
        error = gettext(
            "Too many wrong passphrases. Wait %(seconds)s seconds, then try again.", seconds=wait
        )
        page = render_template(
            "unlock.html",
            next=target,
            user=typed or _default_user(),
            error=error,
            carried=_still_carried(),
        )
        return page, 429, {"Retry-After": str(wait)}
    try:
        _unlock(typed, request.form.get("passphrase", "").encode("utf-8"))
    except WrongPassphrase:
        throttle.failed(time.monotonic())
        error, code = gettext("Wrong passphrase."), 401
    except (ConsoleError, CryptoFormatError) as exc:
        error, code = error_text(exc), 400
    else:
        throttle.succeeded()
        held = state()
        fields = {name: request.form.get(f"carried_{name}", "") for name in CARRIED}
        if held.session is not None and fields["regno"]:
            with mutex(held):
                if keep_typed_for(held.session, fields):
                    flash(kept_message(), "info")
        return redirect(target)
    shown = typed or _default_user()
    page = render_template(
        "unlock.html", next=target, user=shown, error=error, carried=_still_carried()
    )
    return page, code


def _still_carried() -> dict[str, str] | None:
    """What a refused unlock attempt carried keeps being carried to the next one."""
    fields = {name: request.form.get(f"carried_{name}", "") for name in CARRIED}
    return fields if fields["regno"] else None


def _unlock(typed: str, passphrase: bytes) -> None:
    """Unlock as `typed` (or the default investigator) and give this browser the session."""
    held = state()
    name = held.home.resolve_user(typed or held.default_user or None)
    if held.session is not None and held.session.investigator == name:
        open_vault(held.home, passphrase, name)
    else:
        # Another investigator: unlock as them first (a failure changes nothing), then drop the
        # previous investigator's session.
        opened = Session.open(held.home, passphrase, name, lock=held.lock)
        with mutex(held):
            held.lock_console()
        held.session = opened
    held.token = secrets.token_hex(16)
    held.last_seen = time.monotonic()
    cookie.clear()
    cookie["unlock"] = held.token
    cookie.permanent = True  # re-signed on every request: it slides with activity (app.py)


@blueprint.post("/lock")
def lock() -> Any:
    held = state()
    kept = False
    with mutex(held):
        if held.session is not None:
            kept = keep_typed_for(held.session, request.form)  # Lock on a report page
        held.lock_console()
    cookie.clear()
    flash(gettext("The console is locked."), "info")
    if kept:
        flash(kept_message(), "info")
        return redirect(back_to_report(request.form))
    return redirect(url_for("unlock.unlock"))
