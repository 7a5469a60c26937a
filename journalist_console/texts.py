"""Text for people and from people.

`Text` is a message the console says: its English, which is also its msgid in the catalogs
(journalist_console/translations, Flask-Babel), with %(name)s placeholders, and the values that
fill them. The command line speaks English (`str(text)`); a page shows it in the reader's
language (`text.render(gettext)`). Writing `Text("...")` is what marks a message for extraction
(scripts/translations.sh).

`clean_text` normalises what an investigator typed before it is stored.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable


class Text:
    """A translatable message and the values of its placeholders."""

    def __init__(self, msgid: str, /, **values: object) -> None:
        self.msgid = msgid
        self.values = values

    def render(
        self, gettext: Callable[[str], str], number: Callable[[int], str] | None = None
    ) -> str:
        """The message in the language `gettext` translates into; `number` writes whole
        numbers the way that language groups digits (10.000 in Indonesian)."""
        template = gettext(self.msgid)
        if not self.values:
            return template
        return template % with_numbers(self.values, number)

    def __str__(self) -> str:
        return self.render(lambda msgid: msgid)

    def __repr__(self) -> str:
        return f"Text({self.msgid!r})"


def clean_text(text: str) -> str:
    """Normalise what an investigator typed: newlines to \\n, no control characters but \\n/\\t."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )


def with_numbers(
    values: dict[str, object], number: Callable[[int], str] | None
) -> dict[str, object]:
    """The values with whole numbers written by `number` (unchanged without one)."""
    if number is None:
        return values
    return {
        name: number(value) if isinstance(value, int) and not isinstance(value, bool) else value
        for name, value in values.items()
    }
