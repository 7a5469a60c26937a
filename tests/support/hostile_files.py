"""Hostile attachments, made here byte by byte (no binary fixture is downloaded or checked in):
what a reporter, or someone posing as one, could send the inspectorate to attack the console.

- `pdf_with_actions`: JavaScript in an OpenAction and a page's additional actions, a Launch
  action, a link to a URL, an embedded file, and text in a font;
- `pdf_pages`: a PDF of any number of pages sharing one content stream (10,000 pages in ~1 MB);
- `odt`: an OpenDocument text, optionally with a Basic macro bound to the document's load event
  (listed in its manifest), linked sections and images;
- `html_reaching_out`: HTML whose images load from a URL and from a host file;
- `png_bomb`: a tiny PNG that decodes to billions of pixels;
- `jpeg_with_gps`: a photo with EXIF (GPS, author, camera serial), XMP, an ICC profile name and a
  comment, via Pillow;
- `polyglot`: one file that is at once a JPEG, a PDF with JavaScript, and HTML with a script.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

MARK_JS = "app.alert('wbs-js-ran')"


def pdf_document(objects: list[bytes], root: int = 1, trailer_extra: bytes = b"") -> bytes:
    """A PDF with a correct cross-reference table; objects are numbered from 1."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\n" % (len(objects) + 1, root, trailer_extra)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def pdf_with_actions(text: str = "LAPORAN RAHASIA") -> bytes:
    content = b"BT /F1 36 Tf 72 700 Td (%s) Tj ET\n0 0 1 rg 72 400 200 100 re f" % text.encode()
    js = MARK_JS.encode()
    return pdf_document(
        [
            # 1 catalog: JavaScript on open, a name tree of scripts, an embedded file
            b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R "
            b"/Names << /JavaScript << /Names [(init) 5 0 R] >> "
            b"/EmbeddedFiles << /Names [(payload.exe) 8 0 R] >> >> "
            b"/AA << /WC 5 0 R >> /AcroForm << /Fields [] /XFA 10 0 R >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            # 3 the page: additional actions on open, a link annotation with a Launch action
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 7 0 R >> >> /AA << /O 6 0 R >> /Annots [11 0 R] >>",
            _stream(content),
            b"<< /Type /Action /S /JavaScript /JS (%s) >>" % js,
            b"<< /Type /Action /S /Launch /F (/bin/sh) /Win << /F (cmd.exe) /P (/c calc) >> >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            # 8 an embedded file
            b"<< /Type /Filespec /F (payload.exe) /EF << /F 9 0 R >> >>",
            _stream(b"MZ\x90\x00 not really a program", b"/Type /EmbeddedFile "),
            _stream(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'/>"),
            b"<< /Type /Annot /Subtype /Link /Rect [72 400 272 500] "
            b"/A << /S /URI /URI (http://attacker.example/beacon) >> >>",
        ]
    )


def pdf_pages(count: int) -> bytes:
    """`count` pages, each drawing the same small box: big in pages, small in bytes."""
    kids = b" ".join(b"%d 0 R" % (4 + index) for index in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        _stream(b"0 0 0 rg 20 20 50 50 re f"),
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 3 0 R >>"
    objects += [page] * count
    return pdf_document(objects)


ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:script="urn:oasis:names:tc:opendocument:xmlns:script:1.0" '
    'xmlns:ooo="http://openoffice.org/2004/office" '
    'xmlns:dom="http://www.w3.org/2001/xml-events"'
)
MACRO_BASIC = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1"
 script:language="StarBasic">Sub Main
  Shell("/bin/sh", 1, "-c 'cat /etc/passwd > /tmp/wbs-macro-ran; touch /sandbox/wbs-macro-ran'")
  Open "/tmp/wbs-macro-ran-basic" For Output As #1
  Print #1, "macro ran"
  Close #1
End Sub
</script:module>
"""


def odt(
    paragraphs: list[str],
    page_breaks: bool = False,
    macro: bool = False,
    extra_body: str = "",
) -> bytes:
    """An OpenDocument text; `macro`: a Basic macro that runs on load, if macros may run."""
    style = ' text:style-name="PB"'
    body = "".join(
        f"<text:p{style if page_breaks and index else ''}>{paragraph}</text:p>"
        for index, paragraph in enumerate(paragraphs)
    )
    events = ""
    if macro:
        events = (
            "<office:scripts><office:event-listeners><script:event-listener "
            'script:language="ooo:script" script:event-name="dom:load" '
            'xlink:href="vnd.sun.star.script:Standard.Module1.Main?language=Basic&amp;'
            'location=document" xlink:type="simple"/></office:event-listeners></office:scripts>'
        )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODF_NS} '
        f'office:version="1.2">{events}<office:automatic-styles><style:style style:name="PB" '
        'style:family="paragraph"><style:paragraph-properties fo:break-before="page"/>'
        "</style:style></office:automatic-styles><office:body><office:text>"
        f"{body}{extra_body}</office:text></office:body></office:document-content>"
    )
    entries = [("content.xml", "text/xml")]
    files = {"content.xml": content}
    if macro:
        files["Basic/Standard/Module1.xml"] = MACRO_BASIC
        files["Basic/Standard/script-lb.xml"] = (
            '<?xml version="1.0" encoding="UTF-8"?><library:library '
            'xmlns:library="http://openoffice.org/2000/library" library:name="Standard" '
            'library:readonly="false" library:passwordprotected="false">'
            '<library:element library:name="Module1"/></library:library>'
        )
        files["Basic/script-lc.xml"] = (
            '<?xml version="1.0" encoding="UTF-8"?><library:libraries '
            'xmlns:library="http://openoffice.org/2000/library" '
            'xmlns:xlink="http://www.w3.org/1999/xlink"><library:library library:name="Standard" '
            'library:link="false"/></library:libraries>'
        )
        entries += [(name, "text/xml") for name in files if name.startswith("Basic/")]
        entries += [("Basic/Standard/", ""), ("Basic/", "")]
    manifest = "".join(
        f'<manifest:file-entry manifest:full-path="{name}" manifest:media-type="{kind}"/>'
        for name, kind in entries
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        for name, data in files.items():
            archive.writestr(name, data, zipfile.ZIP_DEFLATED)
        archive.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
            '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
            '<manifest:file-entry manifest:full-path="/" manifest:media-type='
            f'"application/vnd.oasis.opendocument.text"/>{manifest}</manifest:manifest>',
            zipfile.ZIP_DEFLATED,
        )
    return out.getvalue()


def html_reaching_out(url: str, host_file: str) -> bytes:
    """HTML that loads an image from `url` and another from a file of the host."""
    return (
        "<!doctype html><html><head><title>Laporan</title>"
        f'<link rel="stylesheet" href="{url}/style.css"></head><body>'
        "<h1>Bukti transfer</h1><p>Lihat <a href='http://attacker.example/'>tautan</a>.</p>"
        f'<img src="{url}/beacon.png" width="120" height="120">'
        f'<img src="file://{host_file}" width="120" height="120">'
        '<iframe src="file:///etc/passwd"></iframe>'
        "<script>document.write('script ran')</script></body></html>"
    ).encode()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 60_000) -> bytes:
    """A 1-bit greyscale PNG of side x side pixels, all zero: a few hundred KB on disk."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row * 512) for _ in range(side // 512)]
    chunks.append(compressor.compress(row * (side % 512)) + compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
        + _png_chunk(b"IDAT", b"".join(chunks))
        + _png_chunk(b"IEND", b"")
    )


GPS_MARK = "Budi-Santoso-Camera-SN-4711"


def jpeg_with_gps(width: int = 320, height: int = 200) -> bytes:
    """A red and blue photo with GPS coordinates, author, serial number, XMP and a comment."""
    from PIL import Image

    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((20, 40, 220), (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[0x013B] = GPS_MARK  # Artist
    exif[0x010F] = "WBS-Test-Maker"  # Make
    exif[0x0112] = 1  # Orientation
    gps = {1: "S", 2: (6.0, 10.0, 30.0), 3: "E", 4: (106.0, 49.0, 30.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><creator>{GPS_MARK}</creator></x:xmpmeta>'
    image.save(
        out, "JPEG", exif=exif.tobytes(), comment=GPS_MARK.encode(), quality=90, xmp=xmp.encode()
    )
    return out.getvalue()


def polyglot() -> bytes:
    """A JPEG (it starts as one) that also holds a PDF with JavaScript and an HTML script."""
    photo = jpeg_with_gps(64, 64)
    return (
        photo + b"<html><script>alert('polyglot')</script></html>\n" + pdf_with_actions("POLYGLOT")
    )
