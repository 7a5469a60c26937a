"""The console's expected failures: each is shown to the investigator as one clear line.

Anything raised as a ConsoleError has been detected before the console changed anything, or after
it rolled back what it had started: "nothing changes" is the contract of every subclass.
"""

from __future__ import annotations

from journalist_console.texts import Text


def command_line(text: Text) -> str:
    """A message the way the command line writes it: no capital first letter, no final stop."""
    english = str(text)
    return (english[:1].lower() + english[1:]).removesuffix(".")


class ConsoleError(Exception):
    """An expected, explained failure (bad input, wrong state); the message is for a person.

    `message` is what the person is told: a translatable Text, which a page shows in the
    reader's language, or plain English for failures only the command line meets. str() is what
    the command line prints: `detail`, when the command line says more than the page (the
    offending value, the option to use), else the message in English, written its way.
    """

    def __init__(self, message: Text | str, detail: str | None = None) -> None:
        if detail is None:
            detail = command_line(message) if isinstance(message, Text) else message
        super().__init__(detail)
        self.message = message


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

    @classmethod
    def admin_only(cls, detail: str) -> NotPermitted:
        return cls(Text("Only an administrator can do this."), detail)


class Recused(ConsoleError):
    """The acting investigator declared a conflict of interest on this report: kept out of it."""

    @classmethod
    def from_report(cls, regno: str, day: str, detail: str) -> Recused:
        """They recused themselves from `regno` on `day`: nothing of it opens for them."""
        text = Text(
            "You recused yourself from %(regno)s on %(day)s (conflict of interest), so you "
            "cannot open it. Only another administrator can lift a recusal.",
            regno=regno,
            day=day,
        )
        return cls(text, detail)


class UnknownAccount(ConsoleError):
    """No (active) investigator account of that name on this console."""

    @classmethod
    def missing(cls, name: str, detail: str) -> UnknownAccount:
        text = Text(
            "The investigator %(user)s cannot unlock this console (no such account, or removed).",
            user=name,
        )
        return cls(text, detail)

    @classmethod
    def removed(cls, name: str, detail: str) -> UnknownAccount:
        text = Text(
            "The investigator %(user)s was removed and can no longer unlock this console.",
            user=name,
        )
        return cls(text, detail)
