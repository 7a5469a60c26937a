"""The source site's pages as a reporter meets them: reading pages, walking the journey, and
checking what every page must (and must not) contain.

- reading: `hidden`, `element_text`, `notices`, `page_lang`, `shown_text`; `tr` and
  `assert_in_language` for messages in the site's catalog;
- walking: `Reporter` (step by step, keeping the page's tokens and form URLs) and
  `OneStepReporter` (each call fetches the page it needs first) over any agent of
  support/http.py; `new_source`, `login` and `submit_report` straight on a Flask test client;
  `form_action`, `followup_action` and `confirm_words` for the flow's form URLs (an upload form's
  action carries its single-use ticket) and the codename confirmation;
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


def followup_action(lookup_page: str, regno: str) -> str:
    """The action URL (ticket included) of the follow-up form on /lookup for report `regno`."""
    card = lookup_page.split(f'id="report-{regno}"', 1)[1]
    return form_action(card, "/followup")


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
        fields = {
            "csrf_token": hidden(page.text, "csrf_token"),
            "reply_id": reply_id,
            "confirm": "yes",
        }
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
        pending = hidden(page.text, "pending")
        confirm = self.agent.post("/confirm", {"pending": pending})
        assert confirm.status == 200, confirm.status
        typed = confirm_words(codename.group(1), confirm.text)
        created = self.agent.post("/create", {"pending": pending, **typed})
        assert created.status == 303, (created.status, created.text[-300:])
        return codename.group(1)

    def submit(self, fields: dict[str, str], files: Sequence[FileSpec] = ()) -> str:
        reply = self.submit_raw(fields, files)
        assert reply.status == 303, (reply.status, reply.text[-500:])
        thanks = self.agent.get("/thanks")
        regno = REGNO_ON_PAGE.search(thanks.text)
        assert regno, thanks.text[-500:]
        return regno.group(1)

    def submit_raw(self, fields: dict[str, str], files: Sequence[FileSpec] = ()) -> Resp:
        form = self.agent.get("/submit")
        assert form.status == 200, form.status
        action = form_action(form.text, "/submit")
        return self.agent.post(action, list(fields.items()), files, multipart=True)

    def login(self, codename: str) -> Resp:
        page = self.agent.get("/login")
        token = hidden(page.text, "token")
        return self.agent.post("/login", {"token": token, "codename": codename})

    def lookup(self) -> Resp:
        return self.agent.get("/lookup")

    def followup(self, regno: str, message: str, files: Sequence[FileSpec] = ()) -> Resp:
        action = followup_action(self.lookup().text, regno)
        return self.agent.post(action, [("message", message)], files, multipart=True)

    def delete_reply(self, reply_id: str) -> Resp:
        page = self.agent.get(f"/reply/delete?reply_id={reply_id}")
        token = hidden(page.text, "csrf_token")
        fields = {"csrf_token": token, "reply_id": reply_id, "confirm": "yes"}
        return self.agent.post("/reply/delete", fields)

    def logout(self) -> Resp:
        return self.agent.post("/logout", {"csrf_token": hidden(self.lookup().text, "csrf_token")})


def report_fields(what: str, **extra: str) -> dict[str, str]:
    fields = {"category": "procurement_fraud", "relation": "employee", "what": what}
    fields.update(extra)
    return fields


def new_source(client: FlaskClient) -> str:
    """Walk /generate → /confirm → /create (typing back the words asked); returns the codename."""
    page = client.get("/generate").get_data(as_text=True)
    codename = re.search(r'id="codename">([^<]+)<', page)
    assert codename
    pending = hidden(page, "pending")
    confirm = client.post("/confirm", data={"pending": pending}).get_data(as_text=True)
    typed = confirm_words(codename.group(1), confirm)
    response = client.post("/create", data={"pending": pending, **typed})
    assert response.status_code == 303, response.get_data(as_text=True)[-500:]
    return codename.group(1)


def login(client: FlaskClient, codename: str) -> Any:
    """GET /login, then POST it with its visitor-bound token; the response (303 on success)."""
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"token": hidden(page, "token"), "codename": codename})


def submit_report(
    client: FlaskClient,
    what: str = "Pengadaan laptop digelembungkan",
    files: list[tuple[bytes, str]] | None = None,
    **fields: str,
) -> str:
    """POST /submit as a logged-in source, then the thank-you page; returns the register number."""
    page = client.get("/submit").get_data(as_text=True)
    data: dict[str, Any] = {
        "category": "procurement_fraud",
        "relation": "employee",
        "what": what,
        **fields,
    }
    if files:
        data["files"] = [(io.BytesIO(content), name) for content, name in files]
    response = client.post(
        form_action(page, "/submit"), data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 303, response.get_data(as_text=True)[-500:]
    thanks = client.get("/thanks").get_data(as_text=True)
    regno = re.search(r'id="regno">([^<]+)<', thanks)
    assert regno
    return regno.group(1)


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
        # The style sheet may stay in the browser's cache for the session, with a validator made
        # from its content only: never shared caches, never a time.
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
