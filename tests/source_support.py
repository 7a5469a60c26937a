"""Shared helpers for the source-site tests (tests/test_source_*.py, issue 3).

How the tests import this module
--------------------------------
`tests/` has no `__init__.py` and no `conftest.py`, and pytest runs in its default "prepend"
import mode: before importing a test module it inserts that module's directory (`tests/`) at the
front of `sys.path`. A test module therefore simply does `from source_support import ...`.
(With `--import-mode=importlib` that insertion does not happen; run these tests in the default
mode, as `make test` does.)

Nothing here is a pytest fixture: fixtures imported by name trip ruff (F401/F811) and would leak
into every other test module if registered as a plugin. Each test module defines the few fixtures
it needs as thin wrappers around the factories below (`make_site`, `running_server`).

What is here
------------
- `make_site`: a fresh instance + DropBox + Flask app in a temporary directory, with the
  inspectorate's private key and the console's signing key kept for the assertions.
- `FlaskAgent` / `HttpAgent`: the same small interface (get/post/post_raw, cookies, a history of
  every response) over the Flask test client and over a real `dropbox serve` on 127.0.0.1.
- `Reporter`: the reporter's journey on top of an agent (generate, create, submit, login, ...).
- `import_responses`: a genuine console-signed response bundle (replies, statuses) imported with
  dropbox.exchange.import_bundle or the `dropbox import` CLI.
- Inspection: store/DB counts, decrypting every stored envelope with the inspectorate's key,
  grepping raw bytes of a directory tree, header and page-safety checks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import http.client
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nacl.public
import nacl.signing
from babel.support import Translations

from dropbox import db
from dropbox import instance as inst
from dropbox.app import create_app
from dropbox.exchange import import_bundle
from dropbox.i18n import TRANSLATIONS
from dropbox.service import DropBox
from dropbox.sessions import COOKIE_NAME
from keys import payload
from keys.bundle import ItemSource, write_bundle
from keys.codename import CodenameDeriver, CodenameKdfParams
from keys.keyfiles import (
    parse_public_key,
    recipient_public_key,
    verify_public_key,
    write_public_key,
)

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
DROPBOX_CLI = VENV_BIN / "dropbox"
FAST_KDF = CodenameKdfParams(time_cost=1, memory_cost_kib=8192)
REGNO_RE = re.compile(r"^WBS-[0-9A-HJKMNP-TV-Y]{4}-[0-9A-HJKMNP-TV-Y]{4}-[0-9A-HJKMNP-TV-Y]$")
MiB = 1024 * 1024


def marker(label: str) -> str:
    """A unique plaintext marker that cannot occur by chance in ciphertext or in the pages."""
    return f"ZQX{label.upper()}{secrets.token_hex(8).upper()}QXZ"


# --------------------------------------------------------------------------------------------
# Instances


@dataclass
class Site:
    data_dir: Path
    instance: inst.Instance
    box: DropBox
    recipient: nacl.public.PrivateKey  # the inspectorate's key: the only one that may decrypt
    console_key: nacl.signing.SigningKey  # signs response bundles
    app: Any = None

    def client(self) -> FlaskAgent:
        assert self.app is not None
        return FlaskAgent(self.app)

    @property
    def items_dir(self) -> Path:
        return self.data_dir / "store" / "items"

    @property
    def pending_dir(self) -> Path:
        return self.data_dir / "store" / "pending"

    def items(self) -> list[Path]:
        return sorted(self.items_dir.glob("*"))

    def pending(self) -> list[Path]:
        return sorted(self.pending_dir.glob("*"))

    def rows(self) -> dict[str, int]:
        with self.box.connection() as connection:
            return {
                table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
                for table in ("sources", "reports", "entries", "responses")
            }

    def snapshot(self) -> dict[str, Any]:
        """What a bad request must leave unchanged: item files, rows, an empty pending dir."""
        return {"items": [p.name for p in self.items()], "rows": self.rows()}

    def assert_unchanged(self, before: dict[str, Any], kept: int = 0) -> None:
        """Nothing stored; store/pending holds only the `kept` uploads of a form sent back for
        correction (encrypted, waiting for the corrected form), nothing else."""
        after = self.snapshot()
        assert after == before, f"store or database changed: {before} -> {after}"
        assert len(self.pending()) == kept, f"pending uploads: {self.pending()}, want {kept}"

    def decrypt_items(
        self, identity: nacl.public.PrivateKey | None = None
    ) -> dict[str, tuple[dict[str, Any], bytes]]:
        """Every stored envelope opened with the inspectorate key (or `identity`)."""
        key = identity or self.recipient
        opened = {}
        for path in self.items():
            with path.open("rb") as handle:
                sink = io.BytesIO()
                meta, _size = payload.read_payload(handle, [key], sink)
            opened[path.stem] = (meta, sink.getvalue())
        return opened

    def dump_db(self) -> str:
        """Every value of every table (opened with the DB key), as one string to search."""
        parts = []
        with self.box.connection() as connection:
            tables = [
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                for row in connection.execute(f'SELECT * FROM "{table}"'):  # noqa: S608
                    parts.extend(repr(value) for value in tuple(row))
        return "\n".join(parts)

    def source_key_for(self, regno: str) -> nacl.public.PublicKey:
        with self.box.connection() as connection:
            row = connection.execute(
                "SELECT s.public_key FROM sources s JOIN reports r ON r.source_id = s.source_id"
                " WHERE r.regno = ?",
                (regno,),
            ).fetchone()
        assert row is not None, f"no report {regno}"
        return parse_public_key(row["public_key"], "recipient").as_recipient()


def make_site(
    tmp_path: Path,
    *,
    upload_limit: int | None = None,
    fast_kdf: bool = True,
    deriver_kwargs: dict[str, Any] | None = None,
    with_app: bool = True,
    name: str = "data",
) -> Site:
    recipient = nacl.public.PrivateKey.generate()
    console_key = nacl.signing.SigningKey.generate()
    kwargs = {} if upload_limit is None else {"upload_limit": upload_limit}
    instance = inst.create(
        tmp_path / name,
        [recipient_public_key(recipient)],
        [verify_public_key(console_key)],
        **kwargs,
    )
    deriver = None
    if fast_kdf or deriver_kwargs:
        options = dict(deriver_kwargs or {})
        if fast_kdf:
            options.setdefault("params", FAST_KDF)
        deriver = CodenameDeriver(*instance.codename_salts(), **options)
    box = DropBox(instance, deriver)
    box.setup()
    site = Site(instance.data_dir, instance, box, recipient, console_key)
    if with_app:
        site.app = create_app(box)
    return site


# --------------------------------------------------------------------------------------------
# Response bundles from the console


def reply_item(site: Site, regno: str, message: str, author: str = "Tim Inspektorat") -> bytes:
    document = json.dumps({"v": 1, "message": message, "author": author}).encode()
    return payload.seal_bytes(
        {"kind": "reply"}, document, [site.source_key_for(regno), site.recipient.public_key]
    )


def status_item(site: Site, regno: str, status: str, note: str = "") -> bytes:
    document = json.dumps({"v": 1, "status": status, "note": note}).encode()
    return payload.seal_bytes(
        {"kind": "status"}, document, [site.source_key_for(regno), site.recipient.public_key]
    )


@dataclass
class Response:
    """One response for `import_responses`: `data` is the sealed item (reply_item/status_item)."""

    kind: str
    regno: str
    day: str
    data: bytes
    closes_report: bool = False
    response_id: str = field(default_factory=lambda: secrets.token_hex(16))


def write_response_bundle(site: Site, responses: Sequence[Response], out: Path) -> Path:
    with site.box.connection() as connection:
        sequence = int(db.get_meta(connection, "console_seq", "0") or 0) + 1
    staging = out.parent / f"{out.name}.items"
    staging.mkdir()
    items = []
    entries = []
    for index, response in enumerate(responses):
        name = f"r{index}-{response.response_id[:8]}"
        (staging / name).write_bytes(response.data)
        items.append(ItemSource(name, staging / name))
        entries.append(
            {
                "response_id": response.response_id,
                "kind": response.kind,
                "regno": response.regno,
                "day": response.day,
                "item": name,
                "closes_report": response.closes_report,
            }
        )
    body = {
        "instance": site.instance.instance_id,
        "sequence": sequence,
        "created_day": dt.date.today().isoformat(),
        "responses": entries,
        "acks": [],
    }
    write_bundle(out, "console-to-server", body, items, site.console_key)
    shutil.rmtree(staging)
    return out


def import_responses(site: Site, responses: Sequence[Response], tmp_dir: Path) -> None:
    """Build a genuine console-signed bundle and apply it in-process."""
    path = tmp_dir / f"responses-{secrets.token_hex(4)}.wbsb"
    write_response_bundle(site, responses, path)
    import_bundle(site.box, path)


def import_responses_cli(site: Site, responses: Sequence[Response], tmp_dir: Path) -> str:
    """The same through `dropbox import --data DIR FILE`; returns its stdout."""
    path = tmp_dir / f"responses-{secrets.token_hex(4)}.wbsb"
    write_response_bundle(site, responses, path)
    done = subprocess.run(
        [str(DROPBOX_CLI), "import", "--data", str(site.data_dir), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# --------------------------------------------------------------------------------------------
# Agents: one interface over the Flask test client and a real HTTP server


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
            from urllib.parse import urlencode

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


class HttpAgent(Agent):
    """A minimal browser over http.client: one cookie jar, no redirect following."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 60.0) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Resp:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
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

    def get(self, path: str) -> Resp:
        return self._send("GET", path, None, {})

    def request(self, method: str, path: str) -> Resp:
        return self._send(method, path, None, {})

    def post_raw(self, path: str, body: bytes, content_type: str) -> Resp:
        return self._send("POST", path, body, {"Content-Type": content_type})

    def cookie(self, name: str = COOKIE_NAME) -> str | None:
        return self.cookies.get(name)


# --------------------------------------------------------------------------------------------
# Page parsing


def hidden(html_text: str, name: str) -> str:
    found = re.search(
        rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', html_text
    ) or re.search(rf'<input[^>]*value="([^"]*)"[^>]*name="{re.escape(name)}"', html_text)
    assert found, f"no hidden input {name!r} in page"
    return html.unescape(found.group(1))


def element_text(html_text: str, element_id: str) -> str:
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)<', html_text, re.S)
    assert found, f"no element id={element_id!r} in page"
    return html.unescape(found.group(1)).strip()


def notices(html_text: str) -> list[str]:
    """Flash messages, alerts and field errors shown on a page."""
    found = re.findall(r'<p class="(?:notice[^"]*|field-error)"[^>]*>(.*?)</p>', html_text, re.S)
    return [html.unescape(text).strip() for text in found]


def page_lang(resp: Resp) -> str | None:
    found = re.search(r'<html lang="([^"]*)"', resp.text)
    return found.group(1) if found else None


def tr(lang: str, msgid: str, **params: Any) -> str:
    """A message as the site shows it in `lang` (English is the msgid; Indonesian from the .mo)."""
    text = msgid
    if lang != "en":
        text = Translations.load(str(TRANSLATIONS), [lang]).gettext(msgid)
    return text % params if params else text


def tr_plural(lang: str, singular: str, plural: str, number: int) -> str:
    """A plural message as the site shows it in `lang` for `number`, with %(num)s filled in."""
    if lang == "en":
        text = singular if number == 1 else plural
    else:
        text = Translations.load(str(TRANSLATIONS), [lang]).ngettext(singular, plural, number)
        assert text not in (singular, plural), f"not translated to {lang}: {singular}"
    return text % {"num": number}


def shown_text(resp: Resp) -> str:
    """The page's text with entities decoded and whitespace folded, for message searches."""
    return re.sub(r"\s+", " ", html.unescape(resp.text))


def assert_in_language(resp: Resp, lang: str, msgid: str, **params: Any) -> None:
    """The page is in `lang` and shows this message in `lang` (really translated for id).

    A parameter given as a compiled regular expression matches any text of that form (for values
    whose formatting is the site's business, such as "1 MiB" or "1,5 MiB").
    """
    assert page_lang(resp) == lang, (resp, page_lang(resp))
    assert resp.header("Content-Language") == lang, resp
    template = tr(lang, msgid)
    if lang != "en":
        assert template != msgid, f"not translated to {lang}: {msgid}"
    sentinels = {name: f"\x00{name}\x00" for name in params}
    filled = template % sentinels if params else template
    pattern = re.escape(re.sub(r"\s+", " ", filled))
    for name, value in params.items():
        escaped_sentinel = re.escape(sentinels[name])
        if isinstance(value, re.Pattern):
            replacement = f"(?:{value.pattern})"
        else:
            replacement = re.escape(str(value))
        pattern = pattern.replace(escaped_sentinel, replacement)
    assert re.search(pattern, shown_text(resp)), f"{resp}: {filled!r} not shown ({params})"


# --------------------------------------------------------------------------------------------
# The reporter


@dataclass
class Report:
    category: str = "bribery"
    relation: str = "employee"
    what: str = "Pungutan liar pada pengurusan izin"
    who: str = "Kepala seksi perizinan"
    where: str = "Kantor wilayah"
    when: str = "Maret sampai Mei"
    how: str = "Uang diminta tunai di luar loket"
    message: str = ""
    pseudonym: str = ""
    contact: str = ""

    def fields(self) -> dict[str, str]:
        return dict(self.__dict__)


def form_action(html_text: str, path: str) -> str:
    """The action URL of the page's form that posts to `path` (an upload form's URL carries its
    single-use ticket)."""
    found = re.search(rf'<form method="post" action="({re.escape(path)}[^"]*)"', html_text)
    assert found, f"no form posting to {path}"
    return html.unescape(found.group(1))


def confirm_words(codename: str, confirm_page: str) -> dict[str, str]:
    """The words the confirmation page asks for, typed back correctly."""
    words = codename.split()
    positions = [int(n) for n in re.findall(r'name="word(\d+)"', confirm_page)]
    assert positions, "the confirmation page asks for no word"
    return {f"word{n}": words[n - 1] for n in positions}


class Reporter:
    """The reporter's journey, as a browser with JavaScript off walks it."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.codename: str | None = None
        self.pending: str | None = None
        self.action: str | None = None  # the report form's action URL, ticket included
        self.followup_actions: dict[str, str] = {}
        self.csrf: str | None = None
        self.token: str | None = None

    def generate(self, lang: str | None = None) -> str:
        resp = self.agent.get("/generate" + (f"?lang={lang}" if lang else ""))
        assert resp.status == 200, resp
        self.codename = element_text(resp.text, "codename")
        self.pending = hidden(resp.text, "pending")
        return self.codename

    def confirm_page(self) -> Resp:
        assert self.pending
        resp = self.agent.post("/confirm", {"pending": self.pending})
        assert resp.status == 200, (resp, resp.text[:2000])
        return resp

    def create(self, words: dict[str, str] | None = None) -> Resp:
        """The confirmation page, then /create with the asked words typed back."""
        assert self.pending and self.codename
        page = self.confirm_page()
        typed = words if words is not None else confirm_words(self.codename, page.text)
        resp = self.agent.post("/create", {"pending": self.pending, **typed})
        if words is None:
            assert resp.status == 303 and resp.location == "/submit", (resp, resp.text[:2000])
        return resp

    def start(self, lang: str | None = None) -> str:
        codename = self.generate(lang)
        self.create()
        self.open_form()
        return codename

    def open_form(self) -> Resp:
        resp = self.agent.get("/submit")
        assert resp.status == 200, resp
        self.action = form_action(resp.text, "/submit")
        self.csrf = hidden(resp.text, "csrf_token")
        return resp

    def submit(
        self,
        report: Report | dict[str, str] | None = None,
        files: Sequence[FileSpec] = (),
        extra: dict[str, str] | None = None,
        action: str | None = None,
    ) -> Resp:
        """POST the report form to its action URL (the last form opened, unless given)."""
        fields: dict[str, str | bytes] = {}
        data = report.fields() if isinstance(report, Report) else dict(report or Report().fields())
        fields.update(data)
        fields["website"] = ""
        fields.update(extra or {})
        if action is None and self.action is None:
            self.open_form()  # the last form was used up: a new one, as "Make another report"
        target = action if action is not None else self.action or "/submit"
        resp = self.agent.post(target, fields, list(files), multipart=True)
        if resp.status == 400 and 'action="/submit?' in resp.text:
            # The form came back for correction, with a new ticket (and the files kept).
            self.action = form_action(resp.text, "/submit")
        elif resp.status == 303 and target == self.action:
            self.action = None  # filed: its ticket is used up
        return resp

    def file_report(self, report: Report | None = None, files: Sequence[FileSpec] = ()) -> str:
        """Send the report, follow the redirect to the thank-you page; the register number."""
        resp = self.submit(report, files)
        assert resp.status == 303 and resp.location == "/thanks", (resp, notices(resp.text))
        thanks = self.agent.get("/thanks")
        assert thanks.status == 200, thanks
        regno = element_text(thanks.text, "regno")
        assert REGNO_RE.match(regno), regno
        return regno

    def login_page(self) -> Resp:
        resp = self.agent.get("/login")
        assert resp.status == 200
        self.token = hidden(resp.text, "token")
        return resp

    def login(self, codename: str) -> Resp:
        self.login_page()
        return self.agent.post("/login", {"token": self.token or "", "codename": codename})

    def lookup(self) -> Resp:
        resp = self.agent.get("/lookup")
        if resp.status == 200:
            self.csrf = hidden(resp.text, "csrf_token")
            self.followup_actions = {
                html.unescape(regno): html.unescape(action)
                for regno, action in re.findall(
                    r'id="report-([^"]+)".*?<form method="post" action="(/followup\?[^"]+)"',
                    resp.text,
                    re.S,
                )
            }
        return resp

    def followup(
        self, regno: str, message: str, files: Sequence[FileSpec] = (), action: str | None = None
    ) -> Resp:
        """Add information to a report through its form on /lookup (opened first if needed)."""
        if action is None:
            if regno not in self.followup_actions:
                self.lookup()
            action = self.followup_actions.get(regno, "/followup")
        fields: dict[str, str | bytes] = {"message": message}
        resp = self.agent.post(action, fields, list(files), multipart=True)
        self.followup_actions.pop(regno, None)  # used up: the next one comes from /lookup
        return resp

    def delete_reply(self, reply_id: str, confirm: bool = True) -> Resp:
        """Open the confirmation page; with confirm, press "yes, delete it" there."""
        page = self.agent.get(f"/reply/delete?reply_id={reply_id}")
        if not confirm or page.status != 200:
            return page
        fields = {"csrf_token": hidden(page.text, "csrf_token"), "reply_id": reply_id,
                  "confirm": "yes"}
        return self.agent.post("/reply/delete", fields)

    def logout(self) -> Resp:
        return self.agent.post("/logout", {"csrf_token": self.csrf or ""})


def codename_variants(codename: str) -> list[str]:
    words = codename.split()
    return sorted(
        {
            codename,
            codename.upper(),
            codename.title(),
            "-".join(words),
            "-".join(words).upper(),
            "".join(words),
            "_".join(words),
        }
    )


# --------------------------------------------------------------------------------------------
# Inspection


def grep_tree(root: Path, needles: Iterable[str | bytes]) -> list[tuple[str, str]]:
    """(file, needle) for every needle found in the raw bytes of any file under root.

    Each needle is searched as UTF-8 and as UTF-16-LE.
    """
    encoded: list[tuple[str, bytes]] = []
    for needle in needles:
        text = needle.decode("utf-8") if isinstance(needle, bytes) else needle
        encoded.append((text, text.encode("utf-8")))
        encoded.append((text, text.encode("utf-16-le")))
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        for label, raw in encoded:
            if raw and raw in data:
                hits.append((str(path.relative_to(root)), label))
    return hits


SECURITY_HEADERS_REQUIRED = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
STATIC_CACHE_CONTROL = "private, max-age=86400, immutable"
CSP_REQUIRED = (
    "default-src 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
)


def csp_directives(value: str) -> dict[str, str]:
    directives = {}
    for part in value.split(";"):
        part = part.strip()
        if part:
            name, _, rest = part.partition(" ")
            directives[name.lower()] = rest.strip()
    return directives


def security_header_problems(resp: Resp, real_server: bool = False) -> list[str]:
    problems = []
    csp = resp.header("Content-Security-Policy")
    if not csp:
        problems.append("no Content-Security-Policy")
    else:
        directives = csp_directives(csp)
        for required in CSP_REQUIRED:
            name, _, value = required.partition(" ")
            if directives.get(name) != value:
                problems.append(f"CSP {name} is {directives.get(name)!r}, want {value!r}")
        for name, value in directives.items():
            for source in value.split():
                if source not in ("'self'", "'none'"):
                    problems.append(f"CSP {name} allows {source}")
    for name, value in SECURITY_HEADERS_REQUIRED.items():
        if resp.header(name) != value:
            problems.append(f"{name} is {resp.header(name)!r}")
    cache = resp.header("Cache-Control") or ""
    if resp.path.startswith("/static/") and resp.status in (200, 304):
        # The style sheet may stay in the browser's cache for the session (issue 16), with a
        # validator made from its content only: never shared caches, never a time (issue 15).
        if cache != STATIC_CACHE_CONTROL:
            problems.append(f"static Cache-Control is {cache!r}")
        if resp.header("Last-Modified") is not None:
            problems.append(f"static Last-Modified {resp.header('Last-Modified')!r}")
    elif "no-store" not in cache:
        problems.append(f"Cache-Control is {cache!r}")
    permissions = resp.header("Permissions-Policy") or ""
    features = dict(item.strip().split("=", 1) for item in permissions.split(",") if "=" in item)
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "fullscreen"):
        if features.get(feature) != "()":
            problems.append(f"Permissions-Policy does not disable {feature}")
    if real_server and resp.header("Server") is not None:
        problems.append(f"Server header {resp.header('Server')!r}")
    return problems


_URL_ATTRIBUTES = {
    "src",
    "href",
    "action",
    "formaction",
    "srcset",
    "data",
    "poster",
    "background",
    "cite",
    "longdesc",
    "manifest",
    "ping",
    "xlink:href",
}
_FORBIDDEN_TAGS = {
    "script",
    "iframe",
    "frame",
    "object",
    "embed",
    "applet",
    "base",
    "style",
    "noscript",
    "svg",
    "math",
    "template",
}


class _PageAudit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> element")
        if tag == "meta" and any(
            name == "http-equiv" and (value or "").lower() == "refresh" for name, value in attrs
        ):
            self.problems.append("meta refresh")
        if tag == "link":
            rel = dict(attrs).get("rel") or ""
            if rel not in ("stylesheet",):
                self.problems.append(f"<link rel={rel!r}>")
        for name, value in attrs:
            value = (value or "").strip()
            lowered = re.sub(r"\s+", "", value).lower()
            if name.startswith("on"):
                self.problems.append(f"inline handler {name} on <{tag}>")
            if name == "style":
                self.problems.append(f"inline style on <{tag}> (CSP would block it)")
            if "javascript:" in lowered or "vbscript:" in lowered or lowered.startswith("data:"):
                self.problems.append(f"script URL in {name} on <{tag}>: {value[:60]}")
            if name in _URL_ATTRIBUTES and re.match(r"^(?:[a-z][a-z0-9+.-]*:|//|\\\\)", lowered):
                self.problems.append(f"other-origin URL in {name} on <{tag}>: {value[:80]}")

    handle_startendtag = handle_starttag


def page_problems(text: str) -> list[str]:
    audit = _PageAudit()
    audit.feed(text)
    audit.close()
    problems = list(audit.problems)
    if re.search(r"<\s*script", text, re.I):
        problems.append("<script in page")
    if re.search(r"javascript:", text, re.I):
        problems.append("javascript: in page")
    if re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I):
        problems.append("other-origin URL in src/href/action")
    return problems


# --------------------------------------------------------------------------------------------
# A real server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path
    spill_dir: Path
    stdout_path: Path
    stderr_path: Path

    def agent(self) -> HttpAgent:
        return HttpAgent(self.port)

    def logs(self) -> bytes:
        return self.stdout_path.read_bytes() + self.stderr_path.read_bytes()


def new_spill_dir() -> Path:
    """A fresh directory under /dev/shm (tmpfs here), removed by running_server."""
    return Path("/dev/shm") / f"wbs-test-spill-{secrets.token_hex(6)}"


@contextlib.contextmanager
def running_server(
    data_dir: Path, log_dir: Path, spill_dir: Path | None = None, extra: Sequence[str] = ()
) -> Iterator[Server]:
    """`dropbox serve` on a free loopback port; waits until it answers; always stops it."""
    spill = spill_dir or new_spill_dir()
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout_path = log_dir / f"serve-{port}.out"
    stderr_path = log_dir / f"serve-{port}.err"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [
                str(DROPBOX_CLI),
                "serve",
                "--data",
                str(data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--spill-dir",
                str(spill),
                *extra,
            ],
            stdout=out,
            stderr=err,
            cwd=str(log_dir),
        )
    server = Server(port, process, data_dir, spill, stdout_path, stderr_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"dropbox serve exited with {process.returncode}: "
                    f"{stderr_path.read_text(errors='replace')}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                probe.request("GET", "/robots.txt")
                if probe.getresponse().status == 200:
                    probe.close()
                    break
                probe.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("dropbox serve did not answer within 30 s")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(spill, ignore_errors=True)


def process_fd_targets(pid: int) -> list[str]:
    targets = []
    fd_dir = Path(f"/proc/{pid}/fd")
    for entry in fd_dir.iterdir() if fd_dir.exists() else []:
        with contextlib.suppress(OSError):
            targets.append(os.readlink(entry))
    return targets


def write_key_files(directory: Path) -> tuple[Path, Path, nacl.public.PrivateKey]:
    """An inspectorate recipient file and a console verify file, as `journalist-console init`."""
    directory.mkdir(parents=True, exist_ok=True)
    recipient = nacl.public.PrivateKey.generate()
    recipient_file = directory / "inspectorate.pub"
    console_file = directory / "console.pub"
    write_public_key(recipient_file, recipient_public_key(recipient))
    write_public_key(console_file, verify_public_key(nacl.signing.SigningKey.generate()))
    return recipient_file, console_file, recipient
