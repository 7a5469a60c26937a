"""Safe renditions of reporters' files, made on the console, never on the server.

Every attachment may be an attack on the workstation that holds every key, so no file from a
reporter ever reaches a parser outside a sandbox. Documents (PDF, office formats, HTML) and
images are turned into pixels in a bubblewrap sandbox and rebuilt by the console as PNG pages
and a PDF made only of those images (Dangerzone's two-stage design); text and HTML are shown as
plain text; anything else (archives, programs, audio, video) is listed with its size and type,
with a warning, and no rendition. Originals stay available behind an explicit warning.

Modules, bottom up (imports go downwards only):

    formats    which route a file takes, decided by its content, never by its name
    seccomp    the sandbox's system-call filter (classic BPF, for bwrap --seccomp)
    sandbox    bubblewrap, resource limits and a wall clock around one untrusted program
    convert    THE UNTRUSTED HALF: runs inside the sandbox (LibreOffice, poppler, Pillow,
               tesseract) and writes raw RGB pages on its stdout; never imported to run here
    pixels     the trusted half: checks the stream's every size, wraps bare pixels into PNG
    pdf        the safe PDF: img2pdf of the console's own PNGs (+ an optional OCR text layer)
    text       plain text of text files and HTML (bleach strips every tag)
    store      the renditions, encrypted in the console home, each part vouched for by the
               database (table `renditions`)
    jobs       one conversion: decrypt into memory, route, sandbox, store
    worker     conversions in the background (web), and `ensure` (now, for `save`)
    copies     the safe copies as bytes: the PDF, the PNG, the text
    messages   what the console says about a rendition, in the catalog's languages
"""
