"""Text files and HTML as plain text: what the console shows of them, and never more.

* Bytes become text without trusting any declared charset: UTF-8 (with or without a byte-order
  mark), UTF-16 when a byte-order mark says so, else Windows-1252 (the usual legacy encoding
  here), undecodable bytes replaced.
* HTML goes through bleach with no tag allowed and `strip=True`: every tag and comment is
  removed, only the text between them stays (a script's text is shown as text, never run). The
  entities bleach leaves are decoded once, so the page escapes the result exactly once.
* Control, format and bidirectional-override characters become visible escapes
  (journalist_console.render.safe), so "foo\\u202etxt.exe" cannot pass for something else; only
  newlines and tabs stay.
* Nothing is ever turned into a link: the page prints the text as text, escaped.

Only the first MAX_SOURCE_BYTES are read (a long text is cut, and the page says so), which
also bounds the work bleach's HTML parser can be made to do.
"""

from __future__ import annotations

import codecs
import html

import bleach

from journalist_console.render import safe

MAX_SOURCE_BYTES = 1024 * 1024


def decode(data: bytes, truncated: bool = False) -> str:
    """Text of bytes in an undeclared encoding (`truncated`: the bytes were cut at a limit)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", "replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if truncated and exc.reason == "unexpected end of data":  # a character cut by the limit
            return data[: exc.start].decode("utf-8")
    return data.decode("cp1252", "replace")


def strip_html(markup: str) -> str:
    """The text of an HTML document, every tag removed (bleach), entities decoded once."""
    cleaned = bleach.clean(markup, tags=set(), attributes={}, strip=True, strip_comments=True)
    return html.unescape(str(cleaned))


def plain_text(data: bytes, is_html: bool) -> tuple[str, bool]:
    """(the text to show, whether the file was cut to MAX_SOURCE_BYTES)."""
    cut = len(data) > MAX_SOURCE_BYTES
    text = decode(data[:MAX_SOURCE_BYTES], cut)
    if is_html:
        text = strip_html(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.rstrip()
        if line or (lines and lines[-1]) or not is_html:  # HTML: one blank line at most
            lines.append(line)
    return safe("\n".join(lines).strip("\n"), keep_newlines=True), cut
