"""The source site's error pages: their texts, the Flask error handlers, and the pages answered
before the application runs, by waitress or by HAProxy.

Before the application runs no language is known, so those pages carry both languages,
Indonesian first, with the same security headers as every other response. They serve:
  - waitress, for a body over the limit or a malformed request (dropbox/serve.py);
  - HAProxy, for a circuit over its caps, a slow client or a busy site: raw HTTP responses
    in `deploy/haproxy-errors/`, written by `scripts/make_proxy_pages.py` from these functions;
  - the site itself, for a request to a host name that is not this site's (no URL can be
    built for it, so no page template can run).
"""

from __future__ import annotations

import errno
from http import HTTPStatus

from flask import Flask, Response, render_template
from flask.globals import request_ctx
from flask_babel import force_locale, gettext, lazy_gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from dropbox.formats import human_size
from dropbox.headers import SECURITY_HEADERS
from dropbox.i18n import LANGUAGES

ERROR_TEXTS = {
    400: lazy_gettext("The request could not be understood. Please go back and try again."),
    403: lazy_gettext("You are not allowed to open this page."),
    404: lazy_gettext("This page does not exist."),
    405: lazy_gettext("This page cannot be used that way."),
    408: lazy_gettext(
        "What you sent arrived too slowly and was not received. Please go back and try again."
    ),
    413: lazy_gettext(
        "What you sent is larger than this service accepts (at most %(limit)s per submission). "
        "Please send fewer or smaller files, or split them across a report and follow-ups. "
        "Use your browser's Back button: the text you typed is still in the form."
    ),
    429: lazy_gettext("Too many attempts. Please wait a minute and try again."),
    500: lazy_gettext(
        "Something went wrong on our side. Nothing you sent before was lost. "
        "Please try again later."
    ),
    503: lazy_gettext("The service is busy right now. Please wait a minute and try again."),
}
# The proxy's answers when the site does not answer in time or at all: to the reporter, busy.
ERROR_TEXTS[502] = ERROR_TEXTS[504] = ERROR_TEXTS[503]
ERROR_CODES = tuple(ERROR_TEXTS)
OUT_OF_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def error_text(code: int, upload_limit: int) -> str:
    text = ERROR_TEXTS.get(code, ERROR_TEXTS[400])
    return str(text % {"limit": human_size(upload_limit)}) if code == 413 else str(text)


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


def register(app: Flask) -> None:
    """The error handlers: every error is a page in the visitor's language, never a trace."""
    bad_host_page = bilingual_page(app, 400, 0)

    def render_error(code: int, message: str | None = None) -> Response:
        if request_ctx.url_adapter is None:
            # The Host was not this site's: no URL can be built, so the template cannot run.
            return Response(bad_host_page, 400, dict(page_headers(400)))
        upload_limit = app.extensions["dropbox"].instance.upload_limit
        text = message or error_text(code, upload_limit)
        response = Response(render_template("error.html", code=code, message=text), code)
        if code in (429, 503):
            response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Response:
        return render_error(
            400,
            gettext(
                "This form has expired or was not sent from this site. Please go back, reload the "
                "page and try again."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | HTTPException:
        code = error.code or 500
        if code not in ERROR_CODES:
            return error
        return render_error(code)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        if isinstance(error, OSError) and error.errno in OUT_OF_SPACE:
            app.logger.error("storage full: a submission was refused")
            return render_error(
                503,
                gettext(
                    "The server has run out of storage space, so what you sent could not be "
                    "stored. Nothing you sent before was lost. Please try again later."
                ),
            )
        # Logged without request details; the page shows no traceback.
        app.logger.error("unhandled %s", type(error).__name__)
        return render_error(InternalServerError.code)
