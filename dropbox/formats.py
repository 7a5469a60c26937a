"""How the source site writes sizes and days for people, in the page's language."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from babel.dates import format_date
from flask_babel import format_decimal, get_locale


def human_size(num_bytes: int) -> str:
    """A size as people read it, in the page's number format: "1,5 GB" in Indonesian, "1.5 GB"
    in English. Multiples of 1024 with the names KB, MB, GB: what file managers show people
    for the same files, so the limit and their files compare directly."""
    units = ("B", "KB", "MB", "GB", "TB")
    value, unit = float(num_bytes), 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{format_decimal(round(value, 1), format='#,##0.#')} {units[unit]}"


def long_day(iso_day: str) -> str:
    """A stored day (YYYY-MM-DD) as people write it: "29 November 2026", "November 29, 2026"."""
    return _long_day(iso_day, str(get_locale() or "id"))


# A /lookup page names the same few days many times over, and there are only so many days: each
# is formatted once per language. The days come from the database, never from a request.
@lru_cache(maxsize=4096)
def _long_day(iso_day: str, locale: str) -> str:
    try:
        return str(format_date(dt.date.fromisoformat(iso_day), format="long", locale=locale))
    except ValueError:
        return iso_day
