"""Helpers for the hostile tests (issue 9): the real server in a subprocess, a small HTTP client
that behaves like Tor Browser with JavaScript off, and the inspections a seizing adversary or a
crash investigator would make (store consistency, every database value, raw-byte searches).

Imported as a plain module (pytest puts tests/ on sys.path). Server instances are created with
`server_support.make_server` (the same key files and `instance.create` as `dropbox init`); the
real `dropbox serve` then runs on that data directory in a subprocess.
"""

from __future__ import annotations

import base64
import contextlib
import html
import http.client
import io
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.public
from proxy_support import CircuitConnection

from dropbox import db
from keys import payload

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
DROPBOX_CLI = VENV_BIN / "dropbox"
CONSOLE_CLI = VENV_BIN / "journalist-console"
MiB = 1024 * 1024

CODENAME_RE = re.compile(r'id="codename">([^<]+)<')
REGNO_RE = re.compile(r'id="regno">([^<]+)<')
TRACEBACK_SIGNS = ("Traceback", 'File "', "werkzeug", "Werkzeug Debugger", "__debugger__")


def marker(label: str) -> str:
    """A unique marker that cannot occur by chance in ciphertext, a page or a template."""
    return f"ZQX{label.upper()}{secrets.token_hex(6).upper()}QXZ"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server did not listen on port {port} within {timeout} s")


# A `dropbox serve` whose every file write fails past a size, as on a full disk (EFBIG instead of
# ENOSPC; SIGXFSZ ignored so the write fails instead of killing the process).
_LIMITED_SERVE = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from dropbox.cli import main
sys.exit(main(["serve", *sys.argv[2:]]))
"""


@dataclass
class RealServer:
    """`dropbox serve` on 127.0.0.1 in a subprocess; stdout/stderr go to files kept for audits."""

    data: Path
    spill: Path
    logs: Path
    port: int = 0
    fsize_limit: int | None = None
    process: subprocess.Popen[bytes] | None = None
    log_files: list[Path] = field(default_factory=list)

    def start(self) -> RealServer:
        self.port = free_port()
        self.logs.mkdir(parents=True, exist_ok=True)
        run = len(self.log_files) // 2
        out_path, err_path = self.logs / f"serve-{run}.out", self.logs / f"serve-{run}.err"
        self.log_files += [out_path, err_path]
        serve_args = ["--data", str(self.data), "--port", str(self.port),
                      "--spill-dir", str(self.spill)]
        if self.fsize_limit is None:
            command = [str(DROPBOX_CLI), "serve", *serve_args]
        else:
            command = [sys.executable, "-c", _LIMITED_SERVE, str(self.fsize_limit), *serve_args]
        with out_path.open("wb") as out, err_path.open("wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, cwd=self.logs)
        wait_for_port(self.port, self.process)
        return self

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, as a power cut or the OOM killer would do."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        return "".join(path.read_text("utf-8", "replace") for path in self.log_files
                       if path.exists())

    def client(self, user_agent: str = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101"
               " Firefox/128.0") -> Http:
        return Http(self.port, user_agent)


@contextlib.contextmanager
def real_server(data: Path, tmp: Path, fsize_limit: int | None = None) -> Iterator[RealServer]:
    """A started real server with its own RAM-backed spill directory; stopped and cleaned after."""
    spill = Path("/dev/shm") / f"wbs-hostile-{secrets.token_hex(6)}"
    server = RealServer(data, spill, tmp / "server-logs", fsize_limit=fsize_limit)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(spill, ignore_errors=True)


# -- HTTP ------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def multipart(fields: Sequence[tuple[str, str]],
              files: Sequence[tuple[str, str, bytes, str]] = ()) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser writes it; returns (body, content type)."""
    boundary = "----hostile" + secrets.token_hex(12)
    out = io.BytesIO()
    for name, value in fields:
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                  .encode())
        out.write(value.encode("utf-8") + b"\r\n")
    for name, filename, content, media_type in files:
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                  f"filename=\"{filename}\"\r\nContent-Type: {media_type}\r\n\r\n".encode())
        out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


class Http:
    """One browser profile: a cookie jar (the session id once logged in, the visitor's random
    form-binding value, the language), a fixed User-Agent, no redirects followed. With
    `circuit`, every connection arrives at HAProxy as a stream of that Tor circuit."""

    def __init__(self, port: int, user_agent: str, circuit: int | None = None) -> None:
        self.port = port
        self.user_agent = user_agent
        self.circuit = circuit
        self.cookies: dict[str, str] = {}

    @property
    def cookie(self) -> str | None:
        """The Cookie header this browser sends, or None without cookies."""
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items()) or None

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = None, timeout: float = 120) -> Reply:
        connection = (
            http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            if self.circuit is None
            else CircuitConnection("127.0.0.1", self.port, self.circuit, timeout=timeout)
        )
        headers = {"User-Agent": self.user_agent, "Accept-Language": "en-US,en;q=0.5"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if content_type:
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                cookie_name, _, cookie_value = pair.partition("=")
                if cookie_value:
                    self.cookies[cookie_name] = cookie_value
                else:
                    self.cookies.pop(cookie_name, None)
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post_form(self, path: str, fields: dict[str, str]) -> Reply:
        from urllib.parse import urlencode

        return self.request("POST", path, urlencode(fields).encode(),
                            "application/x-www-form-urlencoded")

    def post_multipart(self, path: str, fields: Sequence[tuple[str, str]],
                       files: Sequence[tuple[str, str, bytes, str]] = ()) -> Reply:
        body, content_type = multipart(fields, files)
        return self.request("POST", path, body, content_type)


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert match, f"no hidden field {name}"
    return match.group(1)


def form_action(page: str, path: str) -> str:
    """The action URL of the page's form posting to `path` (an upload form carries its ticket)."""
    match = re.search(rf'<form method="post" action="({re.escape(path)}[^"]*)"', page)
    assert match, f"no form posting to {path}"
    return html.unescape(match.group(1))


class Reporter:
    """The reporter's journey over real HTTP."""

    def __init__(self, http: Http) -> None:
        self.http = http

    def create(self, lang: str = "en") -> str:
        page = self.http.get(f"/generate?lang={lang}")
        assert page.status == 200, page.status
        codename = CODENAME_RE.search(page.text)
        assert codename
        pending = hidden(page.text, "pending")
        confirm = self.http.post_form("/confirm", {"pending": pending})
        assert confirm.status == 200, confirm.status
        words = codename.group(1).split()
        typed = {f"word{n}": words[int(n) - 1]
                 for n in re.findall(r'name="word(\d+)"', confirm.text)}
        created = self.http.post_form("/create", {"pending": pending, **typed})
        assert created.status == 303, (created.status, created.text[-300:])
        return codename.group(1)

    def submit(self, fields: dict[str, str],
               files: Sequence[tuple[str, bytes, str]] = ()) -> str:
        reply = self.submit_raw(fields, files)
        assert reply.status == 303, (reply.status, reply.text[-500:])
        thanks = self.http.get("/thanks")
        regno = REGNO_RE.search(thanks.text)
        assert regno, thanks.text[-500:]
        return regno.group(1)

    def submit_raw(self, fields: dict[str, str],
                   files: Sequence[tuple[str, bytes, str]] = ()) -> Reply:
        form = self.http.get("/submit")
        assert form.status == 200, form.status
        return self.http.post_multipart(
            form_action(form.text, "/submit"), list(fields.items()),
            [("files", name, content, kind) for name, content, kind in files])

    def login(self, codename: str) -> Reply:
        page = self.http.get("/login")
        return self.http.post_form("/login", {"token": hidden(page.text, "token"),
                                              "codename": codename})

    def lookup(self) -> Reply:
        return self.http.get("/lookup")

    def followup(self, regno: str, message: str,
                 files: Sequence[tuple[str, bytes, str]] = ()) -> Reply:
        page = self.lookup()
        card = page.text.split(f'id="report-{regno}"', 1)[1]
        return self.http.post_multipart(
            form_action(card, "/followup"), [("message", message)],
            [("files", name, content, kind) for name, content, kind in files])

    def delete_reply(self, reply_id: str) -> Reply:
        page = self.http.get(f"/reply/delete?reply_id={reply_id}")
        return self.http.post_form("/reply/delete", {"csrf_token": hidden(page.text, "csrf_token"),
                                                     "reply_id": reply_id, "confirm": "yes"})

    def logout(self) -> Reply:
        page = self.lookup()
        return self.http.post_form("/logout", {"csrf_token": hidden(page.text, "csrf_token")})


def report_fields(what: str, **extra: str) -> dict[str, str]:
    fields = {"category": "procurement_fraud", "relation": "employee", "what": what}
    fields.update(extra)
    return fields


# -- inspection -----------------------------------------------------------------------------


def db_key(data: Path) -> bytes:
    return bytes.fromhex((data / "db.key").read_text().strip())


@contextlib.contextmanager
def open_db(data: Path) -> Iterator[Any]:
    connection = db.connect(data / "dropbox.db", db_key(data))
    try:
        yield connection
    finally:
        connection.close()


def all_db_values(data: Path) -> list[tuple[str, str, Any]]:
    """(table, column, value) for every cell of every table, the schema's own text included."""
    values: list[tuple[str, str, Any]] = []
    with open_db(data) as connection:
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for row in connection.execute("SELECT type, name, sql FROM sqlite_master"):
            values.append(("sqlite_master", "sql", row[2]))
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from sqlite_master)
            columns = [item[0] for item in cursor.description]
            for row in cursor.fetchall():
                values += [(table, column, value) for column, value in zip(columns, row,
                                                                            strict=True)]
    return values


def counts(data: Path) -> dict[str, int]:
    with open_db(data) as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (fixed names)
                for table in ("sources", "reports", "entries", "responses")}


def store_problems(data: Path, kept: Iterable[str] = ()) -> list[str]:
    """Inconsistencies between store/ and the database; [] when consistent. `kept`: names of
    files in store/pending that a live session holds for a form sent back for correction (see
    `kept_uploads`); anything else there is a leftover."""
    problems = []
    items = {path.name for path in (data / "store" / "items").iterdir()}
    with open_db(data) as connection:
        # An entry the console acknowledged keeps its row but loses its envelope (exchange.py).
        rows = {row[0] for row in connection.execute(
            "SELECT entry_id FROM entries WHERE acked = 0")}
        rows |= {row[0] for row in connection.execute("SELECT response_id FROM responses")}
        dangling = connection.execute(
            "SELECT count(*) FROM entries e LEFT JOIN reports r ON r.regno = e.regno"
            " WHERE r.regno IS NULL").fetchone()[0]
    files = {name[:-4] for name in items if name.endswith(".env")}
    problems += [f"stray file in items: {name}" for name in items if not name.endswith(".env")]
    problems += [f"envelope without a row: {name}" for name in sorted(files - rows)]
    problems += [f"row without an envelope: {name}" for name in sorted(rows - files)]
    if dangling:
        problems.append(f"{dangling} entries point at no report")
    allowed = set(kept)
    pending = list((data / "store" / "pending").iterdir())
    problems += [f"left in pending: {path.name}" for path in pending if path.name not in allowed]
    return problems


def kept_uploads(app: Any) -> set[str]:
    """The store/pending file names of the uploads that the live sessions of an in-process app
    hold for their corrected forms (issue 16): they belong to a ticket, not left behind."""
    store = app.session_interface.store
    with store._lock:
        records = list(store._records.values())
    return {upload.pending.path.name for record in records for upload in record.held()}


def decrypt_store(data: Path, identity: nacl.public.PrivateKey) -> dict[str, tuple[dict, bytes]]:
    """Every entry envelope opened with the inspectorate key: entry_id -> (meta, content)."""
    opened = {}
    with open_db(data) as connection:
        entry_ids = [row[0] for row in connection.execute(
            "SELECT entry_id FROM entries WHERE acked = 0")]
    for entry_id in entry_ids:
        raw = (data / "store" / "items" / f"{entry_id}.env").read_bytes()
        opened[entry_id] = payload.open_bytes(raw, [identity])
    return opened


def files_under(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def encodings_of(text: str) -> dict[str, bytes]:
    """The byte forms a careless implementation might write a string in."""
    raw = text.encode("utf-8")
    forms = {
        "utf-8": raw,
        "utf-16-le": text.encode("utf-16-le"),
        "utf-16-be": text.encode("utf-16-be"),
        "utf-32-le": text.encode("utf-32-le"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "lower": text.lower().encode("utf-8"),
    }
    # base64 depends on alignment: the inner part of the encoding at each of the three offsets.
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        forms[f"base64+{offset}"] = encoded[4 : len(encoded) - 4]
        url = base64.urlsafe_b64encode(b"\0" * offset + raw)
        forms[f"base64url+{offset}"] = url[4 : len(url) - 4]
    forms["base32"] = base64.b32encode(raw)[8:-8]
    return forms


def find_in_bytes(blobs: Iterable[tuple[str, bytes]],
                  needles: dict[str, bytes]) -> list[str]:
    """'where: what' for every needle found in any blob."""
    found = []
    for where, blob in blobs:
        for label, needle in needles.items():
            if needle and needle in blob:
                found.append(f"{where}: {label}")
    return found


def tree_blobs(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every file's bytes and every path name under root (names leak too)."""
    for path in sorted(root.rglob("*")):
        yield f"name {path}", str(path.relative_to(root)).encode("utf-8", "surrogateescape")
        if path.is_file() and not path.is_symlink():
            yield str(path), path.read_bytes()


def run(command: Sequence[str | Path], timeout: float = 300, **kwargs: Any
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          timeout=timeout, check=False, **kwargs)


def wait_until(predicate: Any, timeout: float, interval: float = 0.002) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def console_cli_usable() -> tuple[bool, str]:
    """Whether `journalist-console` exists and offers the commands the console tests drive."""
    if not CONSOLE_CLI.exists():
        return False, f"{CONSOLE_CLI} is not installed"
    result = run([CONSOLE_CLI, "--help"], timeout=60)
    if result.returncode != 0:
        return False, f"journalist-console --help failed: {result.stderr.strip()[-200:]}"
    missing = [name for name in ("init", "import", "list", "show", "save")
               if name not in result.stdout]
    if missing:
        return False, f"journalist-console lacks {', '.join(missing)}"
    return True, ""
