"""The bare references for benchmarks 3 and 4, on waitress with the drop box's own settings.

python -m bench.bare --mode upload --port P --spill-dir DIR
    a WSGI app that reads the request body and discards it
python -m bench.bare --mode pages --port P --spill-dir DIR --pages DIR
    a bare Flask app serving each file of DIR verbatim at /p/<name> (text/html)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import waitress

from dropbox.app import FORM_OVERHEAD_BYTES
from dropbox.instance import DEFAULT_UPLOAD_LIMIT
from dropbox.serve import INBUF_OVERFLOW, prepare_spill_dir


def discard_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    stream = environ["wsgi.input"]
    total = 0
    while block := stream.read(65536):
        total += len(block)
    body = f"discarded {total}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def pages_app(directory: Path) -> Any:
    from flask import Flask, Response, abort

    pages = {path.name: path.read_bytes() for path in directory.iterdir() if path.is_file()}
    app = Flask(__name__)

    @app.route("/p/<name>")
    def page(name: str) -> Response:
        if name not in pages:
            abort(404)
        return Response(pages[name], mimetype="text/html")

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["upload", "pages"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--spill-dir", type=Path, required=True)
    parser.add_argument("--pages", type=Path)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    prepare_spill_dir(args.spill_dir, allow_persistent=False)
    tempfile.tempdir = str(args.spill_dir)
    os.environ["TMPDIR"] = str(args.spill_dir)
    app = discard_app if args.mode == "upload" else pages_app(args.pages)
    # The same settings as dropbox/serve.py.
    waitress.serve(
        app,
        host="127.0.0.1",
        port=args.port,
        ident="",
        threads=args.threads,
        max_request_body_size=DEFAULT_UPLOAD_LIMIT + FORM_OVERHEAD_BYTES,
        inbuf_overflow=INBUF_OVERFLOW,
        expose_tracebacks=False,
        clear_untrusted_proxy_headers=True,
        channel_timeout=600,
        url_scheme="http",
    )


if __name__ == "__main__":
    main()
