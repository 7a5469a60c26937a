"""The real site for benchmarks 3-5: an instance made with `dropbox init`, `dropbox serve` in a
subprocess on 127.0.0.1, and a small HTTP client that keeps the session cookie and walks the
source flow (HTML parsing as in tests/support/pages.py).
"""

from __future__ import annotations

import contextlib
import html
import http.client
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.circuits import CircuitConnection
from bench.common import VENV_BIN, bench_env, free_port, started
from dropbox import instance as instance_module
from keys import keytypes, payload
from keys.bundle import ItemSource, write_bundle
from keys.codename import CodenameDeriver
from keys.documents import ReplyDocument
from keys.keyfiles import recipient_public_key, verify_public_key, write_public_key
from keys.records import new_id, today

COOKIE = "wbs_session"


@dataclass
class Instance:
    data: Path
    inspectorate: keytypes.RecipientIdentity
    console_signing: keytypes.SigningKey

    @property
    def instance_id(self) -> str:
        return instance_module.load(self.data).instance_id


def make_instance(root: Path) -> Instance:
    """`dropbox init` with freshly generated inspectorate and console keys."""
    inspectorate = keytypes.new_recipient_identity()
    console_signing = keytypes.new_signing_key()
    keys_dir = root / "pub"
    keys_dir.mkdir()
    write_public_key(keys_dir / "inspectorate.pub", recipient_public_key(inspectorate))
    write_public_key(keys_dir / "console.pub", verify_public_key(console_signing))
    data = root / "data"
    subprocess.run(  # noqa: S603
        [
            str(VENV_BIN / "dropbox"),
            "init",
            "--data",
            str(data),
            "--recipient",
            str(keys_dir / "inspectorate.pub"),
            "--console-key",
            str(keys_dir / "console.pub"),
        ],
        check=True,
        capture_output=True,
        env=bench_env(),
        timeout=120,
    )
    return Instance(data, inspectorate, console_signing)


@contextlib.contextmanager
def spill_dir() -> Iterator[Path]:
    """A parent directory on /dev/shm (tmpfs) for the servers' spill directories."""
    parent = Path(tempfile.mkdtemp(prefix="wbs-bench-spill-", dir="/dev/shm"))  # noqa: S108
    try:
        yield parent
    finally:
        import shutil

        shutil.rmtree(parent, ignore_errors=True)


@contextlib.contextmanager
def dropbox_server(
    instance: Instance, spill: Path, log: Path, threads: int = 8
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    args = [
        str(VENV_BIN / "dropbox"),
        "serve",
        "--data",
        str(instance.data),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--spill-dir",
        str(spill),
        "--threads",
        str(threads),
    ]
    with started(args, port, log) as process:
        yield port, process


@contextlib.contextmanager
def bare_server(
    mode: str, spill: Path, log: Path, pages: Path | None = None, threads: int = 8
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "bench.bare",
        "--mode",
        mode,
        "--port",
        str(port),
        "--spill-dir",
        str(spill),
        "--threads",
        str(threads),
    ]
    if pages is not None:
        args += ["--pages", str(pages)]
    with started(args, port, log) as process:
        yield port, process


# -- HTTP -----------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Client:
    """One keep-alive connection with the session cookie; reconnects if the server closed it.
    With `circuit`, every connection arrives at HAProxy as a stream of that Tor circuit (a PROXY
    protocol line first, see bench/circuits.py)."""

    def __init__(self, port: int, timeout: float = 120.0, circuit: int | None = None) -> None:
        self.port = port
        self.timeout = timeout
        self.circuit = circuit
        self.cookies: dict[str, str] = {}  # the session's and the visitor's
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.circuit is None:
                self._conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=self.timeout
                )
            else:
                self._conn = CircuitConnection(
                    "127.0.0.1", self.port, self.circuit, timeout=self.timeout
                )
        return self._conn

    @property
    def cookie(self) -> str | None:
        """The session cookie's value (None: not logged in)."""
        return self.cookies.get(COOKIE)

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Reply:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = self.cookie_header
        retry_allowed = body is None or isinstance(body, bytes | str)
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2 or not retry_allowed:
                    raise
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            cookie_value = rest.split(";", 1)[0]
            if cookie_value:
                self.cookies[name.strip()] = cookie_value
            else:
                self.cookies.pop(name.strip(), None)
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return Reply(response.status, response.headers, data)

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post_form(self, path: str, fields: dict[str, str]) -> Reply:
        return self.request(
            "POST",
            path,
            urllib.parse.urlencode(fields).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )


def hidden(page: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    if not match:
        raise RuntimeError(f"no hidden field {name} in the page")
    return html.unescape(match.group(1))


def origin(reply: Reply) -> str:
    """Who answered behind HAProxy: its own error pages (deploy/haproxy-errors) say
    `Connection: close`; the site's answers, relayed by the proxy, do not."""
    return "proxy" if (reply.headers.get("Connection") or "").lower() == "close" else "site"


class Refused(RuntimeError):
    """A step of the reporter's journey answered with something other than its form: `step`
    names it ("GET", "confirm"), `reply` is what came back."""

    def __init__(self, path: str, step: str, reply: Reply) -> None:
        super().__init__(f"{path} gave {reply.status}")
        self.step = step
        self.reply = reply


CODENAME = re.compile(r'id="codename">([^<]+)<')


def create_form(client: Client) -> tuple[str, dict[str, str]]:
    """GET /generate, POST /confirm: the codename, and the /create form with the words the
    confirmation page asks for typed back."""
    page = client.get("/generate")
    shown = CODENAME.search(page.text)
    if page.status != 200 or not shown:
        raise Refused("/generate", "GET", page)
    pending = hidden(page.text, "pending")
    confirm = client.post_form("/confirm", {"pending": pending})
    positions = [int(n) for n in re.findall(r'name="word(\d+)"', confirm.text)]
    if confirm.status != 200 or not positions:
        raise Refused("/confirm", "confirm", confirm)
    words = html.unescape(shown.group(1)).split()
    return shown.group(1), {"pending": pending, **{f"word{n}": words[n - 1] for n in positions}}


def new_source(client: Client) -> str:
    """/generate, /confirm, /create: returns the codename; the client is logged in afterwards."""
    codename, fields = create_form(client)
    created = client.post_form("/create", fields)
    if created.status != 303:
        raise RuntimeError(f"/create gave {created.status}: {created.text[-300:]}")
    return codename


def login_form(client: Client, codename: str) -> dict[str, str]:
    """GET /login: the login form filled in with `codename`."""
    page = client.get("/login")
    if page.status != 200:
        raise Refused("/login", "GET", page)
    return {"token": hidden(page.text, "token"), "codename": codename}


def submit_path(client: Client) -> str:
    """GET /submit: where the report form posts (its single-use ticket is in the URL)."""
    page = client.get("/submit")
    action = re.search(r'<form method="post" action="(/submit[^"]*)"', page.text)
    if page.status != 200 or not action:
        raise RuntimeError(f"/submit gave {page.status}")
    return html.unescape(action.group(1))


REPORT_FIELDS = {
    "category": "procurement_fraud",
    "relation": "employee",
    "what": "Pengadaan laptop digelembungkan",
    "who": "Panitia pengadaan",
    "where": "Biro umum",
    "when": "Maret",
    "how": "Harga satuan dua kali harga pasar",
}


class MultipartBody:
    """A multipart/form-data body streamed from a generator: fields, then one large file.

    The file content repeats one 1 MiB random block that carries `marker` at every 64 KiB, so a
    plaintext copy anywhere on disk would be found by searching for the marker.
    """

    def __init__(
        self, fields: dict[str, str], file_size: int, marker: bytes, filename: str = "bukti.bin"
    ) -> None:
        self.boundary = "----wbsbench" + secrets.token_hex(16)
        self.file_size = file_size
        block = bytearray(secrets.token_bytes(1 << 20))
        for offset in range(0, len(block), 1 << 16):
            block[offset : offset + len(marker)] = marker
        self.block = bytes(block)
        parts = []
        for name, value in fields.items():
            parts.append(
                f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"'
                f"\r\n\r\n{value}\r\n"
            )
        parts.append(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        self.head = "".join(parts).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def length(self) -> int:
        return len(self.head) + self.file_size + len(self.tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def chunks(self) -> Iterable[bytes]:
        yield self.head
        remaining = self.file_size
        view = memoryview(self.block)
        while remaining:
            part = view[: min(remaining, len(view))]
            yield part  # type: ignore[misc]
            remaining -= len(part)
        yield self.tail


def post_multipart(
    port: int, path: str, body: MultipartBody, timeout: float = 600.0, cookie: str = ""
) -> tuple[Reply, float, float]:
    """POST a streamed multipart body on a new connection: (reply, seconds until the last byte
    was handed to the socket, seconds until the whole reply was read). `cookie`: a Cookie
    header (a Client's cookie_header)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        start = time.perf_counter()
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", body.content_type)
        conn.putheader("Content-Length", str(body.length))
        if cookie:
            conn.putheader("Cookie", cookie)
        conn.endheaders()
        for chunk in body.chunks():
            conn.send(chunk)
        sent = time.perf_counter() - start
        response = conn.getresponse()
        data = response.read()
        done = time.perf_counter() - start
        return Reply(response.status, response.headers, data), sent, done
    finally:
        conn.close()


def submit_report(client: Client, fields: dict[str, str] | None = None) -> str:
    """A small report without files, posted as multipart like a browser; returns the regno."""
    body = MultipartBody({**REPORT_FIELDS, **(fields or {})}, 0, b"", filename="")
    reply = client.request(
        "POST",
        submit_path(client),
        b"".join(bytes(c) for c in body.chunks()),
        {"Content-Type": body.content_type},
    )
    if reply.status != 303:
        raise RuntimeError(f"/submit gave {reply.status}")
    thanks = client.get("/thanks")
    regno = re.search(r'id="regno">([^<]+)<', thanks.text)
    if not regno:
        raise RuntimeError(f"/thanks gave {thanks.status}")
    return regno.group(1)


def reply_bundle(
    instance: Instance,
    out: Path,
    sequence: int,
    regno: str,
    source_key: keytypes.RecipientKey,
    count: int,
    message: str,
) -> Path:
    """A genuine console-to-server bundle with `count` replies for one report (as in
    tests/support/bundles.py response_bundle)."""
    staging = out.parent / f"items-{sequence}"
    staging.mkdir()
    items, records = [], []
    for index in range(count):
        response_id = new_id()
        document = ReplyDocument(f"{message} ({index + 1})", "Inspektorat")
        sealed = payload.seal_bytes(
            {"kind": document.KIND},
            document.to_bytes(),
            [source_key, instance.inspectorate.public_key],
        )
        (staging / response_id).write_bytes(sealed)
        items.append(ItemSource(response_id, staging / response_id))
        records.append(
            {
                "response_id": response_id,
                "kind": "reply",
                "regno": regno,
                "day": today(),
                "item": response_id,
                "closes_report": False,
            }
        )
    body = {
        "instance": instance.instance_id,
        "sequence": sequence,
        "created_day": today(),
        "responses": records,
        "acks": [],
    }
    write_bundle(out, "console-to-server", body, items, instance.console_signing)
    return out


def source_public_key(instance: Instance, codename: str) -> keytypes.RecipientKey:
    """The source's key as the server derives it (the instance's salts, default KDF cost)."""
    loaded = instance_module.load(instance.data)
    return CodenameDeriver(*loaded.codename_salts()).derive(codename).public_key


def import_bundle(instance: Instance, bundle: Path) -> None:
    subprocess.run(  # noqa: S603
        [str(VENV_BIN / "dropbox"), "import", "--data", str(instance.data), str(bundle)],
        check=True,
        capture_output=True,
        env=bench_env(),
        timeout=120,
    )
