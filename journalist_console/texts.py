"""Text from people: what an investigator types is normalised here before it is stored."""

from __future__ import annotations

import unicodedata


def clean_text(text: str) -> str:
    """Normalise what an investigator typed: newlines to \\n, no control characters but \\n/\\t."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )
