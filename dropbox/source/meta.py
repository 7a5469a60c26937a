"""What machines ask for: /metadata (JSON), /robots.txt, /favicon.ico."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from dropbox.i18n import DEFAULT_LANGUAGE, LANGUAGES
from dropbox.source.guards import dropbox

APP_NAME = "WBS Drop Box"
APP_VERSION = "0.1.0"


def register(routes: Blueprint) -> None:
    routes.add_url_rule("/metadata", view_func=metadata)
    routes.add_url_rule("/favicon.ico", view_func=favicon)
    routes.add_url_rule("/robots.txt", view_func=robots)


def metadata() -> Response:
    instance = dropbox().instance
    return jsonify(
        name=APP_NAME,
        version=APP_VERSION,
        languages=list(LANGUAGES),
        default_language=DEFAULT_LANGUAGE,
        recipient_fingerprints=[key.fingerprint for key in instance.recipients],
        upload_limit_bytes=instance.upload_limit,
    )


def favicon() -> Response:
    # Browsers ask for it on every page; an empty answer avoids a 404 page each time.
    return Response(status=204)


def robots() -> Response:
    return Response("User-agent: *\nDisallow: /\n", mimetype="text/plain")
