"""The Indonesian message catalog of the source site.

Indonesian is the site's default language and English is the msgid itself, so a string missing
from dropbox/translations/id/LC_MESSAGES/messages.po shows up in English to the people the site is
built for. These tests keep the catalog complete and in step with the sources (babel.cfg decides
what is extracted), the compiled .mo in step with the .po, the placeholders intact, the key terms
consistent, and check that the running site speaks Indonesian by default and English on request.

To fix a failure: scripts/translations.sh extract, update, translate, compile (see the script).
"""

from __future__ import annotations

import html
import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from babel.messages import frontend
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po, write_po
from flask import Flask
from flask.testing import FlaskClient

from dropbox import instance as inst
from dropbox.app import create_app
from dropbox.service import DropBox
from keys import keytypes
from keys.codename import CodenameDeriver, CodenameKdfParams
from keys.keyfiles import recipient_public_key, verify_public_key
from support.pages import form_action, new_source

REPO_ROOT = Path(__file__).resolve().parent.parent
BABEL_CFG = REPO_ROOT / "babel.cfg"
SCRIPT = REPO_ROOT / "scripts" / "translations.sh"
TRANSLATIONS = REPO_ROOT / "dropbox" / "translations"
POT = TRANSLATIONS / "messages.pot"
PO = TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.mo"

PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[a-z]")
# English term in a msgid -> the one Indonesian rendering the catalog uses for it.
TERMS = {
    "codename": "kode rahasia",
    "register number": "nomor register",
    "inspectorate": "inspektorat",
    "pseudonym": "nama samaran",
    "attachments": "lampiran",
    "evidence": "bukti",
}
# Cheap argon2 for the rendering tests: what is tested here is the text, not the KDF.
FAST_KDF = CodenameKdfParams(time_cost=1, memory_cost_kib=8, parallelism=1)

MsgId = str | tuple[str, ...]


def _ids(catalog: Catalog) -> set[MsgId]:
    return {_flat(message.id) for message in catalog if message.id}


def _flat(value: str | tuple[str, ...] | list[str]) -> MsgId:
    return tuple(value) if isinstance(value, list | tuple) else value


def _strings(message: Message) -> tuple[str, ...]:
    value = message.string
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def _sources(message: Message) -> tuple[str, ...]:
    value = message.id
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def _short(message: Message) -> str:
    text = _sources(message)[0]
    return text if len(text) <= 70 else text[:67] + "..."


def _read_po(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _extract(out_dir: Path) -> Catalog:
    """Extract the sources as scripts/translations.sh does, into a template in out_dir."""
    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with BABEL_CFG.open() as handle:
        method_map, options_map = parse(handle)
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    template = Catalog(project="WBS Drop Box")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(REPO_ROOT), method_map, options_map, keywords=keywords, comment_tags=("TRANSLATORS:",)
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    pot = out_dir / "messages.pot"
    with pot.open("wb") as handle:
        write_po(handle, template, sort_by_file=True)
    return _read_po(pot)


@pytest.fixture(scope="module")
def po() -> Catalog:
    return _read_po(PO)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[MsgId]:
    ids = _ids(_extract(tmp_path_factory.mktemp("extract")))
    assert len(ids) > 100, "extraction found almost nothing: is babel.cfg still right?"
    return ids


def _msgstr(po: Catalog, msgid: str) -> str:
    message = po.get(msgid)
    assert message is not None and isinstance(message.string, str)
    return message.string


# -- the catalog ------------------------------------------------------------------------------


def test_header_is_indonesian_with_one_plural_form(po: Catalog) -> None:
    assert str(po.locale) == "id"
    assert po.plural_forms == "nplurals=1; plural=0;"
    assert not po.fuzzy, "the header is marked fuzzy: pybabel compile would skip the catalog"


def test_every_message_is_translated_and_none_is_fuzzy(po: Catalog) -> None:
    untranslated = [_short(m) for m in po if m.id and not all(_strings(m))]
    fuzzy = [_short(m) for m in po if m.id and m.fuzzy]
    assert not untranslated, f"untranslated: {untranslated}"
    assert not fuzzy, f"fuzzy (review, then drop the flag): {fuzzy}"
    plurals = [m for m in po if m.id and m.pluralizable]
    assert all(len(_strings(m)) == 1 for m in plurals), "Indonesian has exactly one plural form"


def test_catalog_holds_exactly_the_messages_in_the_sources(
    po: Catalog, extracted: set[MsgId]
) -> None:
    missing = sorted(map(str, extracted - _ids(po)))
    stale = sorted(map(str, _ids(po) - extracted))
    assert not missing, f"in the sources but not in messages.po (extract, update): {missing}"
    assert not stale, f"in messages.po but gone from the sources (extract, update): {stale}"


def test_committed_template_matches_the_sources(extracted: set[MsgId]) -> None:
    assert _ids(_read_po(POT)) == extracted, (
        "messages.pot is stale: scripts/translations.sh extract"
    )


def test_placeholders_are_kept_exactly(po: Catalog) -> None:
    wrong = []
    for message in po:
        if not message.id:
            continue
        # The English plural (the last msgid) is what Indonesian's single form stands for.
        wanted = sorted(PLACEHOLDER.findall(_sources(message)[-1]))
        for string in _strings(message):
            # Same names, each as often as in the English: none dropped, renamed or invented.
            if sorted(PLACEHOLDER.findall(string)) != wanted:
                wrong.append((_short(message), wanted, string))
    assert not wrong, f"placeholders differ: {wrong}"


def test_babel_format_checks_pass(po: Catalog) -> None:
    errors = [(_short(m), str(error)) for m in po if m.id for error in m.check(po)]
    assert not errors


def test_compiled_catalog_matches_the_po(po: Catalog) -> None:
    with MO.open("rb") as handle:
        mo = read_mo(handle)

    def entries(catalog: Catalog) -> dict[MsgId, MsgId]:
        return {_flat(m.id): _flat(m.string) for m in catalog if m.id and not m.fuzzy and m.string}

    assert entries(mo) == entries(po), "messages.mo is stale: scripts/translations.sh compile"
    assert mo.plural_forms == po.plural_forms


def test_key_terms_are_translated_consistently(po: Catalog) -> None:
    inconsistent = []
    for message in po:
        if not message.id:
            continue
        english = " ".join(_sources(message)).lower()
        indonesian = " ".join(_strings(message)).lower()
        for term, rendering in TERMS.items():
            if term in english and rendering not in indonesian:
                inconsistent.append((_short(message), rendering))
    assert not inconsistent, f"expected these terms: {inconsistent}"


def test_reader_is_addressed_formally(po: Catalog) -> None:
    informal = re.compile(r"\b(kamu|kau|engkau|anda|nama sandi|kata sandi)\b")
    # "anda" is matched case-sensitively: the formal pronoun is always written "Anda".
    found = [(_short(m), s) for m in po if m.id for s in _strings(m) if informal.search(s)]
    assert not found


# -- scripts/translations.sh ------------------------------------------------------------------


def _run_script(*args: str, translations: Path | None = None) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    env = {**os.environ, "PYTHON": sys.executable}
    if translations is not None:
        env["TRANSLATIONS_DIR"] = str(translations)
    return subprocess.run(
        [bash, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_script_check_passes_on_the_committed_catalog() -> None:
    result = _run_script("check")
    assert result.returncode == 0, result.stderr
    assert "all translated and compiled" in result.stdout


def _untranslate(catalog: Catalog) -> None:
    catalog["Send report"].string = ""


def _mark_fuzzy(catalog: Catalog) -> None:
    catalog["Send report"].flags.add("fuzzy")


def _rename_placeholder(catalog: Catalog) -> None:
    message = catalog["Your additional information for %(regno)s was received."]
    assert "%(regno)s" in str(message.string)
    message.string = str(message.string).replace("%(regno)s", "%(nomor)s")


def _drop_message(catalog: Catalog) -> None:
    catalog.delete("Send report")


@pytest.mark.parametrize(
    ("tamper", "complaint"),
    [
        (_untranslate, "untranslated"),
        (_mark_fuzzy, "fuzzy"),
        (_rename_placeholder, "placeholders differ"),
        (_drop_message, "missing"),
    ],
)
def test_script_check_fails_on_a_broken_catalog(
    tmp_path: Path, tamper: Callable[[Catalog], None], complaint: str
) -> None:
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy)
    po_copy = copy / PO.relative_to(TRANSLATIONS)
    catalog = _read_po(po_copy)
    tamper(catalog)
    with po_copy.open("wb") as handle:
        write_po(handle, catalog)
    result = _run_script("check", translations=copy)
    assert result.returncode == 1
    assert complaint in result.stderr
    # The .mo was not recompiled after the change: that is reported too.
    assert "does not match" in result.stderr


def test_script_rejects_unknown_commands() -> None:
    assert _run_script("translate-everything").returncode == 2


# -- the running site -------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    instance = inst.create(
        tmp_path / "data",
        [recipient_public_key(keytypes.new_recipient_identity())],
        [verify_public_key(keytypes.new_signing_key())],
    )
    box = DropBox(instance, CodenameDeriver(*instance.codename_salts(), params=FAST_KDF))
    box.setup()
    # CSRF is not what these tests are about; the upload forms still need their ticket.
    yield create_app(box, {"TESTING": True, "WTF_CSRF_ENABLED": False})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, path
    return html.unescape(response.get_data(as_text=True))


def _english_left_over(po: Catalog, page: str) -> list[str]:
    """Whole English sentences from the catalog that appear untranslated on the page."""
    leftovers = []
    for message in po:
        if not message.id or not isinstance(message.id, str) or "%(" in message.id:
            continue
        if len(message.id.split()) >= 3 and message.id in page and message.string != message.id:
            leftovers.append(message.id)
    return leftovers


def test_start_page_is_indonesian_by_default(client: FlaskClient, po: Catalog) -> None:
    response = client.get("/")
    page = html.unescape(response.get_data(as_text=True))
    assert response.headers["Content-Language"] == "id"
    assert '<html lang="id">' in page
    assert _msgstr(po, "Make a new report") in page
    assert _msgstr(po, "Report fraud and abuse of office, safely") in page
    assert _msgstr(po, "Whistleblowing System") in page
    assert "Make a new report" not in page
    assert not _english_left_over(po, page)


def test_lang_parameter_switches_to_english_and_back(client: FlaskClient, po: Catalog) -> None:
    english = _page(client, "/?lang=en")
    assert '<html lang="en">' in english
    assert "Make a new report" in english
    assert "Report fraud and abuse of office, safely" in english
    assert _msgstr(po, "Make a new report") not in english
    # The choice is kept for the rest of the visit.
    login = _page(client, "/login")
    assert "Log in with your codename" in login
    assert "No codename yet?" in login
    indonesian = _page(client, "/?lang=id")
    assert '<html lang="id">' in indonesian
    assert _msgstr(po, "Make a new report") in indonesian


def _report(client: FlaskClient, files: int, new_codename: bool = True) -> str:
    """Go through /generate, /confirm, /create (unless logged in already) and /submit; returns
    the thank-you page the submission redirects to."""
    if new_codename:
        new_source(client)
    form = _page(client, "/submit")
    data: dict[str, object] = {
        "category": "corruption",
        "relation": "public",
        "what": "Pungutan di loket pelayanan.",
        "files": [(io.BytesIO(b"bukti %d" % n), f"bukti{n}.txt") for n in range(files)],
    }
    response = client.post(
        form_action(form, "/submit"), data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 303 and response.location.endswith("/thanks")
    return _page(client, "/thanks")


def test_reporting_in_indonesian_shows_no_english(client: FlaskClient, po: Catalog) -> None:
    pages = {
        "/": _page(client, "/"),
        "/generate": _page(client, "/generate"),
        "/login": _page(client, "/login"),
        "404": _page(client, "/no-such-page", 404),
    }
    assert _msgstr(po, "This page does not exist.") in pages["404"]
    assert _msgstr(po, "Your codename") in pages["/generate"]
    pending = re.search(r'name="pending" value="([^"]+)"', pages["/generate"])
    assert pending is not None
    confirm = client.post("/confirm", data={"pending": pending.group(1)})
    assert confirm.status_code == 200
    pages["/confirm"] = html.unescape(confirm.get_data(as_text=True))
    assert _msgstr(po, "Check your codename") in pages["/confirm"]
    thanks = _report(client, files=2)
    pages["thanks"] = thanks
    assert _msgstr(po, "Register number") in thanks
    assert "2 berkas telah dilampirkan." in thanks
    pages["/submit"] = _page(client, "/submit")
    assert _msgstr(po, "Send report") in pages["/submit"]
    pages["/lookup"] = _page(client, "/lookup")
    assert _msgstr(po, "Status history") in pages["/lookup"]
    received = "Thank you for your report. The Inspectorate will respond within 30 days."
    assert _msgstr(po, received) in pages["/lookup"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', pages["/lookup"])
    assert token is not None
    logout = client.post("/logout", data={"csrf_token": token.group(1)})
    assert logout.status_code == 303
    pages["/logout"] = _page(client, logout.location)
    assert _msgstr(po, "You are logged out") in pages["/logout"]
    leftovers = {name: _english_left_over(po, page) for name, page in pages.items()}
    assert not any(leftovers.values()), leftovers


def test_reporting_in_english_uses_english_plurals(client: FlaskClient) -> None:
    client.get("/?lang=en")
    assert "1 file was attached." in _report(client, files=1)
    assert "2 files were attached." in _report(client, files=2, new_codename=False)


def test_form_errors_from_python_code_are_translated(client: FlaskClient, po: Catalog) -> None:
    new_source(client)
    form = _page(client, "/submit")
    response = client.post(
        form_action(form, "/submit"),
        data={"what": ""},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert _msgstr(po, "Please choose a category.") in page
    assert _msgstr(po, "This field is required.") in page
    assert _msgstr(po, "Please correct the fields marked below.") in page
    assert not _english_left_over(po, page)
