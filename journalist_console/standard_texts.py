"""Standard texts: the words an investigator starts a message to the reporter from.

Four texts (an acknowledgement, a request for more information, forwarded, closed), each in the
two languages a reporter can write in: a report written on the English site gets the English
text. Administrators keep them (`texts set|reset`, the Standard texts page), each change audited
as `standard_text_changed`; a text nobody changed is the built-in one below. The report page's
Respond card (and `respond --text NAME`) puts the chosen text first and what the investigator
typed after it (journalist_console/responses.py, `respond`).
"""

from __future__ import annotations

from dataclasses import dataclass

from journalist_console import accounts, audit, dates, reports, schema
from journalist_console.envelopes import open_document
from journalist_console.errors import InvalidInput, Unreadable
from journalist_console.session import Session
from journalist_console.texts import Text, clean_text
from keys.documents import DocumentError, ReportDocument

NAMES = ("acknowledgement", "more_information", "forwarded", "closed")
LANGUAGES = ("id", "en")  # the reporter's language; the first is the default
MAX_CHARS = 4_000

# The built-in texts. They promise nothing the inspectorate cannot keep and ask for no identity.
DEFAULTS: dict[tuple[str, str], str] = {
    ("acknowledgement", "id"): (
        "Terima kasih atas laporan Anda. Laporan ini sudah kami terima dan sedang kami pelajari. "
        "Setiap perkembangan akan kami sampaikan di halaman ini; simpan kode nama Anda baik-baik "
        "agar Anda dapat membacanya."
    ),
    ("acknowledgement", "en"): (
        "Thank you for your report. We have received it and are now studying it. We will post "
        "every development on this page; keep your codename safe so that you can read it."
    ),
    ("more_information", "id"): (
        "Terima kasih atas laporan Anda. Agar dapat kami tindak lanjuti, kami memerlukan "
        'keterangan berikut. Anda dapat mengirimkannya lewat "Tambahkan informasi ke laporan '
        'ini" di halaman laporan Anda. Jangan mencantumkan identitas Anda kecuali Anda '
        "menghendakinya."
    ),
    ("more_information", "en"): (
        "Thank you for your report. To follow it up we need the information below. You can send "
        'it with "Add information to this report" on your report\'s page. Do not give your '
        "identity unless you want to."
    ),
    ("forwarded", "id"): (
        "Laporan Anda telah kami teruskan kepada instansi yang berwenang menanganinya. "
        "Inspektorat tidak dapat menyampaikan hasil penanganan oleh instansi tersebut. Terima "
        "kasih telah membantu menjaga integritas kementerian."
    ),
    ("forwarded", "en"): (
        "We have forwarded your report to the authority competent to handle it. The Inspectorate "
        "cannot tell you how that authority deals with it. Thank you for helping to keep the "
        "ministry honest."
    ),
    ("closed", "id"): (
        "Pemeriksaan atas laporan Anda telah selesai dan laporan ini kami tutup. Terima kasih "
        "atas kepedulian Anda. Jika Anda memiliki informasi baru, tambahkan ke laporan ini atau "
        "buat laporan baru."
    ),
    ("closed", "en"): (
        "Our examination of your report is complete and we have closed it. Thank you for your "
        "concern. If you have new information, add it to this report or make a new report."
    ),
}


@dataclass(frozen=True)
class StandardText:
    name: str
    language: str
    body: str
    changed_day: str | None = None  # None: the built-in text
    changed_by: str | None = None


def _check(name: str, language: str) -> None:
    if name not in NAMES:
        raise InvalidInput(
            Text("Unknown standard text."),
            f"unknown standard text {name[:40]!r}; valid: {', '.join(NAMES)}",
        )
    if language not in LANGUAGES:
        raise InvalidInput(
            Text("Unknown language."), f"unknown language {language[:10]!r}; valid: id, en"
        )


def all_texts(session: Session) -> list[StandardText]:
    """Every text in every language, as the console uses it now."""
    changed = {
        (row["name"], row["language"]): row
        for row in session.conn.execute("SELECT * FROM standard_texts").fetchall()
    }
    texts = []
    for name in NAMES:
        for language in LANGUAGES:
            row = changed.get((name, language))
            if row is None:
                texts.append(StandardText(name, language, DEFAULTS[(name, language)]))
            else:
                texts.append(
                    StandardText(name, language, row["body"], row["changed_day"], row["changed_by"])
                )
    return texts


def for_language(session: Session, language: str) -> dict[str, str]:
    """The texts in one reporter language (the default one for anything else)."""
    chosen = language if language in LANGUAGES else LANGUAGES[0]
    return {t.name: t.body for t in all_texts(session) if t.language == chosen}


def report_language(session: Session, regno: str) -> str:
    """The language the reporter wrote the report in (the default one when unknown)."""
    row = session.conn.execute(
        "SELECT entry_id FROM entries WHERE regno = ? AND kind = 'report' AND readable = 1",
        (regno,),
    ).fetchone()
    if row is not None:
        try:
            _meta, content = open_document(session, session.home.entry_path(row["entry_id"]))
            language = ReportDocument.from_bytes(content).language
        except (Unreadable, DocumentError):
            language = ""
        if language in LANGUAGES:
            return language
    return LANGUAGES[0]


def for_report(session: Session, regno_text: str, name: str) -> str:
    """Standard text `name` in the language of the report's reporter."""
    regno = reports.resolve(session, regno_text)
    _check(name, LANGUAGES[0])
    return for_language(session, report_language(session, regno))[name]


def set_text(session: Session, name: str, language: str, body: str) -> None:
    """Replace a standard text (administrators only)."""
    conn = session.conn
    accounts.require_admin(conn, session.investigator, "change the standard texts")
    _check(name, language)
    text = clean_text(body).strip()
    if not text:
        raise InvalidInput(Text("The standard text is empty."))
    if len(text) > MAX_CHARS:
        raise InvalidInput(
            Text("The standard text is too long: at most %(n)s characters.", n=MAX_CHARS)
        )
    with schema.transaction(conn):
        conn.execute(
            "INSERT INTO standard_texts(name, language, body, changed_day, changed_by) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(name, language) DO UPDATE SET "
            "body = excluded.body, changed_day = excluded.changed_day, "
            "changed_by = excluded.changed_by",
            (name, language, text, dates.today().isoformat(), session.investigator),
        )
        audit.append(
            conn,
            session.investigator,
            "standard_text_changed",
            None,
            {"name": name, "language": language, "chars": len(text)},
        )


def reset(session: Session, name: str, language: str) -> None:
    """Go back to the built-in text (administrators only)."""
    conn = session.conn
    accounts.require_admin(conn, session.investigator, "change the standard texts")
    _check(name, language)
    with schema.transaction(conn):
        conn.execute("DELETE FROM standard_texts WHERE name = ? AND language = ?", (name, language))
        audit.append(
            conn,
            session.investigator,
            "standard_text_changed",
            None,
            {"name": name, "language": language, "reset": True},
        )
