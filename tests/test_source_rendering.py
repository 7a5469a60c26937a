"""Templates compiled once per language with their constant texts translated
(dropbox/templating.py) give byte for byte the pages that translating at render time gives: the
same site served by two applications, one compiling as usual, compared page by page in both
languages (the values that are random per process or per page made equal first)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from dropbox.app import create_app
from support.bundles import Response, import_responses, reply_item, status_item
from support.http import FlaskAgent
from support.instances import Site, make_site
from support.pages import Report, Reporter, element_text, hidden, notices

RANDOM = [
    (re.compile(r'(name="(?:token|pending|csrf_token)" value=")[^"]*"'), r'\1R"'),
    (re.compile(r"ticket=[A-Za-z0-9_-]+"), "ticket=R"),
    (re.compile(r'(id="codename">)[^<]*<'), r"\1R<"),
    (re.compile(r'name="word\d+"|id="word\d+"|for="word\d+"'), "word"),
    (re.compile(r"(Kata ke-|Word number )\d+"), r"\1N"),
]


def same(page: str) -> str:
    for pattern, replacement in RANDOM:
        page = pattern.sub(replacement, page)
    return page


@pytest.fixture
def two(tmp_path: Path) -> tuple[Site, FlaskAgent, FlaskAgent, str]:
    site = make_site(tmp_path)
    reference = create_app(site.box)
    reference.jinja_env.translations_dir = None  # type: ignore[attr-defined]
    reporter = Reporter(site.client())
    codename = reporter.start()
    regno = reporter.file_report()
    day = dt.date.today().isoformat()
    import_responses(
        site,
        [
            Response("status", regno, day, status_item(site, regno, "needs_info", "Ruang 301?")),
            Response("reply", regno, day, reply_item(site, regno, "Terima kasih 100%.")),
        ],
        tmp_path,
    )
    return site, FlaskAgent(site.app), FlaskAgent(reference), codename


@pytest.mark.parametrize("language", ["id", "en"])
def test_pages_are_byte_for_byte_what_render_time_translation_gives(
    two: tuple[Site, FlaskAgent, FlaskAgent, str], language: str
) -> None:
    _site, fast, slow, codename = two
    compared = 0
    for agent in (fast, slow):
        agent.get(f"/?lang={language}")
    for path in ("/", "/generate", "/login", "/logged-out", "/tidak-ada", "/robots.txt"):
        assert same(fast.get(path).text) == same(slow.get(path).text), path
        compared += 1
    pages = []
    for agent in (fast, slow):
        reporter = Reporter(agent)
        reporter.generate()
        confirm = reporter.confirm_page().text
        wrong = reporter.create({"word1": "x", "word2": "y"}).text
        assert reporter.login(codename).status == 303
        form = reporter.open_form().text
        errors = reporter.submit(Report(what=""), [("a.txt", b"isi")]).text
        lookup = reporter.lookup().text
        pages.append([confirm, wrong, form, errors, lookup])
    for ours, theirs in zip(*pages, strict=True):
        assert same(ours) == same(theirs)
        compared += 1
    assert compared == 11


def test_pages_kept_in_memory_carry_each_visitors_own_ticket_and_token(tmp_path: Path) -> None:
    """The landing page, the login page and the empty report form are rendered once and kept;
    what belongs to one visitor (the form's ticket, the anti-forgery token, the login token, a
    notice) must never be served to another, and each kept form must still work."""
    site = make_site(tmp_path)
    first, second = Reporter(site.client()), Reporter(site.client())
    for reporter in (first, second):
        reporter.start("en")
    assert first.action != second.action and first.csrf != second.csrf
    again = first.open_form()
    assert first.action != second.action and "WBSFILL" not in again.text
    assert same(again.text) == same(second.open_form().text)
    for reporter in (first, second):
        reporter.file_report()
    tokens = {Reporter(site.client()).login_page().text for _ in range(3)}
    assert len({hidden(page, "token") for page in tokens}) == 3
    assert all("WBSFILL" not in page for page in tokens)
    # A wrong codename's message is never kept for the next visitor's login page.
    late = Reporter(site.client())
    refused = late.login("salah salah salah salah salah salah salah")
    assert refused.status in (200, 400, 401)
    assert notices(refused.text) and not notices(late.login_page().text)
    landing = [site.client().get("/").text for _ in range(2)]
    assert landing[0] == landing[1] and "WBSFILL" not in landing[0]


def test_the_kept_codename_page_gives_each_visitor_their_own_codename(tmp_path: Path) -> None:
    """The codename page is kept too, with the codename and its sealed token filled in per
    visitor: two visitors never see the same codename, the page is what rendering it for that
    visitor gives, and the kept page's token creates that very codename."""
    site = make_site(tmp_path)
    first, second = Reporter(site.client()), Reporter(site.client())
    pages = []
    for reporter in (first, second):
        reporter.generate()
        pages.append(reporter.agent.get("/generate").text)  # the kept page, twice each
    assert first.codename != second.codename and first.pending != second.pending
    assert all("WBSFILL" not in page for page in pages)
    shown = {element_text(page, "codename") for page in pages}
    assert len(shown) == 2 and not shown & {first.codename, second.codename}
    fresh = Reporter(site.client()).agent.get("/generate?lang=id").text  # rendered, not kept
    assert same(pages[0]) == same(fresh)
    first.generate()
    assert first.create().status == 303
    assert "WBSFILL" not in first.open_form().text
