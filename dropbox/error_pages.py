"""Error pages answered before the application runs, by waitress or by HAProxy.

No session exists at that point, so each page carries both languages, Indonesian first. The
same pages, with the same security headers as every other response, serve two callers:
  - waitress, for a body over the limit or a malformed request (dropbox/serve.py);
  - HAProxy, for a circuit over its caps, a slow client or a busy site: raw HTTP responses
    in `deploy/haproxy-errors/`, written by `scripts/make_proxy_pages.py` from these functions.
"""

from __future__ import annotations

from http import HTTPStatus

from flask import Flask, render_template
from flask_babel import force_locale, gettext

from dropbox.app import SECURITY_HEADERS, error_text
from dropbox.i18n import LANGUAGES

WAITRESS_CODES = (400, 413, 500)
# What HAProxy may answer itself: a bad or over-large small request (400), a slow client (408),
# a circuit over its caps (429), a full queue or an unreachable site (503, 502, 504), and the
# codes its own internal errors use (403, 500).
PROXY_CODES = (400, 403, 408, 429, 500, 502, 503, 504)
RETRY_AFTER_SECONDS = 30
# HAProxy refuses an error file larger than its buffer (tune.bufsize 16384, less headroom).
MAX_PROXY_RESPONSE_BYTES = 12 * 1024


def bilingual_page(app: Flask, code: int, upload_limit: int) -> bytes:
    """The error page for `code` in every language of the site, as UTF-8 HTML."""
    with app.test_request_context("/"):
        sections = []
        for language in LANGUAGES:
            with force_locale(language):
                sections.append(
                    (language, gettext("Something went wrong"), error_text(code, upload_limit))
                )
        return render_template("server_error.html", code=code, sections=sections).encode("utf-8")


def waitress_error_pages(app: Flask, upload_limit: int) -> dict[int, bytes]:
    return {code: bilingual_page(app, code, upload_limit) for code in WAITRESS_CODES}


def page_headers(code: int) -> list[tuple[str, str]]:
    """Headers of a bilingual error page: the site's security headers (no-store among them),
    and Retry-After where trying again later is the advice."""
    headers = [("Content-Type", "text/html; charset=utf-8"), *SECURITY_HEADERS.items()]
    if code in (429, 502, 503, 504):
        headers.append(("Retry-After", str(RETRY_AFTER_SECONDS)))
    return headers


def proxy_error_response(app: Flask, code: int) -> bytes:
    """A complete HTTP/1.1 response in HAProxy's `errorfile` format."""
    body = bilingual_page(app, code, upload_limit=0)  # no 413 here: the limit is the site's
    status = HTTPStatus(code)
    head = [f"HTTP/1.1 {code} {status.phrase}"]
    head += [f"{name}: {value}" for name, value in page_headers(code)]
    head += [f"Content-Length: {len(body)}", "Connection: close"]
    response = ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body
    if len(response) > MAX_PROXY_RESPONSE_BYTES:
        raise ValueError(f"the {code} page is larger than HAProxy's error-file limit")
    return response


def proxy_error_responses(app: Flask) -> dict[int, bytes]:
    return {code: proxy_error_response(app, code) for code in PROXY_CODES}
