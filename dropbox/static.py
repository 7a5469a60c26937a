"""The site's static files (its style sheet), served from memory with validators derived from
their content only.

Flask's own static route sends Last-Modified and an ETag made from the file's modification time:
the exact moment the site was installed, readable by anyone, and the same on every onion address
served from one machine. Here the ETag is the SHA-256 of the bytes, the URL carries a short form
of it (so a changed file is a new URL), and the browser may keep the file for the session instead
of fetching it with every page over a slow Tor circuit.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, request
from werkzeug.wrappers import Response as BaseResponse

CACHE_CONTROL = "private, max-age=86400, immutable"


@dataclass(frozen=True)
class StaticFile:
    content: bytes
    media_type: str
    digest: str


def load(folder: Path) -> dict[str, StaticFile]:
    files = {}
    for path in sorted(folder.iterdir()):
        if path.is_file():
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if media_type.startswith("text/"):
                media_type += "; charset=utf-8"
            content = path.read_bytes()
            files[path.name] = StaticFile(content, media_type, hashlib.sha256(content).hexdigest())
    return files


def install(app: Flask, folder: Path) -> None:
    """Serve `folder` at /static/<name> under the endpoint name "static" (what url_for uses)."""
    files = load(folder)

    def serve(filename: str) -> BaseResponse:
        found = files.get(filename)
        if found is None:
            abort(404)
        response = Response(found.content, mimetype=found.media_type)
        response.set_etag(found.digest)
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response.make_conditional(request)

    def version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and values.get("filename") in files:
            values.setdefault("v", files[values["filename"]].digest[:16])

    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=serve)
    app.url_defaults(version)
