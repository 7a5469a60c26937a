"""Accounts, recusals and retention: the pages of administration.

Everyone has their own account page (to change their passphrase); administrators add, remove,
reset, edit and lift recusals on /users and run retention on /retention. Every form that changes
an account, lifts a recusal or runs retention asks for the acting administrator's passphrase again
(state.confirm_passphrase), so an unlocked browser left unattended cannot change them; who may
do what is decided by the operations (journalist_console/staff.py, retention.py), which ask for
that confirmation only once the permission is settled. Refusals of permission are 403 pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from journalist_console import accounts, retention, settings, staff
from journalist_console.errors import ConsoleError, NotPermitted, UnknownReport
from journalist_console.session import Session
from journalist_console.texts import Text
from journalist_console.web.state import (
    confirm_passphrase,
    confirmed_new_passphrase,
    current_session,
    error_text,
    gettext,
    new_passphrase,
    serialised,
)

blueprint = Blueprint("admin", __name__)
_USER = re.compile(r"^[a-z][a-z0-9_-]{0,31}\Z")


def _users_page(code: int = 200, error: str | None = None, **form: Any) -> Any:
    session = current_session()
    return render_template(
        "users.html",
        users=accounts.all_accounts(session.conn),
        recusals=staff.recusals(session),
        author=settings.author_name(session.conn),
        form=form,
        error=error,
    ), code


def _user_page(name: str, code: int = 200, error: str | None = None, **form: Any) -> Any:
    session = current_session()
    if not _USER.match(name) or accounts.get(session.conn, name) is None:
        abort(404)
    return render_template(
        "user.html",
        account=staff.account_of(session, name),
        author=settings.author_name(session.conn),
        form=form,
        error=error,
    ), code


@blueprint.get("/users")
@serialised
def users() -> Any:
    return _users_page()


@blueprint.post("/users/add")
@serialised
def user_add() -> Any:
    name = request.form.get("name", "").strip()
    display = request.form.get("display_name", "").strip()
    try:
        staff.add_user(
            current_session(),
            name,
            confirmed_new_passphrase,
            admin=request.form.get("admin") == "yes",
            display_name=display or None,
        )
    except NotPermitted:
        raise
    except ConsoleError as exc:
        return _users_page(400, error_text(exc), name=name, display_name=display)
    flash(gettext("Added the investigator %(user)s.", user=name), "ok")
    return redirect(url_for("admin.users"))


@blueprint.get("/users/<name>")
@serialised
def user(name: str) -> Any:
    return _user_page(name)


def _user_form(name: str, action: Callable[[Session], str], **keep: str) -> Any:
    """A form on someone's account page, after the acting investigator's passphrase again."""
    session = current_session()
    if not _USER.match(name) or accounts.get(session.conn, name) is None:
        abort(404)
    try:
        confirm_passphrase()
        message = action(session)
    except NotPermitted:
        raise
    except ConsoleError as exc:
        return _user_page(name, 400, error_text(exc), **keep)
    flash(message, "ok")
    return redirect(url_for("admin.user", name=name))


@blueprint.post("/users/<name>/passphrase")
@serialised
def user_passphrase(name: str) -> Any:
    def act(session: Session) -> str:
        staff.set_passphrase(session, name, new_passphrase)
        own = name == session.investigator
        return (
            gettext("Your passphrase was changed.")
            if own
            else gettext("The passphrase of %(user)s was reset.", user=name)
        )

    return _user_form(name, act)


@blueprint.post("/users/<name>/edit")
@serialised
def user_edit(name: str) -> Any:
    role = request.form.get("role") or None
    display = request.form.get("display_name", "").strip()
    default = request.form.get("default_display_name") == "yes"

    def act(session: Session) -> str:
        shown = None if default or not display else display
        staff.edit_user(session, name, role, shown, clear_display_name=default)
        return gettext("Updated the account of %(user)s.", user=name)

    return _user_form(name, act, display_name=display)


@blueprint.post("/users/<name>/remove")
@serialised
def user_remove(name: str) -> Any:
    def confirm() -> None:
        if request.form.get("confirm_name", "").strip() != name:
            raise ConsoleError(Text("Type the user name to confirm the removal."))
        confirm_passphrase()

    try:
        staff.remove_user(current_session(), name, confirm)
    except NotPermitted:
        raise
    except ConsoleError as exc:
        return _user_page(name, 400, error_text(exc))
    flash(gettext("Removed the investigator %(user)s.", user=name), "ok")
    return redirect(url_for("admin.users"))


@blueprint.post("/recusals/lift")
@serialised
def recusal_lift() -> Any:
    name = request.form.get("user", "")
    try:
        regno = staff.lift_recusal(
            current_session(), request.form.get("regno", ""), name, confirm_passphrase
        )
    except (NotPermitted, UnknownReport):
        raise
    except ConsoleError as exc:
        return _users_page(400, error_text(exc))
    flash(
        gettext("The recusal of %(user)s from %(regno)s is lifted.", user=name, regno=regno), "ok"
    )
    return redirect(url_for("admin.users"))


# -- retention ------------------------------------------------------------------------------------


def _retention_page(code: int = 200, error: str | None = None, **form: Any) -> Any:
    """The Retention page is for administrators: its setting, a preview and the forms."""
    session = current_session()
    accounts.require_admin(session.conn, session.investigator, "manage retention")
    overview = retention.overview(session)
    return render_template("retention.html", retention=overview, form=form, error=error), code


@blueprint.get("/retention")
@serialised
def retention_view() -> Any:
    return _retention_page()


@blueprint.post("/retention/settings")
@serialised
def retention_settings() -> Any:
    session = current_session()
    # The whole page is for administrators: a form that would change nothing is refused too.
    accounts.require_admin(session.conn, session.investigator, "change the console's settings")
    days_text = request.form.get("retention_days", "").strip()
    folder = request.form.get("archive_dir", "").strip() or None
    try:
        settings.configure(
            session,
            retention_days=_whole_number(days_text),
            retention_mode=request.form.get("retention_mode", "") or None,
            archive_dir=folder,
        )
    except NotPermitted:
        raise
    except ConsoleError as exc:
        keep = {"retention_days": days_text, "archive_dir": folder or ""}
        return _retention_page(400, error_text(exc), **keep)
    flash(gettext("Retention settings saved."), "ok")
    return redirect(url_for("admin.retention_view"))


def _whole_number(typed: str) -> int | None:
    try:
        return int(typed) if typed else None
    except ValueError:
        raise ConsoleError(Text("Retention days must be a whole number.")) from None


@blueprint.post("/retention/run")
@serialised
def retention_run() -> Any:
    def confirm() -> None:
        if request.form.get("confirm") != "yes":
            raise ConsoleError(Text("Tick the confirmation box to run retention."))
        confirm_passphrase()

    try:
        result = retention.run(current_session(), confirm=confirm)
    except NotPermitted:
        raise
    except ConsoleError as exc:
        return _retention_page(400, error_text(exc))
    if result.archives:
        folder = result.plan.archive_dir or ""
        flash(
            gettext(
                "%(n)s archives written into %(folder)s.", n=len(result.archives), folder=folder
            ),
            "ok",
        )
    flash(gettext("Retention done: %(n)s reports removed.", n=result.removed), "ok")
    if result.not_archived:
        reasons = "; ".join(f"{regno}: {why}" for regno, why in result.not_archived)
        flash(
            gettext(
                "%(n)s reports could not be archived and stay on the console: %(reasons)s",
                n=len(result.not_archived),
                reasons=reasons,
            ),
            "error",
        )
    return redirect(url_for("admin.retention_view"))
