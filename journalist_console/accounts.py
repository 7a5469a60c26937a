"""Investigators' accounts, report assignment and recusal (issue 11).

Who is who
----------
Every investigator has an account (the `users` table of the console database) and a passphrase box
(vault/users/<name>.box, see home.py) holding the console's one vault key. The box decides whether
a passphrase is right; the account decides whether that name may use the console and with which
role. A box whose name has no account, or whose account was removed, is refused after the database
is open (and a removed investigator's box is overwritten and deleted at that point if it is still
there). Roles:

    admin          adds and removes investigators, resets passphrases, changes roles and reply
                   display names, lifts recusals (never their own), sets `config` and `recipient`
    investigator   everything else: import, export, read and work reports, assign, recuse

The console's first investigator (`init`, by default `investigator`) is its first administrator;
a console made before accounts existed gets its accounts table filled at the first unlock with the
investigator who unlocks it (it only ever had one) as administrator. There is always at least one
active administrator: the last one can be neither removed nor demoted. Names are never reused, so
a name in the audit log always means the same person.

Display names
-------------
A reply carries the display name the reporter sees: the investigator's own `display_name` if an
administrator gave them one, else the console's author name (`config --author`, "Inspektorat").
The account name is never shown to a reporter unless an administrator chooses it as display name.

Assignment and recusal
----------------------
A report is assigned to at most one investigator (`assign`, `unassign`; any investigator who may
open the report may assign it to any active investigator who is not recused from it). A recusal is
an investigator's own declaration of a conflict of interest on one report: from then on every
operation that opens the report refuses them (Console.resolve raises Recused), their queue shows
the report as recused with no other detail, and any assignment of the report to them ends. Only
an administrator other than the recused investigator can lift a recusal; both steps are in the
audit log. The reason is kept in the recusals table for administrators, not in the audit log (which
every investigator reads); the audit records that a reason was given.

This module holds the database side; the commands call these functions with an unlocked Console.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from journalist_console import audit, dates, schema
from journalist_console.errors import (
    InvalidInput,
    NotPermitted,
    Recused,
    UnknownAccount,
)
from journalist_console.home import (
    Home,
    check_new_passphrase,
    check_user_name,
    write_user_box,
)
from keys.disk import wipe_file

if TYPE_CHECKING:
    from journalist_console.console import Console

ADMIN = "admin"
INVESTIGATOR = "investigator"
ROLES = (ADMIN, INVESTIGATOR)
MAX_DISPLAY_NAME_CHARS = 60
MAX_REASON_CHARS = 2_000


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    display_name: str | None
    created_day: str
    created_by: str
    removed_day: str | None = None
    removed_by: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN and self.active

    @property
    def active(self) -> bool:
        return self.removed_day is None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "display_name": self.display_name,
            "created_day": self.created_day,
            "created_by": self.created_by,
            "removed_day": self.removed_day,
            "removed_by": self.removed_by,
        }


@dataclass(frozen=True)
class Recusal:
    regno: str
    investigator: str
    day: str
    reason: str
    lifted_day: str | None
    lifted_by: str | None

    @property
    def active(self) -> bool:
        return self.lifted_day is None

    def as_json(self) -> dict[str, Any]:
        return {
            "regno": self.regno,
            "investigator": self.investigator,
            "day": self.day,
            "reason": self.reason,
            "lifted_day": self.lifted_day,
            "lifted_by": self.lifted_by,
        }


# -- queries ------------------------------------------------------------------------------------


def _account(row: Any) -> Account:
    return Account(
        name=row["name"],
        role=row["role"],
        display_name=row["display_name"],
        created_day=row["created_day"],
        created_by=row["created_by"],
        removed_day=row["removed_day"],
        removed_by=row["removed_by"],
    )


def get(conn: schema.Connection, name: str) -> Account | None:
    row = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    return None if row is None else _account(row)


def all_accounts(conn: schema.Connection) -> list[Account]:
    rows = conn.execute("SELECT * FROM users ORDER BY removed_day IS NOT NULL, name").fetchall()
    return [_account(row) for row in rows]


def active_names(conn: schema.Connection) -> list[str]:
    return [
        str(row[0])
        for row in conn.execute("SELECT name FROM users WHERE removed_day IS NULL ORDER BY name")
    ]


def _active_admins(conn: schema.Connection) -> list[str]:
    return [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM users WHERE role = 'admin' AND removed_day IS NULL ORDER BY name"
        )
    ]


def recused_day(conn: schema.Connection, regno: str, name: str) -> str | None:
    row = conn.execute(
        "SELECT day FROM recusals WHERE regno = ? AND investigator = ? AND lifted_day IS NULL",
        (regno, name),
    ).fetchone()
    return None if row is None else str(row[0])


def recused_regnos(conn: schema.Connection, name: str) -> set[str]:
    return {
        str(row[0])
        for row in conn.execute(
            "SELECT regno FROM recusals WHERE investigator = ? AND lifted_day IS NULL", (name,)
        )
    }


def _recusals(conn: schema.Connection, where: str, args: tuple[Any, ...]) -> list[Recusal]:
    # `where` is built from fixed fragments in recusals() below; values are parameters.
    query = "SELECT regno, investigator, day, reason, lifted_day, lifted_by FROM recusals "
    rows = conn.execute(query + f"WHERE {where} ORDER BY recusal_id", args).fetchall()
    return [
        Recusal(
            r["regno"], r["investigator"], r["day"], r["reason"], r["lifted_day"], r["lifted_by"]
        )
        for r in rows
    ]


def assignment(conn: schema.Connection, regno: str) -> tuple[str, str, str] | None:
    """(assignee, day, assigned by) of a report, or None."""
    row = conn.execute(
        "SELECT assignee, assigned_day, assigned_by FROM assignments WHERE regno = ?", (regno,)
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]), str(row[2]))


# -- unlocking ------------------------------------------------------------------------------------


def admit(conn: schema.Connection, home: Home, home_user: str) -> Account:
    """The account of the investigator whose box just opened; refuses an unknown or removed one.

    A database from before accounts (an empty users table) makes this investigator its first
    administrator, recorded in the audit log. The box of a removed investigator (restored from a
    copy, or left by a crash during the removal) is overwritten and deleted on the spot.
    """
    if conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0:
        with schema.transaction(conn):
            conn.execute(
                "INSERT INTO users(name, role, display_name, created_day, created_by) "
                "VALUES (?, 'admin', NULL, ?, ?)",
                (home_user, dates.today().isoformat(), home_user),
            )
            audit.append(conn, home_user, "accounts_enabled", None, {"admin": home_user})
    account = get(conn, home_user)
    if account is None:
        raise UnknownAccount(
            f"{home_user!r} is not an investigator of this console (a box without an account)",
            "unknown_user",
            user=home_user,
        )
    if not account.active:
        wipe_file(home.user_box(home_user))
        raise UnknownAccount(
            f"the investigator {home_user!r} was removed on {account.removed_day} "
            f"by {account.removed_by}; they can no longer unlock this console",
            "user_removed",
            user=home_user,
        )
    return account


def wipe_removed_boxes(console: Console) -> None:
    """A removed investigator's box still on disk (a crash during removal) is destroyed now."""
    present = set(console.home.box_names())
    for account in all_accounts(console.conn):
        if not account.active and account.name in present:
            wipe_file(console.home.user_box(account.name))


# -- permissions ----------------------------------------------------------------------------------


def require_admin(console: Console, what: str) -> None:
    account = get(console.conn, console.user)
    if account is None or not account.is_admin:
        raise NotPermitted(
            f"only an administrator can {what}; {console.user!r} is not one",
            "admin_only",
        )


def _require_active(console: Console, name: str) -> Account:
    check_user_name(name)
    account = get(console.conn, name)
    if account is None:
        raise UnknownAccount(f"no investigator {name!r} on this console", "unknown_user", user=name)
    if not account.active:
        raise UnknownAccount(
            f"the investigator {name!r} was removed on {account.removed_day}",
            "user_removed",
            user=name,
        )
    return account


def clean_display_name(text: str) -> str:
    from journalist_console.console import clean_text

    name = clean_text(text).strip()
    if not name or len(name) > MAX_DISPLAY_NAME_CHARS or "\n" in name or "\t" in name:
        raise InvalidInput(
            f"the display name must be one line of 1 to {MAX_DISPLAY_NAME_CHARS} characters",
            "display_name_invalid",
            n=MAX_DISPLAY_NAME_CHARS,
        )
    return name


# -- account administration -----------------------------------------------------------------------


def add_user(
    console: Console,
    name: str,
    passphrase: bytes,
    admin: bool = False,
    display_name: str | None = None,
) -> Account:
    """An administrator adds an investigator: their account, then their box (one transaction)."""
    require_admin(console, "add investigators")
    check_user_name(name)
    check_new_passphrase(passphrase)
    shown = None if display_name is None else clean_display_name(display_name)
    existing = get(console.conn, name)
    if existing is not None:
        if existing.active:
            raise InvalidInput(f"there already is an investigator {name!r}", "user_exists")
        raise InvalidInput(
            f"the name {name!r} belonged to an investigator removed on {existing.removed_day}; "
            "names are not reused, so the audit log stays unambiguous: choose another",
            "user_name_used",
        )
    role = ADMIN if admin else INVESTIGATOR
    today = dates.today().isoformat()
    with schema.transaction(console.conn):
        console.conn.execute(
            "INSERT INTO users(name, role, display_name, created_day, created_by) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, role, shown, today, console.user),
        )
        audit.append(
            console.conn,
            console.user,
            "user_added",
            None,
            {"user": name, "role": role, "display_name": shown},
        )
        # Last, inside the transaction: if writing the box fails nothing is recorded; a crash
        # after it leaves a box without an account, which cannot unlock and is replaced by the
        # next `user add` of that name.
        write_user_box(console.home, name, console.vault_key, passphrase)
    return _require_active(console, name)


def remove_user(console: Console, name: str) -> list[str]:
    """An administrator removes another investigator; returns the reports that were theirs.

    The account is marked removed (kept, so the audit log's names keep their meaning), the
    reports assigned to them are unassigned, then their box is overwritten and deleted. Nothing
    else is re-encrypted: see docs/console-design.md for what this does and does not protect
    against.
    """
    require_admin(console, "remove investigators")
    account = _require_active(console, name)
    if name == console.user:
        raise NotPermitted(
            "you cannot remove yourself; ask another administrator", "cannot_remove_self"
        )
    if account.is_admin and _active_admins(console.conn) == [name]:
        raise NotPermitted("the last administrator cannot be removed", "last_admin")
    today = dates.today().isoformat()
    with schema.transaction(console.conn):
        assigned = [
            str(row[0])
            for row in console.conn.execute(
                "SELECT regno FROM assignments WHERE assignee = ? ORDER BY regno", (name,)
            )
        ]
        console.conn.execute("DELETE FROM assignments WHERE assignee = ?", (name,))
        console.conn.execute(
            "UPDATE users SET removed_day = ?, removed_by = ? WHERE name = ?",
            (today, console.user, name),
        )
        audit.append(
            console.conn,
            console.user,
            "user_removed",
            None,
            {"user": name, "unassigned": assigned},
        )
    # After the commit: the account no longer unlocks whatever happens next; a crash before the
    # box is gone is finished by wipe_removed_boxes at the next unlock.
    wipe_file(console.home.user_box(name))
    return assigned


def set_passphrase(console: Console, name: str, new: bytes) -> None:
    """The acting investigator's own new passphrase, or an administrator's reset of another's."""
    check_user_name(name)
    check_new_passphrase(new)
    if name != console.user:
        require_admin(console, "reset another investigator's passphrase")
    _require_active(console, name)
    with schema.transaction(console.conn):
        if name == console.user:
            audit.append(console.conn, console.user, "passphrase_changed", None, {"user": name})
        else:
            audit.append(console.conn, console.user, "passphrase_reset", None, {"user": name})
        write_user_box(console.home, name, console.vault_key, new)


def edit_user(
    console: Console,
    name: str,
    role: str | None = None,
    display_name: str | None = None,
    clear_display_name: bool = False,
) -> Account:
    """An administrator changes an investigator's role or reply display name."""
    require_admin(console, "change investigators' roles and display names")
    account = _require_active(console, name)
    changes: dict[str, Any] = {}
    if role is not None:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role[:20]!r}; valid: {', '.join(ROLES)}")
        if role != account.role:
            if account.is_admin and _active_admins(console.conn) == [name]:
                raise NotPermitted("the last administrator cannot be demoted", "last_admin")
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
        with schema.transaction(console.conn):
            for column, value in changes.items():
                console.conn.execute(
                    f"UPDATE users SET {column} = ? WHERE name = ?",  # noqa: S608 - two names
                    (value, name),
                )
            audit.append(console.conn, console.user, "user_changed", None, {"user": name} | changes)
    return _require_active(console, name)


# -- assignment -----------------------------------------------------------------------------------


def assign(console: Console, regno_text: str, name: str) -> str:
    """Assign a report (which the acting investigator may open) to an active investigator."""
    regno = console.resolve(regno_text)
    _require_active(console, name)
    day = recused_day(console.conn, regno, name)
    if day is not None:
        raise InvalidInput(
            f"{name} recused themselves from {regno} on {day}; assign it to someone else",
            "assignee_recused",
            user=name,
            regno=regno,
        )
    current = assignment(console.conn, regno)
    if current is not None and current[0] == name:
        return regno
    today = dates.today().isoformat()
    with schema.transaction(console.conn):
        console.conn.execute(
            "INSERT INTO assignments(regno, assignee, assigned_day, assigned_by) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(regno) DO UPDATE SET assignee = excluded.assignee, "
            "assigned_day = excluded.assigned_day, assigned_by = excluded.assigned_by",
            (regno, name, today, console.user),
        )
        detail: dict[str, Any] = {"to": name}
        if current is not None:
            detail["from"] = current[0]
        audit.append(console.conn, console.user, "assigned", regno, detail)
    return regno


def unassign(console: Console, regno_text: str) -> str | None:
    """End a report's assignment; returns who it was assigned to (None: it was not)."""
    regno = console.resolve(regno_text)
    current = assignment(console.conn, regno)
    if current is None:
        return None
    with schema.transaction(console.conn):
        console.conn.execute("DELETE FROM assignments WHERE regno = ?", (regno,))
        audit.append(console.conn, console.user, "unassigned", regno, {"from": current[0]})
    return current[0]


# -- recusal --------------------------------------------------------------------------------------


def recuse(console: Console, regno_text: str, reason: str = "") -> str:
    """The acting investigator declares a conflict of interest and is kept out of the report."""
    from journalist_console.console import clean_text

    regno = console.resolve_any(regno_text)
    day = recused_day(console.conn, regno, console.user)
    if day is not None:
        raise Recused(
            f"you already recused yourself from {regno} on {day}", "already_recused", regno=regno
        )
    text = clean_text(reason).strip()
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInput(
            f"the reason is longer than {MAX_REASON_CHARS} characters",
            "reason_too_long",
            n=MAX_REASON_CHARS,
        )
    today = dates.today().isoformat()
    with schema.transaction(console.conn):
        console.conn.execute(
            "INSERT INTO recusals(regno, investigator, day, reason) VALUES (?, ?, ?, ?)",
            (regno, console.user, today, text),
        )
        current = assignment(console.conn, regno)
        detail: dict[str, Any] = {"reason_given": bool(text)}
        if current is not None and current[0] == console.user:
            console.conn.execute("DELETE FROM assignments WHERE regno = ?", (regno,))
            detail["unassigned"] = True
        audit.append(console.conn, console.user, "recused", regno, detail)
    return regno


def lift_recusal(console: Console, regno_text: str, name: str) -> str:
    """An administrator (not the recused investigator) lets them back into the report."""
    require_admin(console, "lift a recusal")
    check_user_name(name)
    if name == console.user:
        raise NotPermitted(
            "nobody can lift their own recusal; another administrator must", "own_recusal"
        )
    regno = console.resolve_any(regno_text)
    if recused_day(console.conn, regno, name) is None:
        raise InvalidInput(f"{name} is not recused from {regno}", "not_recused")
    today = dates.today().isoformat()
    with schema.transaction(console.conn):
        console.conn.execute(
            "UPDATE recusals SET lifted_day = ?, lifted_by = ? "
            "WHERE regno = ? AND investigator = ? AND lifted_day IS NULL",
            (today, console.user, regno, name),
        )
        audit.append(console.conn, console.user, "recusal_lifted", regno, {"user": name})
    return regno


def recusals(
    console: Console, regno: str | None = None, include_lifted: bool = False
) -> list[Recusal]:
    """Administrators see everyone's recusals; an investigator sees only their own."""
    account = get(console.conn, console.user)
    where = "1"
    args: tuple[str, ...] = ()
    if account is None or not account.is_admin:
        where, args = "investigator = ?", (console.user,)
    if regno is not None:
        where, args = f"{where} AND regno = ?", (*args, regno)
    if not include_lifted:
        where = f"{where} AND lifted_day IS NULL"
    return _recusals(console.conn, where, args)


def require_not_recused(console: Console, regno: str) -> None:
    day = recused_day(console.conn, regno, console.user)
    if day is not None:
        raise Recused(
            f"you ({console.user}) recused yourself from {regno} on {day} (conflict of "
            "interest): you cannot open it; only another administrator can lift a recusal",
            "recused",
            regno=regno,
            day=day,
        )


def display_name_for(console: Console, name: str) -> str:
    """What a reporter sees on a reply written by `name`."""
    account = get(console.conn, name)
    if account is not None and account.display_name:
        return account.display_name
    return console.author_name
