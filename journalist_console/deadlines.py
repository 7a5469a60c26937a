"""The 30-day clock of one report, as the ministry's rule describes it.

Day 0 is the day the server received the report; `due_days` (30 by default) later is the last day
on which the answer may leave the console. The clock stops on the day the first response that
reaches the reporter leaves in a written export (journalist_console/answers.py), so:

* answered: that day is known; on time when it is no later than the due day, late otherwise;
* overdue: not answered, and today is after the due day (day 31 onward). Nothing else is overdue:
  a report answered on day 1 never is, whatever its status and however long it stays open;
* warning: not answered and not yet overdue, from day `warn_day` (20 by default) on;
* age: days since receipt, which matters for reports still open whether answered or not.

A status (open, closed) does not stop the clock: a report closed without a word to the reporter
is still unanswered, and overdue after day 30. Pure functions of days: the queue
(journalist_console/worklist.py) and the compliance figures (compliance.py) both count with them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from journalist_console import dates


@dataclass(frozen=True)
class Clock:
    due_day: dt.date  # the last day on which the answer may leave the console
    age: int  # days since receipt: 0 on the day the server received the report
    answered_day: dt.date | None  # the first answer left in a written export
    written_day: dt.date | None  # the first answer was written (it may still wait for export)
    days_left: int | None  # until the due day (0: today, negative: overdue); None once answered
    overdue: bool
    warning: bool

    @property
    def answered(self) -> bool:
        return self.answered_day is not None

    @property
    def answered_late(self) -> bool:
        return self.answered_day is not None and self.answered_day > self.due_day

    @property
    def waiting_export(self) -> bool:
        """An answer is written but has not left the console: the clock still runs."""
        return self.answered_day is None and self.written_day is not None


def clock(
    received: dt.date,
    answered: dt.date | None,
    written: dt.date | None,
    today: dt.date,
    due_days: int = dates.DEFAULT_DUE_DAYS,
    warn_day: int = dates.DEFAULT_WARN_DAY,
) -> Clock:
    due = dates.due_day(received, due_days)
    age = (today - received).days
    if answered is not None:
        return Clock(due, age, answered, written, None, False, False)
    left = dates.days_left(due, today)
    return Clock(due, age, None, written, left, left < 0, left >= 0 and age >= warn_day)


def response_days(received: dt.date, answered: dt.date) -> int:
    """Days from receipt to the answer: what the compliance figures keep and take medians of."""
    return (answered - received).days


def on_time(days: int, due_days: int = dates.DEFAULT_DUE_DAYS) -> bool:
    """An answer `days` after receipt is within the limit (day `due_days` itself included)."""
    return days <= due_days
