"""One HTTP client interface for the tests: the Flask test client and a real server on 127.0.0.1.

`FlaskAgent` and `HttpAgent` both offer get/post/post_raw returning a `Resp`, never follow
redirects, and record every response in `history`. `HttpAgent` is a minimal browser over
http.client with one cookie jar; given a `user_agent` it also sends that User-Agent and an
Accept-Language header, as Tor Browser does.
"""

from __future__ import annotations

import http.client
import io
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from dropbox.sessions import COOKIE_NAME


@dataclass
class Resp:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    method: str = "GET"
    path: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def location(self) -> str:
        location = self.header("Location") or ""
        # Werkzeug may send absolute URLs; compare paths only.
        return re.sub(r"^https?://[^/]+", "", location)

    def __repr__(self) -> str:
        return f"<Resp {self.method} {self.path} {self.status}>"


FileSpec = tuple[str, bytes] | tuple[str, bytes, str]


def encode_multipart(
    fields: dict[str, str | bytes] | Sequence[tuple[str, str | bytes]],
    files: Sequence[FileSpec] = (),
    file_field: str = "files",
) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser sends it (file names in UTF-8, quotes escaped)."""
    boundary = "----wbstest" + secrets.token_hex(12)
    out = io.BytesIO()
    pairs = fields.items() if isinstance(fields, dict) else fields
    for name, value in pairs:
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        out.write(f"--{boundary}\r\n".encode())
        out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(raw + b"\r\n")
    for spec in files:
        filename, content = spec[0], spec[1]
        media = spec[2] if len(spec) == 3 else "application/octet-stream"  # type: ignore[misc]
        quoted = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        out.write(f"--{boundary}\r\n".encode())
        out.write(
            f'Content-Disposition: form-data; name="{file_field}"; filename="{quoted}"\r\n'.encode()
        )
        out.write(f"Content-Type: {media}\r\n\r\n".encode())
        out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


class Agent:
    """get/post/post_raw returning Resp, never following redirects; every response recorded."""

    def __init__(self) -> None:
        self.history: list[Resp] = []

    def _record(self, resp: Resp) -> Resp:
        self.history.append(resp)
        return resp

    def get(self, path: str) -> Resp:
        raise NotImplementedError

    def post_raw(self, path: str, body: bytes, content_type: str) -> Resp:
        raise NotImplementedError

    def cookie(self, name: str = COOKIE_NAME) -> str | None:
        raise NotImplementedError

    def post(
        self,
        path: str,
        fields: dict[str, str | bytes] | Sequence[tuple[str, str | bytes]],
        files: Sequence[FileSpec] | None = None,
        multipart: bool = False,
    ) -> Resp:
        if files is not None or multipart:
            body, content_type = encode_multipart(fields, files or ())
        else:
            pairs = fields.items() if isinstance(fields, dict) else fields
            body = urlencode(list(pairs)).encode()
            content_type = "application/x-www-form-urlencoded"
        return self.post_raw(path, body, content_type)

    def follow(self, resp: Resp) -> Resp:
        while resp.status in (301, 302, 303, 307, 308):
            resp = self.get(resp.location)
        return resp


class FlaskAgent(Agent):
    def __init__(self, app: Any) -> None:
        super().__init__()
        self.client = app.test_client()

    def _wrap(self, response: Any, method: str, path: str) -> Resp:
        body = response.get_data()
        headers = list(response.headers.items())
        response.close()
        return self._record(Resp(response.status_code, headers, body, method, path))

    def get(self, path: str) -> Resp:
        return self._wrap(self.client.get(path), "GET", path)

    def post_raw(self, path: str, body: bytes, content_type: str) -> Resp:
        return self._wrap(
            self.client.post(path, data=body, content_type=content_type), "POST", path
        )

    def request(self, method: str, path: str) -> Resp:
        return self._wrap(self.client.open(path, method=method), method, path)

    def cookie(self, name: str = COOKIE_NAME) -> str | None:
        found = self.client.get_cookie(name)
        return found.value if found is not None else None

    def set_cookie(self, value: str, name: str = COOKIE_NAME) -> None:
        self.client.set_cookie(name, value)

    def drop_cookies(self) -> None:
        self.client.delete_cookie(COOKIE_NAME)


def circuit_address(circuit: int) -> str:
    """The source address tor gives a circuit: its number in the last 32 bits."""
    return f"fc00:dead:beef:4dad::{circuit >> 16:x}:{circuit & 0xFFFF:x}"


def proxy_line(circuit: int) -> bytes:
    return f"PROXY TCP6 {circuit_address(circuit)} ::1 {circuit % 65535 + 1} 80\r\n".encode()


class CircuitConnection(http.client.HTTPConnection):
    """An HTTP connection that arrives at the proxy as a stream of Tor circuit `circuit`."""

    def __init__(self, host: str, port: int, circuit: int, timeout: float = 60) -> None:
        super().__init__(host, port, timeout=timeout)
        self.circuit = circuit

    def connect(self) -> None:
        super().connect()
        assert self.sock is not None  # noqa: S101 (set by connect)
        self.sock.sendall(proxy_line(self.circuit))


class HttpAgent(Agent):
    """A minimal browser over http.client: one cookie jar, no redirect following."""

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        timeout: float = 60.0,
        user_agent: str | None = None,
        circuit: int | None = None,
    ) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.timeout = timeout
        self.user_agent = user_agent
        self.circuit = circuit  # through HAProxy: every connection a stream of this Tor circuit
        self.cookies: dict[str, str] = {}

    def _connection(self) -> http.client.HTTPConnection:
        if self.circuit is None:
            return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return CircuitConnection(self.host, self.port, self.circuit, timeout=self.timeout)

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Resp:
        connection = self._connection()
        if self.user_agent is not None:
            headers["User-Agent"] = self.user_agent
            headers["Accept-Language"] = "en-US,en;q=0.5"
        try:
            if self.cookies:
                headers["Cookie"] = self.cookie_header()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            resp = Resp(response.status, list(response.getheaders()), data, method, path)
        finally:
            connection.close()
        for value in resp.header_all("Set-Cookie"):
            pair = value.split(";", 1)[0]
            name, _, cookie_value = pair.partition("=")
            lowered = value.lower()
            if (
                cookie_value == ""
                or "max-age=0" in lowered
                or "expires=thu, 01 jan 1970" in (lowered)
            ):
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = cookie_value.strip()
        return self._record(resp)

    def cookie_header(self) -> str:
        """The Cookie header this client sends ("" before any cookie was set)."""
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def get(self, path: str) -> Resp:
        return self._send("GET", path, None, {})

    def request(self, method: str, path: str) -> Resp:
        return self._send(method, path, None, {})

    def post_raw(self, path: str, body: bytes, content_type: str) -> Resp:
        return self._send("POST", path, body, {"Content-Type": content_type})

    def cookie(self, name: str = COOKIE_NAME) -> str | None:
        return self.cookies.get(name)
