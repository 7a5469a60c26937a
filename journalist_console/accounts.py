"""Investigators' accounts, report assignment and recusal: what the database says, and the checks.

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
operation that opens the report refuses them (reports.resolve raises Recused), their queue shows
the report as recused with no other detail, and any assignment of the report to them ends. Only
an administrator other than the recused investigator can lift a recusal; both steps are in the
audit log. The reason is kept in the recusals table for administrators, not in the audit log (which
every investigator reads); the audit records that a reason was given.

This module holds the database side: queries, and the checks every operation makes, each taking
the connection and the acting investigator's name. The operations that change accounts,
assignments and recusals are journalist_console/staff.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from journalist_console import audit, dates, schema
from journalist_console.errors import NotPermitted, Recused, UnknownAccount
from journalist_console.home import Home, check_user_name
from keys.disk import wipe_file

ADMIN = "admin"
INVESTIGATOR = "investigator"
ROLES = (ADMIN, INVESTIGATOR)


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


def active_admins(conn: schema.Connection) -> list[str]:
    return [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM users WHERE role = 'admin' AND removed_day IS NULL ORDER BY name"
        )
    ]


def is_admin(conn: schema.Connection, investigator: str) -> bool:
    account = get(conn, investigator)
    return account is not None and account.is_admin


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


def recusals(
    conn: schema.Connection,
    investigator: str,
    regno: str | None = None,
    include_lifted: bool = False,
) -> list[Recusal]:
    """Administrators see everyone's recusals; an investigator sees only their own."""
    where = "1"
    args: tuple[str, ...] = ()
    if not is_admin(conn, investigator):
        where, args = "investigator = ?", (investigator,)
    if regno is not None:
        where, args = f"{where} AND regno = ?", (*args, regno)
    if not include_lifted:
        where = f"{where} AND lifted_day IS NULL"
    # `where` is built from the fixed fragments above; values are parameters.
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
        raise UnknownAccount.missing(
            home_user,
            f"{home_user!r} is not an investigator of this console (a box without an account)",
        )
    if not account.active:
        wipe_file(home.user_box(home_user))
        raise UnknownAccount.removed(
            home_user,
            f"the investigator {home_user!r} was removed on {account.removed_day} "
            f"by {account.removed_by}; they can no longer unlock this console",
        )
    return account


def box_keys(conn: schema.Connection) -> dict[str, str | None]:
    """Each active investigator's box key (public line; None: a box from before schema version 6,
    not opened since), which a vault re-key seals the new vault key to (rekey.py).
    """
    return {
        str(row[0]): row[1]
        for row in conn.execute(
            "SELECT name, box_key FROM users WHERE removed_day IS NULL ORDER BY name"
        )
    }


def set_box_key(conn: schema.Connection, name: str, line: str) -> None:
    """Record the box key of `name`'s box (call inside the transaction that writes the box)."""
    conn.execute("UPDATE users SET box_key = ? WHERE name = ?", (line, name))


def wipe_removed_boxes(conn: schema.Connection, home: Home) -> None:
    """A removed investigator's box still on disk (a crash during removal) is destroyed now."""
    present = set(home.box_names())
    for account in all_accounts(conn):
        if not account.active and account.name in present:
            wipe_file(home.user_box(account.name))


# -- checks ---------------------------------------------------------------------------------------


def require_admin(conn: schema.Connection, investigator: str, what: str) -> None:
    if not is_admin(conn, investigator):
        raise NotPermitted.admin_only(
            f"only an administrator can {what}; {investigator!r} is not one"
        )


def require_active(conn: schema.Connection, name: str) -> Account:
    """The account of an investigator an operation names (to assign, edit, remove...)."""
    check_user_name(name)
    account = get(conn, name)
    if account is None:
        raise UnknownAccount.missing(name, f"no investigator {name!r} on this console")
    if not account.active:
        raise UnknownAccount.removed(
            name, f"the investigator {name!r} was removed on {account.removed_day}"
        )
    return account


def require_not_recused(conn: schema.Connection, investigator: str, regno: str) -> None:
    day = recused_day(conn, regno, investigator)
    if day is not None:
        raise Recused.from_report(
            regno,
            day,
            f"you ({investigator}) recused yourself from {regno} on {day} (conflict of "
            "interest): you cannot open it; only another administrator can lift a recusal",
        )
