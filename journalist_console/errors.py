"""The console's expected failures: each is shown to the investigator as one clear line.

Anything raised as a ConsoleError has been detected before the console changed anything, or after
it rolled back what it had started: "nothing changes" is the contract of every subclass.
"""

from __future__ import annotations


class ConsoleError(Exception):
    """An expected, explained failure (bad input, wrong state); the message is for a person.

    The message is English (the command line's language); `key` and `values` name the same
    message in journalist_console.i18n, so the web interface can show it in the reader's language.
    """

    def __init__(self, message: str, key: str | None = None, **values: object) -> None:
        super().__init__(message)
        self.key = key
        self.values = values


class NotInitialised(ConsoleError):
    """The home directory holds no console."""


class ConsoleBusy(ConsoleError):
    """Another console process holds the home's lock."""


class UnknownReport(ConsoleError):
    """No report with this register number is held here."""


class InvalidInput(ConsoleError):
    """A reply, status, note or option the investigator gave is not acceptable."""


class ImportRefused(ConsoleError):
    """A bundle cannot be imported; the console is exactly as before."""


class ExportRefused(ConsoleError):
    """No response bundle can be written now; nothing was marked exported."""


class Unreadable(ConsoleError):
    """An envelope held here cannot be decrypted with this console's key (or is missing)."""


class NotPermitted(ConsoleError):
    """The acting investigator's role does not allow this (an administrator's task)."""


class Recused(ConsoleError):
    """The acting investigator declared a conflict of interest on this report: kept out of it."""


class UnknownAccount(ConsoleError):
    """No (active) investigator account of that name on this console."""
