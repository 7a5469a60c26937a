"""Validation of the report and follow-up forms: limits, required fields, allowed choices.

Plain functions rather than WTForms classes: the fields are few, the rules must be readable in one
place, and CSRF for these upload forms is the upload ticket (see dropbox/source/guards.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import format_number, gettext
from werkzeug.datastructures import MultiDict

from keys.records import CATEGORIES, RELATIONS

CRITERIA = ("what", "who", "where", "when", "how")
TEXT_LIMITS = {
    "what": 10_000,
    "who": 10_000,
    "where": 10_000,
    "when": 10_000,
    "how": 10_000,
    "message": 50_000,
    "pseudonym": 100,
    "contact": 500,
}
REQUIRED = ("category", "relation", "what")
FOLLOWUP_LIMIT = 50_000
HONEYPOT_FIELD = "website"


@dataclass
class Validation:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def clean_text(raw: str) -> str | None:
    """Normalised text, or None when it holds what no person types (NUL, undecodable bytes)."""
    if "\x00" in raw or "\ufffd" in raw:
        return None
    return raw.replace("\r\n", "\n").strip()


def _text_field(form: MultiDict[str, str], name: str, limit: int, result: Validation) -> None:
    cleaned = clean_text(form.get(name, ""))
    if cleaned is None:
        result.errors[name] = gettext(
            "This field contains characters that cannot be read. Please type the text again."
        )
    elif len(cleaned) > limit:
        result.errors[name] = gettext(
            "This field is too long (at most %(limit)s characters).", limit=format_number(limit)
        )
    else:
        result.values[name] = cleaned


def validate_report(form: MultiDict[str, str]) -> Validation:
    result = Validation()
    category = form.get("category", "")
    relation = form.get("relation", "")
    if category in CATEGORIES:
        result.values["category"] = category
    else:
        result.errors["category"] = gettext("Please choose a category.")
    if relation in RELATIONS:
        result.values["relation"] = relation
    else:
        result.errors["relation"] = gettext(
            "Please say whether you work at the ministry or are a member of the public."
        )
    for name, limit in TEXT_LIMITS.items():
        _text_field(form, name, limit, result)
    for name in REQUIRED:
        if name not in result.errors and not result.values.get(name):
            result.errors[name] = gettext("This field is required.")
    return result


def validate_followup(form: MultiDict[str, str], has_files: bool) -> Validation:
    result = Validation()
    _text_field(form, "message", FOLLOWUP_LIMIT, result)
    if "message" not in result.errors and not result.values.get("message") and not has_files:
        result.errors["message"] = gettext("Write a message or attach a file.")
    return result


def honeypot_filled(form: MultiDict[str, str]) -> bool:
    """A field hidden from people; only automated form fillers put something in it."""
    return bool(form.get(HONEYPOT_FIELD, "").strip())
