"""The source site's pages as a reporter meets them: reading pages, walking the journey, and
checking what every page must (and must not) contain.

- reading: `hidden`, `element_text`, `notices`, `page_lang`, `shown_text`; `tr` and
  `assert_in_language` for messages in the site's catalog;
- walking: `Reporter` (step by step, keeping the page's tokens) and `OneStepReporter` (each call
  fetches the page it needs first) over any agent of support/http.py; `new_source` and
  `submit_report` straight on a Flask test client;
- checking: `security_header_problems`, `page_problems`.
"""

from __future__ import annotations

import html
import io
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from babel.support import Translations
from flask.testing import FlaskClient

from dropbox.i18n import TRANSLATIONS
from support.http import Agent, FileSpec, Resp

REGNO_RE = re.compile(r"^WBS-[0-9A-HJKMNP-TV-Y]{4}-[0-9A-HJKMNP-TV-Y]{4}-[0-9A-HJKMNP-TV-Y]$")
CODENAME_ON_PAGE = re.compile(r'id="codename">([^<]+)<')
REGNO_ON_PAGE = re.compile(r'id="regno">([^<]+)<')
TRACEBACK_SIGNS = ("Traceback", 'File "', "werkzeug", "Werkzeug Debugger", "__debugger__")


def marker(label: str) -> str:
    """A unique plaintext marker that cannot occur by chance in ciphertext or in the pages."""
    return f"ZQX{label.upper()}{secrets.token_hex(8).upper()}QXZ"


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


class Reporter:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.codename: str | None = None
        self.ticket: str | None = None
        self.csrf: str | None = None

    def generate(self, lang: str | None = None) -> str:
        resp = self.agent.get("/generate" + (f"?lang={lang}" if lang else ""))
        assert resp.status == 200, resp
        self.codename = element_text(resp.text, "codename")
        self.csrf = hidden(resp.text, "csrf_token")
        return self.codename

    def create(self) -> Resp:
        assert self.csrf
        resp = self.agent.post("/create", {"csrf_token": self.csrf})
        assert resp.status == 302 and resp.location == "/submit", (resp, resp.text[:2000])
        return resp

    def start(self, lang: str | None = None) -> str:
        codename = self.generate(lang)
        self.create()
        self.open_form()
        return codename

    def open_form(self) -> Resp:
        resp = self.agent.get("/submit")
        assert resp.status == 200, resp
        self.ticket = hidden(resp.text, "ticket")
        self.csrf = hidden(resp.text, "csrf_token")
        return resp

    def submit(
        self,
        report: Report | dict[str, str] | None = None,
        files: Sequence[FileSpec] = (),
        extra: dict[str, str] | None = None,
        ticket: str | None = None,
    ) -> Resp:
        fields: dict[str, str | bytes] = {
            "ticket": ticket if ticket is not None else self.ticket or ""
        }
        data = report.fields() if isinstance(report, Report) else dict(report or Report().fields())
        fields.update(data)
        fields["website"] = ""
        fields.update(extra or {})
        return self.agent.post("/submit", fields, list(files), multipart=True)

    def file_report(self, report: Report | None = None, files: Sequence[FileSpec] = ()) -> str:
        resp = self.submit(report, files)
        assert resp.status == 200, (resp, notices(resp.text))
        regno = element_text(resp.text, "regno")
        assert REGNO_RE.match(regno), regno
        return regno

    def login_page(self) -> Resp:
        resp = self.agent.get("/login")
        assert resp.status == 200
        self.csrf = hidden(resp.text, "csrf_token")
        return resp

    def login(self, codename: str) -> Resp:
        self.login_page()
        return self.agent.post("/login", {"csrf_token": self.csrf or "", "codename": codename})

    def lookup(self) -> Resp:
        resp = self.agent.get("/lookup")
        if resp.status == 200:
            self.ticket = hidden(resp.text, "ticket")
            self.csrf = hidden(resp.text, "csrf_token")
        return resp

    def followup(
        self, regno: str, message: str, files: Sequence[FileSpec] = (), ticket: str | None = None
    ) -> Resp:
        fields: dict[str, str | bytes] = {
            "ticket": ticket if ticket is not None else self.ticket or "",
            "regno": regno,
            "message": message,
        }
        return self.agent.post("/followup", fields, list(files), multipart=True)

    def delete_reply(self, reply_id: str, confirm: bool = True) -> Resp:
        """Press "delete", then confirm on the confirmation page (unless confirm=False)."""
        fields = {"csrf_token": self.csrf or "", "reply_id": reply_id}
        if confirm:
            fields["confirm"] = "yes"
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


class OneStepReporter:
    """The reporter's journey where each step fetches the page it needs first (the tokens are
    never kept), as the hostile tests drive a real server."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def create(self, lang: str = "en") -> str:
        page = self.agent.get(f"/generate?lang={lang}")
        assert page.status == 200, page.status
        codename = CODENAME_ON_PAGE.search(page.text)
        assert codename
        created = self.agent.post("/create", {"csrf_token": hidden(page.text, "csrf_token")})
        assert created.status == 302, (created.status, created.text[-300:])
        return codename.group(1)

    def submit(self, fields: dict[str, str], files: Sequence[FileSpec] = ()) -> str:
        reply = self.submit_raw(fields, files)
        assert reply.status == 200, (reply.status, reply.text[-500:])
        regno = REGNO_ON_PAGE.search(reply.text)
        assert regno
        return regno.group(1)

    def submit_raw(self, fields: dict[str, str], files: Sequence[FileSpec] = ()) -> Resp:
        form = self.agent.get("/submit")
        assert form.status == 200, form.status
        values = [("ticket", hidden(form.text, "ticket")), *fields.items()]
        return self.agent.post("/submit", values, files, multipart=True)

    def login(self, codename: str) -> Resp:
        page = self.agent.get("/login")
        token = hidden(page.text, "csrf_token")
        return self.agent.post("/login", {"csrf_token": token, "codename": codename})

    def lookup(self) -> Resp:
        return self.agent.get("/lookup")

    def followup(self, regno: str, message: str, files: Sequence[FileSpec] = ()) -> Resp:
        page = self.lookup()
        fields = [("ticket", hidden(page.text, "ticket")), ("regno", regno), ("message", message)]
        return self.agent.post("/followup", fields, files, multipart=True)

    def delete_reply(self, reply_id: str) -> Resp:
        token = hidden(self.lookup().text, "csrf_token")
        fields = {"csrf_token": token, "reply_id": reply_id, "confirm": "yes"}
        return self.agent.post("/reply/delete", fields)

    def logout(self) -> Resp:
        return self.agent.post("/logout", {"csrf_token": hidden(self.lookup().text, "csrf_token")})


def report_fields(what: str, **extra: str) -> dict[str, str]:
    fields = {"category": "procurement_fraud", "relation": "employee", "what": what}
    fields.update(extra)
    return fields


def new_source(client: FlaskClient) -> str:
    """Walk /generate → /create; returns the codename shown."""
    page = client.get("/generate").get_data(as_text=True)
    codename = re.search(r'id="codename">([^<]+)<', page)
    assert codename
    response = client.post("/create", data={"csrf_token": hidden(page, "csrf_token")})
    assert response.status_code == 302
    return codename.group(1)


def submit_report(
    client: FlaskClient,
    what: str = "Pengadaan laptop digelembungkan",
    files: list[tuple[bytes, str]] | None = None,
    **fields: str,
) -> str:
    """POST /submit as a logged-in source; returns the register number."""
    page = client.get("/submit").get_data(as_text=True)
    data: dict[str, Any] = {
        "ticket": hidden(page, "ticket"),
        "category": "procurement_fraud",
        "relation": "employee",
        "what": what,
        **fields,
    }
    if files:
        data["files"] = [(io.BytesIO(content), name) for content, name in files]
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)[-500:]
    regno = re.search(r'id="regno">([^<]+)<', response.get_data(as_text=True))
    assert regno
    return regno.group(1)


SECURITY_HEADERS_REQUIRED = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
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
    if "no-store" not in cache:
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
