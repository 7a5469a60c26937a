"""Fuzzing the source site (the hostile suite): hypothesis-built hostile requests through the Flask
test client against every route, with every method, random fields, multipart shapes, headers,
cookies and query strings.

After every request: the status is one the site defines, no page shows a traceback or debugger
text, redirects stay on the site, and the store is consistent with the database (every envelope
has a row and every row an envelope, nothing in store/pending but the uploads a live session keeps
for a form sent back for correction).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import socket
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from werkzeug.test import TestResponse

from dropbox.exchange import import_bundle
from dropbox.sessions import COOKIE_NAME
from support.bundles import response_bundle
from support.inspection import kept_uploads, store_problems
from support.instances import MiB, make_site
from support.instances import Site as Instance
from support.pages import TRACEBACK_SIGNS, hidden, new_source, submit_report
from support.processes import real_server

# 303: every form is answered with a redirect; 409: a codename page sent twice; 410: a report
# for a source forgotten meanwhile.
ALLOWED_STATUSES = {200, 303, 400, 403, 404, 405, 409, 410, 413, 429, 503}
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]
ROUTES = ["/", "/generate", "/confirm", "/create", "/codename", "/submit", "/thanks", "/login",
          "/lookup", "/followup", "/reply/delete", "/logout", "/logged-out", "/metadata",
          "/robots.txt", "/static/style.css"]
VISIT_COOKIE = "wbs_visit"
ODD_PATHS = ["/static/../dropbox.db", "/static/%2e%2e/db.key", "/lookup/", "/%00", "/\u202e",
             "/index.php", "/.git/config", "/static/", "/submit;jsessionid=1", "/admin"]
FIELD_NAMES = ["ticket", "csrf_token", "token", "pending", "word1", "word4", "word8", "confirm",
               "category", "relation", "what", "who", "where", "when", "how", "message",
               "pseudonym", "contact", "files", "codename", "regno", "reply_id", "website", "lang"]
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])

# -- values ----------------------------------------------------------------------------------

SPECIALS = [
    "", "\x00", "a\x00b", "\u202e", "\u200f\u200e", "\u202egpj.exe", "\ufeff", "\r\n\r\n",
    "\U0001F600" * 50, "\U0001F3F3\uFE0F\u200D\U0001F308", "' OR 1=1 --", "<script>x</script>",
    "{{7*7}}{% raw %}", "%s%n%x", "../../../../etc/passwd", "\\\\server\\share", "\udc80\udcff",
    "\ud800", "WBS-0000-0000-0", "wbs 0000 0000 0", "0" * 32, "a" * 32, "corruption",
    "employee", "id", "en", "\u0130\u0131\u00df\ufb01", "\ufdfa" * 256, "null", "[]", "{}",
]


def _repeat(text: str, length: int) -> str:
    return (text * (length // max(len(text), 1) + 1))[:length]


text_values = st.one_of(
    st.sampled_from(SPECIALS),
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=200),
    st.builds(_repeat, st.text(min_size=1, max_size=4), st.integers(0, 20_000)),
)
# Bytes that no UTF-8 encoder writes: lone surrogates (surrogatepass), stray continuation bytes.
byte_values = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda t: t.encode("utf-8", "surrogatepass"),
              st.text(st.characters(categories=["Cs", "Lo", "Cc"]), max_size=40)),
)
values = st.one_of(text_values, byte_values)
names = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=20))


def as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


# -- multipart shapes --------------------------------------------------------------------------

FILENAMES = [
    "nota.pdf", "../../../etc/passwd", "..\\..\\boot.ini", "a\x00b.txt", "x" * 300,
    '"quoted".txt', 'a"b"c.txt', "name\";filename=\"evil.exe", "\u202egpj.exe",
    "\U0001F600" * 100, "", " ", ".", "..", "CON", "\r\nX-Injected: 1", "%2e%2e%2fpasswd",
]


@dataclass
class Part:
    name: str | bytes
    value: bytes
    filename: str | None = None
    content_type: str | None = None
    extra_headers: list[bytes] = field(default_factory=list)
    disposition: bool = True


def _quote(text: str | bytes) -> bytes:
    return as_bytes(text).replace(b"\r", b"").replace(b"\n", b"")


def render_part(part: Part) -> bytes:
    lines = []
    if part.disposition:
        line = b'Content-Disposition: form-data; name="' + _quote(part.name) + b'"'
        if part.filename is not None:
            line += b'; filename="' + _quote(part.filename) + b'"'
        lines.append(line)
    if part.content_type is not None:
        lines.append(b"Content-Type: " + _quote(part.content_type))
    lines += part.extra_headers
    return b"\r\n".join(lines) + b"\r\n\r\n" + part.value


@st.composite
def parts(draw: st.DrawFn) -> Part:
    is_file = draw(st.booleans())
    return Part(
        name=draw(st.one_of(names, st.just("files"))),
        value=as_bytes(draw(values)),
        filename=draw(st.one_of(st.sampled_from(FILENAMES), st.text(max_size=300)))
        if is_file else None,
        content_type=draw(st.one_of(st.none(), st.sampled_from(
            ["text/plain", "application/octet-stream", "image/jpeg; charset=\"x\"",
             "x/" + "\u00e9" * 300, "multipart/mixed; boundary=inner", ""]),
            st.text(max_size=100))),
        extra_headers=draw(st.lists(st.sampled_from([
            b"X-Huge: " + b"h" * 20_000, b"Content-Transfer-Encoding: base64",
            b"Content-Disposition: form-data; name=\"dup\"", b"Broken header without colon",
            b"X-Nul: a\x00b"]), max_size=2)),
        disposition=draw(st.booleans() | st.just(True)),
    )


@st.composite
def multipart_bodies(draw: st.DrawFn, real: list[Part]) -> tuple[bytes, str]:
    """(body, content type) in one of the shapes a broken or hostile client sends."""
    boundary = draw(st.sampled_from(["B0UNDARY", "----x" + "y" * 60, "a", "\u00e9t\u00e9",
                                     "b" * 80]))
    all_parts = real + draw(st.lists(parts(), max_size=6))
    if draw(st.booleans()):  # duplicated fields: the same names again, other values
        all_parts += [Part(p.name, as_bytes(draw(values)), p.filename) for p in all_parts[:3]]
    order = draw(st.permutations(all_parts))
    delimiter = b"--" + as_bytes(boundary)
    body = b"".join(delimiter + b"\r\n" + render_part(part) + b"\r\n" for part in order)
    shape = draw(st.sampled_from(["ok"] * 8 + ["no-close", "no-boundary-param",
                                  "other-boundary", "lf-only", "truncated", "preamble"]))
    content_type = f"multipart/form-data; boundary={boundary}"
    if shape == "ok":
        body += delimiter + b"--\r\n"
    elif shape == "no-boundary-param":
        body += delimiter + b"--\r\n"
        content_type = "multipart/form-data"
    elif shape == "other-boundary":
        body += delimiter + b"--\r\n"
        content_type = "multipart/form-data; boundary=somethingelse"
    elif shape == "lf-only":
        body = body.replace(b"\r\n", b"\n") + delimiter + b"--\n"
    elif shape == "truncated":
        body = body[: draw(st.integers(0, len(body)))]
    elif shape == "preamble":
        body = b"preamble junk\r\n" + body + delimiter + b"--\r\nepilogue"
    return body, content_type


# -- the site under attack ------------------------------------------------------------------


@dataclass
class Site:
    """The module's target: one instance with a source, a report and replies, shared by the fuzz
    tests (module scope, overriding conftest's fresh `site`)."""

    server: Instance
    codename: str
    regno: str

    @property
    def app(self) -> Any:
        return self.server.flask.application


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    tmp = tmp_path_factory.mktemp("fuzz-site")
    server = make_site(tmp, upload_limit=256 * 1024)
    codename = new_source(server.flask)
    regno = submit_report(server.flask, files=[(b"evidence", "a.txt")])
    key = server.box.derive(codename).public_key
    bundle = response_bundle(server, tmp / "r.bundle", 1, [
        {"regno": regno, "kind": "reply", "source_key": key,
         "document": {"v": 1, "message": "balasan", "author": "I"}}
        for _ in range(3)])
    import_bundle(server.box, bundle)
    return Site(server, codename, regno)


@dataclass
class Session:
    """One browser's state: its Cookie header, and what its pages gave it to send back."""

    cookie: str
    csrf: str = ""  # the session's anti-forgery token (logged in only)
    submit: str = ""  # "ticket=..." of the report form (logged in only)
    followup: str = ""  # "ticket=..." of the follow-up form of the site's report
    reply_ids: list[str] = field(default_factory=list)
    token: str = ""  # a visitor's /login token, bound to the visitor's cookie
    pending: str = ""  # a visitor's sealed codename page

    def form_fields(self) -> list[tuple[str, str]]:
        if self.csrf:
            return [("csrf_token", self.csrf)]
        return [("token", self.token), ("pending", self.pending)]


def _ticket(page: str, path: str) -> str:
    match = re.search(rf'action="{re.escape(path)}\?(ticket=[^"&]+)"', page)
    assert match, f"no form posting to {path}"
    return match.group(1)


def logged_in(site: Site) -> Session:
    """A fresh logged-in session for the site's source (each example may log out or rotate)."""
    client = site.app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"token": hidden(page, "token"),
                                           "codename": site.codename})
    assert response.status_code == 303
    lookup = client.get("/lookup").get_data(as_text=True)
    form = client.get("/submit").get_data(as_text=True)
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie is not None
    card = lookup.split(f'id="report-{site.regno}"', 1)[1]
    return Session(f"{COOKIE_NAME}={cookie.value}", hidden(lookup, "csrf_token"),
                   _ticket(form, "/submit"), _ticket(card, "/followup"),
                   re.findall(r'id="reply-([0-9a-f]{32})"', lookup))


def own_reply(state: Session, data: st.DataObject) -> str:
    # The draw must not depend on how many replies earlier examples deleted (hypothesis replays).
    index = data.draw(st.integers(0, 2))
    return state.reply_ids[index % len(state.reply_ids)] if state.reply_ids else "0" * 32


def pending_codename(site: Site) -> Session:
    """A visitor who is not logged in, holding a codename page and a login page (no session:
    the forms are bound to the visitor's random cookie)."""
    client = site.app.test_client()
    page = client.get("/generate").get_data(as_text=True)
    login = client.get("/login").get_data(as_text=True)
    assert client.get_cookie(COOKIE_NAME) is None
    visit = client.get_cookie(VISIT_COOKIE)
    assert visit is not None
    return Session(f"{VISIT_COOKIE}={visit.value}", token=hidden(login, "token"),
                   pending=hidden(page, "pending"))


def check_response(site: Site, response: TestResponse, method: str) -> None:
    body = response.get_data()
    with contextlib.suppress(InvalidArgument):  # outside @given there is nothing to count
        event(f"status {response.status_code} {response.request.path}")
    assert response.status_code in ALLOWED_STATUSES, (response.status_code, body[-400:])
    text = body.decode("utf-8", "replace")
    for sign in TRACEBACK_SIGNS:
        assert sign not in text, f"{sign!r} in a {response.status_code} page"
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location", "")
        assert location.startswith("/") and not location.startswith("//"), location
    if method == "HEAD":
        assert body == b""
    assert store_problems(site.server.data, kept_uploads(site.app)) == []


# -- the fuzzers ----------------------------------------------------------------------------


@st.composite
def requests_anywhere(draw: st.DrawFn) -> dict:
    path = draw(st.one_of(st.sampled_from(ROUTES + ODD_PATHS),
                          st.text(st.characters(codec="utf-8", exclude_characters="/?#"),
                                  max_size=30).map(lambda s: "/" + urllib.parse.quote(s))))
    query = draw(st.one_of(
        st.just(b""),
        st.builds(lambda v: b"lang=" + urllib.parse.quote_from_bytes(as_bytes(v)).encode(),
                  st.one_of(st.sampled_from(["id", "en", "", "fr", "EN", "en\x00", "id&lang=en"]),
                            values)),
        # Raw query bytes: visible ASCII only. Waitress refuses a request line with other bytes
        # (400 before the app runs: test_raw_requests_on_the_real_server), so the app never
        # sees them; Werkzeug's request.args would raise UnicodeDecodeError on them.
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#"),
                max_size=100).map(str.encode),
    ))
    return {"method": draw(st.sampled_from(METHODS)), "path": path, "query": query}


@st.composite
def header_sets(draw: st.DrawFn) -> dict[str, str]:
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["Accept-Language"] = draw(st.sampled_from(
            ["*", "en;q=abc", "zz-ZZ, ;q=1.0, ,,,", "id-ID,id;q=0.9,en;q=0.8", "x" * 5000,
             "\u00e9\u00e8"]))
    if draw(st.booleans()):
        headers["User-Agent"] = draw(st.sampled_from(["", "sqlmap/1.7", "\u00ff" * 300]))
    if draw(st.booleans()):
        headers["X-Forwarded-For"] = "203.0.113.9"
    if draw(st.booleans()):
        headers["Content-Type"] = draw(st.sampled_from([
            "application/json", "text/plain", "multipart/form-data",
            "multipart/form-data; boundary=", "application/x-www-form-urlencoded; charset=utf-7",
            "application/x-www-form-urlencoded; charset=latin-1", "image/png", ";;;", "\u00e9"]))
    return headers


def cookie_header(draw: st.DrawFn, session: Session | None) -> str | None:
    choice = draw(st.sampled_from(["none", "junk", "big", "forged", "real", "real+junk",
                                   "twice"]))
    real = session.cookie if session else None
    if choice == "junk":
        return draw(st.sampled_from(["=", ";;;", "a=b; a=c", f"{COOKIE_NAME}=", "\x00=\x01",
                                     f'{COOKIE_NAME}="quoted"', f"{COOKIE_NAME}=" + "\u00e9" * 30]))
    if choice == "big":
        return "junk=" + "J" * 4096
    if choice == "forged":
        return draw(st.sampled_from([COOKIE_NAME, VISIT_COOKIE])) + f"={secrets.token_urlsafe(32)}"
    if choice == "real" and real:
        return real
    if choice == "real+junk" and real:
        return f"x=1; {real}; y=\u00e9; {'z' * 3000}=1"
    if choice == "twice" and real:
        return f"{COOKIE_NAME}={secrets.token_urlsafe(32)}; {real}"
    return None


def send(site: Site, method: str, path: str, query: bytes, body: bytes | None,
         headers: dict[str, str], content_length: str | None = None) -> TestResponse:
    client = site.app.test_client(use_cookies=False)
    overrides = {"QUERY_STRING": query.decode("latin-1")}
    if content_length is not None:
        overrides["CONTENT_LENGTH"] = content_length
    return client.open(path, method=method, data=body, headers=headers,
                       environ_overrides=overrides)


def test_every_route_with_every_method(site: Site) -> None:
    """The full route x method table once, anonymous and logged in, before the random search."""
    for logged in (False, True):
        state = logged_in(site) if logged else None
        for route in ROUTES:
            for method in METHODS:
                if route in ("/logout", "/create", "/login") and state:
                    state = logged_in(site)  # these end or rotate the session: start again
                headers = {"Cookie": state.cookie} if state else {}
                body = None
                if method in ("POST", "PUT", "PATCH", "DELETE"):
                    body = b"csrf_token=" + (state.csrf.encode() if state else b"x") + \
                        b"&what=%00%E2%80%AE&codename=" + b"a" * 300
                    headers["Content-Type"] = "application/x-www-form-urlencoded"
                check_response(site, send(site, method, route, b"", body, headers), method)
                if state and route in ("/submit", "/followup") and method == "POST":
                    # And with the form's own ticket in the URL (used up: take a new one).
                    query = (state.submit if route == "/submit" else state.followup).encode()
                    check_response(site, send(site, method, route, query, body, headers), method)
                    state = logged_in(site)


@SETTINGS
@given(data=st.data(), target=requests_anywhere(), headers=header_sets())
def test_any_route_any_method_any_headers(site: Site, data: st.DataObject, target: dict,
                                          headers: dict[str, str]) -> None:
    session = data.draw(st.sampled_from([None, "login", "pending"]))
    state = (logged_in(site) if session == "login"
             else pending_codename(site) if session == "pending" else None)
    cookie = cookie_header(data.draw, state)
    if cookie is not None:
        headers["Cookie"] = cookie
    query = target["query"]
    if state and state.csrf and target["path"] in ("/submit", "/followup") and data.draw(
            st.booleans()):
        # The upload form's own ticket, in the URL where the form puts it.
        ticket = state.submit if target["path"] == "/submit" else state.followup
        query = ticket.encode() + (b"&" + query if query else b"")
    kind = data.draw(st.sampled_from(["none", "form", "raw"]))
    body: bytes | None = None
    if kind == "form":
        pairs = data.draw(st.lists(st.tuples(names, values), max_size=8))
        if state and data.draw(st.booleans()):
            pairs += state.form_fields()
        body = b"&".join(urllib.parse.quote_from_bytes(as_bytes(k)).encode() + b"="
                         + urllib.parse.quote_from_bytes(as_bytes(v)).encode() for k, v in pairs)
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif kind == "raw":
        body = data.draw(st.binary(max_size=2000))
    length = data.draw(st.sampled_from([None, None, "-1", "abc", "0", "99999999999999999999",
                                        "5", "1000000"]))
    response = send(site, target["method"], target["path"], query, body, headers, length)
    check_response(site, response, target["method"])


@settings(SETTINGS, max_examples=80)
@given(data=st.data())
@example(data=None)  # the plain well-formed case first
def test_upload_routes_with_hostile_multipart(site: Site, data: st.DataObject | None) -> None:
    """/submit and /followup with a valid ticket (and sometimes a live session) and every
    multipart shape; also the CSRF-protected routes with multipart bodies."""
    state = logged_in(site)
    if data is None:
        route, real = "/submit", [Part("category", b"other"), Part("relation", b"public"),
                                  Part("what", b"ok"),
                                  Part("files", b"x" * 1000, "a.txt", "text/plain")]
        shape_body, content_type = _well_formed(real)
        headers = {"Content-Type": content_type, "Cookie": state.cookie}
        response = send(site, "POST", route, state.submit.encode(), shape_body, headers)
        check_response(site, response, "POST")
        assert response.status_code == 303
        return
    route = data.draw(st.sampled_from(["/submit", "/submit", "/followup", "/followup", "/login",
                                       "/reply/delete", "/logout", "/create", "/confirm",
                                       "/lookup"]))
    likely = st.sampled_from([True, True, True, False])
    # The upload forms' tickets travel in the URL; sometimes the other form's, or in the body.
    ticket = data.draw(st.sampled_from([state.submit, state.followup, ""]))
    if route in ("/submit", "/followup") and data.draw(likely):
        ticket = state.submit if route == "/submit" else state.followup
    real = [Part("ticket", ticket.removeprefix("ticket=").encode())] if data.draw(
        st.booleans()) else []
    if data.draw(st.booleans()):
        real.append(Part("csrf_token", state.csrf.encode()))
    if route in ("/login", "/create", "/confirm") and data.draw(st.booleans()):
        visitor = pending_codename(site)
        real += [Part(name, value.encode()) for name, value in visitor.form_fields()]
    if route == "/submit" and data.draw(likely):
        real += [Part("category", data.draw(st.sampled_from([b"other", b"bribery", b"x"]))),
                 Part("relation", data.draw(st.sampled_from([b"public", b"employee", b""]))),
                 Part("what", as_bytes(data.draw(values)))]
    if route == "/followup":
        real.append(Part("regno", data.draw(st.sampled_from(
            [site.regno.encode(), site.regno.lower().encode(), b"WBS-0000-0000-0", b""]))))
        real.append(Part("message", as_bytes(data.draw(values))))
    if route == "/reply/delete" and data.draw(st.booleans()):
        real.append(Part("reply_id", own_reply(state, data).encode()))
    body, content_type = data.draw(multipart_bodies(real))
    headers = {"Content-Type": content_type}
    if data.draw(st.booleans()):
        headers["Cookie"] = state.cookie
    length = data.draw(st.sampled_from([None, None, None, str(len(body) // 2),
                                        str(len(body) + 100)]))
    query = data.draw(st.sampled_from([b"", b"lang=en", b"lang=xx"]))
    if ticket:
        query = ticket.encode() + (b"&" + query if query else b"")
    response = send(site, data.draw(st.sampled_from(["POST", "POST", "POST", "PUT"])), route,
                    query, body, headers, length)
    check_response(site, response, "POST")


def _well_formed(real: list[Part]) -> tuple[bytes, str]:
    boundary = "WELLFORMED" + secrets.token_hex(4)
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + render_part(p) + b"\r\n"
                    for p in real) + b"--" + boundary.encode() + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary}"


def test_long_escapable_file_name_and_type_are_accepted(site: Site) -> None:
    """Control for the bug below: a long but escapable name and type are simply accepted."""
    state = logged_in(site)
    real = [Part("category", b"other"), Part("relation", b"public"), Part("what", b"ok"),
            Part("files", b"data", "\x01" * 255, "x/" + "\x01" * 400)]
    body, content_type = _well_formed(real)
    response = send(site, "POST", "/submit", state.submit.encode(), body,
                    {"Content-Type": content_type, "Cookie": state.cookie})
    check_response(site, response, "POST")
    assert response.status_code == 303


def test_upload_metadata_over_the_limit_is_not_left_in_pending(site: Site) -> None:
    """A file name of 255 non-BMP characters (12 bytes each once JSON-escaped) and a long
    non-ASCII part Content-Type: the metadata must still fit, and nothing stays in pending."""
    state = logged_in(site)
    real = [Part("category", b"other"), Part("relation", b"public"), Part("what", b"ok"),
            Part("files", b"data", "\U0001F600" * 255, "x/" + "\u00e9" * 300)]
    body, content_type = _well_formed(real)
    response = send(site, "POST", "/submit", state.submit.encode(), body,
                    {"Content-Type": content_type, "Cookie": state.cookie})
    try:
        check_response(site, response, "POST")
        assert response.status_code == 303
    finally:
        kept = kept_uploads(site.app)
        for leftover in (site.server.data / "store" / "pending").iterdir():
            if leftover.name not in kept:
                leftover.unlink()  # so the other tests of this module see a clean store


@settings(SETTINGS, max_examples=80)
@given(data=st.data())
def test_logged_in_forms_with_random_fields(site: Site, data: st.DataObject) -> None:
    """Urlencoded posts with a live session and a valid CSRF token: the checks after CSRF."""
    state = logged_in(site)
    route = data.draw(st.sampled_from(["/login", "/reply/delete", "/logout", "/create",
                                       "/confirm", "/generate", "/followup", "/submit"]))
    fields = [("csrf_token", state.csrf)]
    if route in ("/login", "/create", "/confirm", "/generate"):
        fields += pending_codename(site).form_fields()  # a visitor's form tokens, as well
    fields += data.draw(st.lists(st.tuples(names, values), max_size=10))
    query = b""
    if route in ("/submit", "/followup") and data.draw(st.booleans()):
        query = (state.submit if route == "/submit" else state.followup).encode()
    if route == "/reply/delete" and data.draw(st.booleans()):
        fields.append(("reply_id", own_reply(state, data)))
    if route == "/login" and data.draw(st.booleans()):
        fields.append(("codename", data.draw(st.sampled_from([
            site.codename.upper(), f"  {site.codename}\t", site.codename.replace(" ", "-"),
            site.codename + "\x00", site.codename * 40]))))
    body = b"&".join(urllib.parse.quote_from_bytes(as_bytes(k)).encode() + b"="
                     + urllib.parse.quote_from_bytes(as_bytes(v)).encode() for k, v in fields)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": state.cookie}
    response = send(site, "POST", route, query, body, headers)
    check_response(site, response, "POST")


def test_store_is_consistent_after_the_fuzzing(site: Site) -> None:
    assert store_problems(site.server.data, kept_uploads(site.app)) == []
    assert Path(site.server.data / "store" / "pending").is_dir()


# -- raw HTTP against the real server (what the Flask test client cannot send) -------------

RAW_REQUESTS = {
    "non-ascii query": b"GET /?\x80 HTTP/1.1\r\nHost: x\r\n\r\n",
    "non-ascii path": b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    "length lies short": b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/"
                         b"x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncodename=a",
    "negative length": b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "junk length": b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "two lengths": b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   b"Content-Length: 7\r\n\r\naaaaaaa",
    "huge length": b"POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n",
    "bad chunk": b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"zz\r\nabc\r\n0\r\n\r\n",
    "length and chunked": b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                          b"GET /lookup HTTP/1.1\r\nHost: x\r\n\r\n",
    "gzip chunked": b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n"
                    b"\r\n0\r\n\r\n",
    "chunked upload": b"POST /submit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      b"Content-Type: multipart/form-data; boundary=B\r\n\r\n5\r\n--B\r\n\r\n"
                      b"0\r\n\r\n",
    "nul in header": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "huge header": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 300_000 + b"\r\n\r\n",
    "many headers": b"GET / HTTP/1.1\r\nHost: x\r\n"
                    + b"".join(b"X-%d: a\r\n" % i for i in range(5000)) + b"\r\n",
    "no host, 1.0": b"GET / HTTP/1.0\r\n\r\n",
    "http2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "version 9.9": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "no version": b"GET /\r\n\r\n",
    "tls hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(100),
    "absolute uri": b"GET http://evil.example/lookup HTTP/1.1\r\nHost: x\r\n\r\n",
    "options star": b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    "connect": b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
    "trace": b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n",
    "lower-case method": b"get / HTTP/1.1\r\nHost: x\r\n\r\n",
}
# Waitress answers protocol errors itself: 400, 413, 431 (header too large), 501 (unknown
# transfer coding) are its defined answers; a connection closed without an answer is fine too.
RAW_ALLOWED = ALLOWED_STATUSES | {431, 501}


def test_raw_requests_on_the_real_server(tmp_path: Path) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB)
    with real_server(server.data, tmp_path / "server-logs") as real:
        for name, raw in RAW_REQUESTS.items():
            with socket.create_connection(("127.0.0.1", real.port), timeout=10) as sock:
                sock.sendall(raw)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
                answer = b""
                with contextlib.suppress(OSError):
                    while chunk := sock.recv(65536):
                        answer += chunk
            statuses = [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) ", answer)]
            assert set(statuses) <= RAW_ALLOWED, (name, statuses)
            text = answer.decode("latin-1")
            for sign in TRACEBACK_SIGNS:
                assert sign not in text, (name, sign)
            location = re.search(r"\r\nLocation: ([^\r\n]*)", text)
            assert location is None or location.group(1).startswith("/"), (name, location)
        # Still serving, nothing stored or left behind, and nothing logged per request.
        assert real.client().get("/").status == 200
        assert store_problems(server.data) == []
        real.stop()
        assert "Traceback" not in real.log_text()
