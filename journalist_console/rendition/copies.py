"""The safe copies of a file, as bytes for a download or for `save`, and one page for the web.

    pages of a document (or an image of several frames)   <name>.safe.pdf   pdf.build
    a single image                                        <name>.safe.png   the PNG page itself
    text, and the text of HTML                            <name>.safe.txt   UTF-8

Every copy is made from parts the store vouches for (store.open_part checks each digest), in
memory; nothing here reads the original.
"""

from __future__ import annotations

import json

from journalist_console.rendition import pdf, store
from journalist_console.rendition.pixels import Word
from journalist_console.session import Session


def page(session: Session, rendition: store.Rendition, number: int) -> bytes:
    """One page's PNG (Unreadable when it is not there or was changed)."""
    return store.open_part(session, rendition.entry_id, store.page_part(number), rendition)


def text(session: Session, rendition: store.Rendition) -> str | None:
    if not rendition.has_text:
        return None
    return store.open_part(session, rendition.entry_id, "text", rendition).decode("utf-8")


def _words(session: Session, rendition: store.Rendition) -> list[list[Word]] | None:
    if not rendition.ocr:
        return None
    raw = json.loads(store.open_part(session, rendition.entry_id, "ocr", rendition))
    return [
        [(int(w[0]), int(w[1]), int(w[2]), int(w[3]), str(w[4])) for w in found] for found in raw
    ]


def main_copy(session: Session, rendition: store.Rendition) -> tuple[str, bytes] | None:
    """(extension, content) of the copy a "safe copy" download gives; None when there is none."""
    if rendition.pages:
        pages = [page(session, rendition, number) for number in range(1, rendition.pages + 1)]
        if rendition.format == "image" and rendition.pages == 1 and not rendition.ocr:
            return "png", pages[0]
        return "pdf", pdf.build(pages, _words(session, rendition))
    shown = text(session, rendition)
    if shown is not None:
        return "txt", shown.encode("utf-8")
    return None


def all_copies(session: Session, rendition: store.Rendition) -> list[tuple[str, bytes]]:
    """Every safe copy: the main one, and the plain text of HTML beside its pages."""
    copies: list[tuple[str, bytes]] = []
    main = main_copy(session, rendition)
    if main is not None:
        copies.append(main)
        shown = text(session, rendition)
        if main[0] != "txt" and shown is not None:
            copies.append(("txt", shown.encode("utf-8")))
    return copies


def copy_name(original: str, extension: str) -> str:
    """The name of a safe copy: "laporan.docx" -> "laporan.safe.pdf"."""
    stem, dot, _ext = original.rpartition(".")
    if not dot or not stem:
        stem = original
    return f"{stem}.safe.{extension}"
