"""The security headers of every response of the source site, in one table: its pages, its
error pages (including those waitress and HAProxy answer before the site runs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Permissions-Policy": (
        "accelerometer=(), ambient-light-sensor=(), autoplay=(), battery=(), camera=(), "
        "display-capture=(), document-domain=(), encrypted-media=(), fullscreen=(), "
        "geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), "
        "picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), "
        "sync-xhr=(), usb=(), xr-spatial-tracking=(), interest-cohort=()"
    ),
}

_CACHING = frozenset({"cache-control", "pragma"})
_HEADER_LIST = [(name, value) for name, value in SECURITY_HEADERS.items()]

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def with_security_headers(wsgi_app: WsgiApp) -> WsgiApp:
    """Every response of the application gets the table above, added once as plain tuples at
    the WSGI boundary (cheaper than setting each through Flask's Headers for every response).
    A response that chose its own caching (the style sheet) keeps it, without the Pragma that
    goes with no-store; any other header the application set itself is left alone."""

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            skip = _CACHING if "cache-control" in present else frozenset()
            headers.extend(
                (name, value)
                for name, value in _HEADER_LIST
                if name.lower() not in present and name.lower() not in skip
            )
            return start_response(status, headers, exc_info)

        return wsgi_app(environ, start)

    return application
