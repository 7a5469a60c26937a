"""Unlocking and locking the console, and the page language (a cookie; Indonesian by default).

The investigator's name and passphrase are asked in the page (the name prefilled with the
console's default investigator, or `serve --user`). A successful unlock by another investigator
ends the first one's session; a failed one changes nothing. "Lock" drops the keys from memory.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask import session as cookie

from journalist_console.errors import ConsoleError
from journalist_console.session import Session
from journalist_console.vault import open_vault
from journalist_console.web.state import LANGUAGES, error_text, gettext, local_target, mutex, state
from keys.errors import CryptoFormatError, WrongPassphrase

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


def _default_user() -> str:
    held = state()
    return held.default_user or held.home.default_user() or ""


@blueprint.route("/unlock", methods=["GET", "POST"])
def unlock() -> Any:
    target = local_target(request.args.get("next"))
    if request.method == "GET":
        return render_template("unlock.html", next=target, user=_default_user())
    typed = request.form.get("user", "").strip().lower()
    try:
        _unlock(typed, request.form.get("passphrase", "").encode("utf-8"))
    except WrongPassphrase:
        error, code = gettext("Wrong passphrase."), 401
    except (ConsoleError, CryptoFormatError) as exc:
        error, code = error_text(exc), 400
    else:
        return redirect(target)
    shown = typed or _default_user()
    return render_template("unlock.html", next=target, user=shown, error=error), code


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


@blueprint.post("/lock")
def lock() -> Any:
    held = state()
    with mutex(held):
        held.lock_console()
    cookie.clear()
    flash(gettext("The console is locked."), "info")
    return redirect(url_for("unlock.unlock"))
