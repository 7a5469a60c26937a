"""The safe PDF: the PNG pages the console made itself (rendition/pixels.py), one image a page.

img2pdf writes a PDF whose pages hold one image XObject each and nothing else: no fonts, no
scripts, no actions, no forms, no annotations, no embedded files, no links, whatever the
original contained; the PDF is built from the console's own PNGs, never from anything the
reporter or the sandbox wrote. Pages are laid out at 150 dpi (an A4 page stays A4).

With OCR (optional), each page also gets an invisible text layer (text render mode 3) of the
recognised words, in the standard Helvetica font, which is named, never embedded: the PDF then
becomes searchable, and its only font is that name. The words are text the console checked
(pixels.parse_tsv) and are written as hexadecimal strings, so no word can break out of its
string into PDF syntax.
"""

from __future__ import annotations

import io

import img2pdf
import pikepdf

from journalist_console.rendition.pixels import Word

DPI = 150
POINTS_PER_PIXEL = 72 / DPI
OCR_FONT = "/WbsOcr"
_AVERAGE_GLYPH_EM = 0.5  # Helvetica's mean advance, to stretch a word over its box


def build(pages: list[bytes], words: list[list[Word]] | None = None) -> bytes:
    """The safe PDF of PNG pages (and, per page, the words OCR found on it)."""
    data: bytes = img2pdf.convert(
        pages,
        engine=img2pdf.Engine.internal,
        layout_fun=img2pdf.get_fixed_dpi_layout_fun((DPI, DPI)),
        nodate=True,
    )
    if words and any(words):
        data = _with_text_layer(data, words)
    return data


def _text_ops(page_height_pt: float, found: list[Word]) -> bytes:
    ops = [b"BT 3 Tr"]
    for left, top, width, height, text in found:
        encoded = text.encode("cp1252", "replace")
        size = max(1.0, height * POINTS_PER_PIXEL)
        natural = max(1.0, _AVERAGE_GLYPH_EM * size * len(encoded))
        stretch = 100 * width * POINTS_PER_PIXEL / natural
        x = left * POINTS_PER_PIXEL
        y = page_height_pt - (top + height) * POINTS_PER_PIXEL
        # The trailing space (past the box, where the gap is) keeps words apart in a search.
        ops.append(
            b"%s %.2f Tf %.2f Tz 1 0 0 1 %.2f %.2f Tm <%s> Tj"
            % (OCR_FONT.encode(), size, stretch, x, y, (encoded + b" ").hex().encode())
        )
    ops.append(b"ET")
    return b"\n".join(ops)


def _with_text_layer(data: bytes, words: list[list[Word]]) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as document:
        font = document.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font,
                Subtype=pikepdf.Name.Type1,
                BaseFont=pikepdf.Name.Helvetica,
                Encoding=pikepdf.Name.WinAnsiEncoding,
            )
        )
        for page, found in zip(document.pages, words, strict=False):
            if not found:
                continue
            height = float(page.mediabox[3]) - float(page.mediabox[1])
            page.add_resource(font, pikepdf.Name.Font, pikepdf.Name(OCR_FONT))
            page.contents_add(pikepdf.Stream(document, _text_ops(height, found)), prepend=False)
        out = io.BytesIO()
        document.save(out, deterministic_id=True)
    return out.getvalue()
