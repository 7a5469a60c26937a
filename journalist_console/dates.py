"""Days, due dates and the clock.

The console counts in whole local days: the investigator's "today" on the workstation's clock. A
report is due `due_days` calendar days after the day the server received it (30 by default, the
ministry's guideline), so a report received on 31 January is due on 2 March in a common year and on
1 March in a leap year. Tests replace `today` to fix the clock.
"""

from __future__ import annotations

import datetime as dt

DEFAULT_DUE_DAYS = 30
MAX_DUE_DAYS = 366
# From this day after receipt an unanswered report is marked in the queue (journalist_console/
# deadlines.py): ten days before the 30th leave time to answer and carry the export.
DEFAULT_WARN_DAY = 20
# Retention of finished reports on the console (journalist_console/retention.py): removed this many
# days after their last event (closing, or anything later); 0 keeps them forever.
DEFAULT_RETENTION_DAYS = 365
MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650


def today() -> dt.date:
    return dt.date.today()


def parse_day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def due_day(received: dt.date, due_days: int = DEFAULT_DUE_DAYS) -> dt.date:
    if not 1 <= due_days <= MAX_DUE_DAYS:
        raise ValueError("due_days out of range")
    return received + dt.timedelta(days=due_days)


def days_left(due: dt.date, on: dt.date) -> int:
    """Positive: days until due; 0: due today; negative: days overdue."""
    return (due - on).days


def days_between(start: str, end: str) -> int:
    return (parse_day(end) - parse_day(start)).days
