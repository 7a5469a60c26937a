"""What the audit log says the team is, held against the tables that decide who may do what.

An investigator who holds the vault key can open the database with any SQLite tool. Editing the
users or recusals tables (making themselves an administrator, lifting their own recusal) leaves no
audit entry; rewriting the log to match is caught by the anchor (journalist_console/audit.py,
`holds`). So `audit verify` replays the log's account and recusal entries and compares the
result with the tables: a role, an account or a recusal that the log never recorded is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from journalist_console import schema


@dataclass
class TeamState:
    roles: dict[str, str] = field(default_factory=dict)  # active accounts only
    recused: set[tuple[str, str]] = field(default_factory=set)  # (regno, investigator)


def _detail(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def replayed(conn: schema.Connection) -> TeamState:
    """The accounts and recusals as the log's entries made them, in order."""
    state = TeamState()
    for row in conn.execute("SELECT actor, action, regno, detail FROM audit ORDER BY seq"):
        action, detail = row["action"], _detail(row["detail"])
        user = detail.get("user")
        if action in ("init", "accounts_enabled") and isinstance(detail.get("admin"), str):
            state.roles[detail["admin"]] = "admin"
        elif action == "user_added" and isinstance(user, str):
            state.roles[user] = str(detail.get("role"))
        elif action == "user_changed" and isinstance(user, str) and "role" in detail:
            state.roles[user] = str(detail["role"])
        elif action == "user_removed" and isinstance(user, str):
            state.roles.pop(user, None)
        elif action == "recused" and row["regno"]:
            state.recused.add((row["regno"], row["actor"]))
        elif action == "recusal_lifted" and row["regno"] and isinstance(user, str):
            state.recused.discard((row["regno"], user))
    return state


def recorded(conn: schema.Connection) -> TeamState:
    """The accounts and recusals as the tables hold them (reports still present only)."""
    roles = {
        str(row["name"]): str(row["role"])
        for row in conn.execute("SELECT name, role FROM users WHERE removed_day IS NULL")
    }
    recused = {
        (str(row["regno"]), str(row["investigator"]))
        for row in conn.execute("SELECT regno, investigator FROM recusals WHERE lifted_day IS NULL")
    }
    return TeamState(roles, recused)


def differences(conn: schema.Connection) -> list[str]:
    """Where the tables say something the log does not (empty: they agree)."""
    logged, held = replayed(conn), recorded(conn)
    present = {str(row[0]) for row in conn.execute("SELECT regno FROM reports")}
    problems = []
    for name in sorted(held.roles.keys() | logged.roles.keys()):
        if held.roles.get(name) != logged.roles.get(name):
            problems.append(
                f"account {name}: the tables say {held.roles.get(name) or 'none'}, the log says "
                f"{logged.roles.get(name) or 'none'}"
            )
    # Retention removes a report with its recusals; only reports still here can be compared.
    for regno, name in sorted(held.recused ^ logged.recused):
        if regno in present:
            state = "recused" if (regno, name) in held.recused else "not recused"
            problems.append(f"{name} on {regno}: the tables say {state}, the log does not")
    return problems
