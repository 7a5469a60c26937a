"""The team: investigators' accounts, report assignment, recusal, and the audit log as each sees it.

Who may do what is decided here, once, before anything is asked or changed (the rules and the
tables are journalist_console/accounts.py). An operation that needs a secret or a confirmation
from the person acting (a new passphrase, the administrator's own passphrase again, a typed name)
takes it as a callable and calls it only after the permission checks, so the command line and
the web interface ask for nothing a refused person would have to type, and neither repeats the
checks. Every change is one transaction with its audit entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from journalist_console import accounts, audit, audit_check, dates, reports, schema
from journalist_console.accounts import ADMIN, INVESTIGATOR, ROLES, Account, Recusal
from journalist_console.errors import InvalidInput, NotPermitted, Recused, UnknownAccount
from journalist_console.home import check_user_name
from journalist_console.session import Session
from journalist_console.texts import Text, clean_text
from journalist_console.vault import check_new_passphrase, write_user_box
from keys.disk import wipe_file

MAX_DISPLAY_NAME_CHARS = 60
MAX_REASON_CHARS = 2_000

Ask = Callable[[], bytes]  # asks the person acting for a new passphrase
Confirm = Callable[[], None]  # asks them to confirm (raises ConsoleError when they do not)


def _nothing_to_confirm() -> None:
    return None


def clean_display_name(text: str) -> str:
    name = clean_text(text).strip()
    if not name or len(name) > MAX_DISPLAY_NAME_CHARS or "\n" in name or "\t" in name:
        raise InvalidInput(
            Text(
                "The display name must be one line of 1 to %(n)s characters.",
                n=MAX_DISPLAY_NAME_CHARS,
            )
        )
    return name


# -- accounts -------------------------------------------------------------------------------------


def account_of(session: Session, name: str) -> Account:
    """An account as its page shows it: one's own, or anyone's for an administrator."""
    account = accounts.get(session.conn, name)
    if account is None:
        raise UnknownAccount.missing(name, f"no investigator {name!r} on this console")
    if name != session.investigator and not accounts.is_admin(session.conn, session.investigator):
        raise NotPermitted.admin_only("only an administrator can manage other accounts")
    return account


def add_user(
    session: Session,
    name: str,
    passphrase: Ask,
    admin: bool = False,
    display_name: str | None = None,
) -> Account:
    """An administrator adds an investigator: their account, then their box (one transaction)."""
    conn, me = session.conn, session.investigator
    accounts.require_admin(conn, me, "add investigators")
    new = passphrase()
    check_user_name(name)
    check_new_passphrase(new)
    shown = None if display_name is None else clean_display_name(display_name)
    existing = accounts.get(conn, name)
    if existing is not None:
        if existing.active:
            raise InvalidInput(
                Text("That user name already exists."), f"there already is an investigator {name!r}"
            )
        raise InvalidInput(
            Text(
                "That name belonged to a removed investigator; names are not reused. "
                "Choose another."
            ),
            f"the name {name!r} belonged to an investigator removed on {existing.removed_day}; "
            "names are not reused, so the audit log stays unambiguous: choose another",
        )
    role = ADMIN if admin else INVESTIGATOR
    with schema.transaction(conn):
        conn.execute(
            "INSERT INTO users(name, role, display_name, created_day, created_by) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, role, shown, dates.today().isoformat(), me),
        )
        detail = {"user": name, "role": role, "display_name": shown}
        audit.append(conn, me, "user_added", None, detail)
        # Last, inside the transaction: if writing the box fails nothing is recorded; a crash
        # after it leaves a box without an account, which cannot unlock and is replaced by the
        # next `user add` of that name.
        box_key = write_user_box(session.home, name, session.vault_key, new)
        accounts.set_box_key(conn, name, box_key.to_line())
    return accounts.require_active(conn, name)


def remove_user(session: Session, name: str, confirm: Confirm = _nothing_to_confirm) -> list[str]:
    """An administrator removes another investigator; returns the reports that were theirs.

    The account is marked removed (kept, so the audit log's names keep their meaning), the
    reports assigned to them are unassigned, then their box is overwritten and deleted. Nothing
    else is re-encrypted: see docs/console-design.md for what this does and does not protect
    against.
    """
    conn, me = session.conn, session.investigator
    accounts.require_admin(conn, me, "remove investigators")
    confirm()
    account = accounts.require_active(conn, name)
    if name == me:
        raise NotPermitted(Text("You cannot remove yourself; ask another administrator."))
    if account.is_admin and accounts.active_admins(conn) == [name]:
        raise NotPermitted(
            Text("The last administrator can be neither removed nor demoted."),
            "the last administrator cannot be removed",
        )
    with schema.transaction(conn):
        assigned = [
            str(row[0])
            for row in conn.execute(
                "SELECT regno FROM assignments WHERE assignee = ? ORDER BY regno", (name,)
            )
        ]
        conn.execute("DELETE FROM assignments WHERE assignee = ?", (name,))
        conn.execute("DELETE FROM drafts WHERE investigator = ?", (name,))  # nobody to offer to
        conn.execute(
            "UPDATE users SET removed_day = ?, removed_by = ? WHERE name = ?",
            (dates.today().isoformat(), me, name),
        )
        audit.append(conn, me, "user_removed", None, {"user": name, "unassigned": assigned})
    # After the commit: the account no longer unlocks whatever happens next; a crash before the
    # box is gone is finished by accounts.wipe_removed_boxes when the next session opens.
    wipe_file(session.home.user_box(name))
    return assigned


def set_passphrase(session: Session, name: str, passphrase: Ask) -> None:
    """The acting investigator's own new passphrase, or an administrator's reset of another's."""
    conn, me = session.conn, session.investigator
    check_user_name(name)
    if name != me:
        accounts.require_admin(conn, me, "reset another investigator's passphrase")
    new = passphrase()
    check_new_passphrase(new)
    accounts.require_active(conn, name)
    with schema.transaction(conn):
        action = "passphrase_changed" if name == me else "passphrase_reset"
        audit.append(conn, me, action, None, {"user": name})
        # A new box key with the new passphrase: a copy of the old box, whose passphrase may be
        # what leaked, opens no vault key sealed from now on (a re-key reaches only this one).
        box_key = write_user_box(session.home, name, session.vault_key, new)
        accounts.set_box_key(conn, name, box_key.to_line())


def edit_user(
    session: Session,
    name: str,
    role: str | None = None,
    display_name: str | None = None,
    clear_display_name: bool = False,
) -> Account:
    """An administrator changes an investigator's role or reply display name."""
    conn, me = session.conn, session.investigator
    accounts.require_admin(conn, me, "change investigators' roles and display names")
    account = accounts.require_active(conn, name)
    changes: dict[str, Any] = {}
    if role is not None:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role[:20]!r}; valid: {', '.join(ROLES)}")
        if role != account.role:
            if account.is_admin and accounts.active_admins(conn) == [name]:
                raise NotPermitted(
                    Text("The last administrator can be neither removed nor demoted."),
                    "the last administrator cannot be demoted",
                )
            changes["role"] = role
    if clear_display_name and display_name is not None:
        raise InvalidInput("give a display name or clear it, not both")
    if clear_display_name and account.display_name is not None:
        changes["display_name"] = None
    elif display_name is not None:
        shown = clean_display_name(display_name)
        if shown != account.display_name:
            changes["display_name"] = shown
    if changes:
        with schema.transaction(conn):
            for column, value in changes.items():
                conn.execute(
                    f"UPDATE users SET {column} = ? WHERE name = ?",  # noqa: S608 - two names
                    (value, name),
                )
            audit.append(conn, me, "user_changed", None, {"user": name} | changes)
    return accounts.require_active(conn, name)


# -- assignment -----------------------------------------------------------------------------------


def assign(session: Session, regno_text: str, name: str) -> str:
    """Assign a report (which the acting investigator may open) to an active investigator."""
    conn = session.conn
    regno = reports.resolve(session, regno_text)
    accounts.require_active(conn, name)
    day = accounts.recused_day(conn, regno, name)
    if day is not None:
        raise InvalidInput(
            Text("%(user)s cannot be assigned %(regno)s (recused).", user=name, regno=regno),
            f"{name} recused themselves from {regno} on {day}; assign it to someone else",
        )
    current = accounts.assignment(conn, regno)
    if current is not None and current[0] == name:
        return regno
    with schema.transaction(conn):
        conn.execute(
            "INSERT INTO assignments(regno, assignee, assigned_day, assigned_by) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(regno) DO UPDATE SET assignee = excluded.assignee, "
            "assigned_day = excluded.assigned_day, assigned_by = excluded.assigned_by",
            (regno, name, dates.today().isoformat(), session.investigator),
        )
        detail: dict[str, Any] = {"to": name}
        if current is not None:
            detail["from"] = current[0]
        audit.append(conn, session.investigator, "assigned", regno, detail)
    return regno


def unassign(session: Session, regno_text: str) -> str | None:
    """End a report's assignment; returns who it was assigned to (None: it was not)."""
    conn = session.conn
    regno = reports.resolve(session, regno_text)
    current = accounts.assignment(conn, regno)
    if current is None:
        return None
    with schema.transaction(conn):
        conn.execute("DELETE FROM assignments WHERE regno = ?", (regno,))
        audit.append(conn, session.investigator, "unassigned", regno, {"from": current[0]})
    return current[0]


# -- recusal --------------------------------------------------------------------------------------


def recuse(session: Session, regno_text: str, reason: str = "") -> str:
    """The acting investigator declares a conflict of interest and is kept out of the report."""
    conn, me = session.conn, session.investigator
    regno = reports.resolve_any(session, regno_text)
    day = accounts.recused_day(conn, regno, me)
    if day is not None:
        raise Recused(
            Text("You already recused yourself from %(regno)s.", regno=regno),
            f"you already recused yourself from {regno} on {day}",
        )
    text = clean_text(reason).strip()
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInput(
            Text("The reason is too long: at most %(n)s characters.", n=MAX_REASON_CHARS),
            f"the reason is longer than {MAX_REASON_CHARS} characters",
        )
    with schema.transaction(conn):
        conn.execute(
            "INSERT INTO recusals(regno, investigator, day, reason) VALUES (?, ?, ?, ?)",
            (regno, me, dates.today().isoformat(), text),
        )
        # What they typed on it is theirs no longer to send.
        conn.execute("DELETE FROM drafts WHERE regno = ? AND investigator = ?", (regno, me))
        current = accounts.assignment(conn, regno)
        detail: dict[str, Any] = {"reason_given": bool(text)}
        if current is not None and current[0] == me:
            conn.execute("DELETE FROM assignments WHERE regno = ?", (regno,))
            detail["unassigned"] = True
        audit.append(conn, me, "recused", regno, detail)
    return regno


def lift_recusal(
    session: Session, regno_text: str, name: str, confirm: Confirm = _nothing_to_confirm
) -> str:
    """An administrator (not the recused investigator) lets them back into the report."""
    conn, me = session.conn, session.investigator
    accounts.require_admin(conn, me, "lift a recusal")
    confirm()
    check_user_name(name)
    if name == me:
        raise NotPermitted(Text("Nobody can lift their own recusal; another administrator must."))
    regno = reports.resolve_any(session, regno_text)
    if accounts.recused_day(conn, regno, name) is None:
        raise InvalidInput(
            Text("That investigator is not recused."), f"{name} is not recused from {regno}"
        )
    with schema.transaction(conn):
        conn.execute(
            "UPDATE recusals SET lifted_day = ?, lifted_by = ? "
            "WHERE regno = ? AND investigator = ? AND lifted_day IS NULL",
            (dates.today().isoformat(), me, regno, name),
        )
        audit.append(conn, me, "recusal_lifted", regno, {"user": name})
    return regno


def recusals(session: Session, include_lifted: bool = False) -> list[Recusal]:
    """Administrators see everyone's recusals; an investigator sees only their own."""
    return accounts.recusals(session.conn, session.investigator, include_lifted=include_lifted)


# -- the audit log ------------------------------------------------------------------------------


def audit_entries(session: Session, limit: int = 200) -> list[audit.AuditEntry]:
    """The newest entries first, as the acting investigator may see them.

    Entries by others about a report this investigator recused from show only that something
    happened (who, what and the details are withheld); `audit verify` checks the full log.
    """
    me = session.investigator
    hidden = accounts.recused_regnos(session.conn, me)
    shown = []
    for entry in audit.entries(session.conn, limit):
        if entry.regno in hidden and entry.actor != me:
            entry = audit.AuditEntry(entry.seq, entry.at, "-", "(recused)", entry.regno, "{}")
        shown.append(entry)
    return shown


def verify_audit(session: Session) -> audit.VerifyResult:
    """The whole chain checked (whatever the acting investigator may see of it); then that it
    still holds the head the server last confirmed, and that accounts and recusals are what the
    log made them."""
    conn = session.conn
    result = audit.verify(conn)
    if not result.ok:
        return result
    confirmed = audit.last_anchor(conn)
    if confirmed is not None and not audit.holds(conn, confirmed[0]):
        return dataclasses.replace(
            result,
            ok=False,
            problem=f"the log no longer holds entry {confirmed[0].count} as the server "
            f"confirmed it on {confirmed[1]}: it was rewritten",
        )
    problems = audit_check.differences(conn)
    if problems:
        return dataclasses.replace(result, ok=False, problem="; ".join(problems))
    return dataclasses.replace(result, anchored=confirmed[0].count if confirmed else 0)
