"""What the console says about a file's rendition, in both interfaces (the catalog translates).

A problem is a code (the converter's own list, rendition/convert.py FAILURES, or one the console
adds: jobs.py); its sentence is here, never text from the sandbox.
"""

from __future__ import annotations

from journalist_console.rendition.store import Rendition
from journalist_console.texts import Text

PROBLEMS: dict[str, Text] = {
    "unreadable": Text("The file could not be read: it is damaged, or not what it claims to be."),
    "encrypted": Text("The file is protected by a password, so it cannot be converted."),
    "image_too_large": Text(
        "The image has too many pixels to convert safely (a decompression bomb?)."
    ),
    "empty": Text("The file has no pages."),
    "timeout": Text("The conversion took too long and was stopped."),
    "limit": Text(
        "The conversion was stopped by a limit of the sandbox (memory, processor time or size)."
    ),
    "crashed": Text("The converter stopped unexpectedly."),
    "protocol": Text("The converter sent malformed data; everything after it was refused."),
    "too_large": Text("The file is too large to convert on this workstation."),
}
# Files the console makes no rendition of: listed with size and type, and this plain warning.
OTHER_KINDS: dict[str, Text] = {
    "archive": Text("This is an archive: the console makes no safe copy of it."),
    "program": Text("This is a program: the console makes no safe copy of it. Never run it."),
    "audio": Text("This is audio: the console makes no safe copy of it."),
    "video": Text("This is a video: the console makes no safe copy of it."),
    "photo": Text(
        "This photo is in a format (HEIC/AVIF) the console cannot convert: it makes no safe "
        "copy of it."
    ),
    "unknown": Text("The console does not know this kind of file and makes no safe copy of it."),
}


def sandbox_unavailable(reason: str) -> Text:
    return Text(
        "Files cannot be converted on this workstation: %(reason)s",
        reason=reason,
    )


ORIGINAL_WARNING = Text(
    "The original file comes from an unknown sender and may attack the program that opens it, "
    "and through it this workstation, which holds every key of the inspectorate. Read the safe "
    "copy instead. Open the original only on a computer that holds no keys and is not connected "
    "to any network."
)


def problem(rendition: Rendition) -> Text | None:
    """Why the rendition is missing or incomplete (None: it is complete)."""
    if rendition.problem is not None:
        return PROBLEMS.get(rendition.problem, PROBLEMS["crashed"])
    if rendition.format == "other":
        return OTHER_KINDS.get(rendition.detail, OTHER_KINDS["unknown"])
    return None


def notes(rendition: Rendition) -> list[Text]:
    """What the investigator should know about a rendition that exists (it was cut short)."""
    found: list[Text] = []
    if rendition.cut_short:
        found.append(
            Text(
                "Only the first %(pages)s of %(total)s pages were converted; the rest is only in "
                "the original.",
                pages=rendition.pages,
                total=rendition.total_pages,
            )
        )
    if rendition.text_cut:
        found.append(Text("The text is long: only its first MiB is shown."))
    if rendition.ocr:
        found.append(Text("The safe PDF carries recognised text (OCR), so it can be searched."))
    return found
