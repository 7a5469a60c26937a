"""Filing and following a report: /submit, /thanks, /lookup, /followup, /reply/delete.

Every form is answered with a redirect to a page (POST, then GET): Back and Reload show a page,
never a form to send again, and the register number lives in the session, not in the browser's
history. The upload forms' tickets are single-use and checked before the body is read
(dropbox/source/guards.py). Files of a form sent back for correction are kept, encrypted, for the
corrected form (bound to its ticket, gone with the session).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext, ngettext
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from dropbox import forms
from dropbox.i18n import current_language
from dropbox.labels import CATEGORY_LABELS, RELATION_LABELS, STATUS_LABELS
from dropbox.report_views import ReportView
from dropbox.service import EncryptedUpload, SourceGone
from dropbox.source.guards import (
    dropbox,
    issue_ticket,
    login_required,
    pages,
    process_key,
    refuse,
    sessions,
    take_ticket,
)
from dropbox.templating import PageCache
from dropbox.uploads import keep, pending_uploads
from keys import codename


def register(routes: Blueprint) -> None:
    routes.add_url_rule("/submit", view_func=submit, methods=["GET"])
    routes.add_url_rule("/submit", view_func=submit_post, methods=["POST"])
    routes.add_url_rule("/thanks", view_func=thanks)
    routes.add_url_rule("/lookup", view_func=lookup)
    routes.add_url_rule("/followup", view_func=followup, methods=["POST"])
    routes.add_url_rule("/reply/delete", view_func=confirm_delete, methods=["GET"])
    routes.add_url_rule("/reply/delete", view_func=delete_reply, methods=["POST"])


# -- a new report ----------------------------------------------------------------------------------


@login_required
def submit() -> Any:
    return _report_form({}, {}, [], 200)


def _report_form(
    values: dict[str, str], errors: dict[str, str], kept: list[EncryptedUpload], status: int
) -> Any:
    ticket = issue_ticket("report", kept=list(kept))
    can_show_codename = bool(session.get("first_codename"))

    def render(ticket: str, **extra: Any) -> str:
        return render_template(
            "submit.html",
            values=values,
            errors=errors,
            kept=len(kept),
            limits=forms.TEXT_LIMITS,
            can_show_codename=can_show_codename,
            categories=CATEGORY_LABELS,
            relations=RELATION_LABELS,
            action=url_for("source.submit_post", ticket=ticket),
            honeypot=forms.HONEYPOT_FIELD,
            **extra,
        )

    if values or errors or kept or "_flashes" in session:
        return render(ticket), status
    # The empty form is the same for every source but for its ticket and anti-forgery token.
    page = pages().page(
        ("submit", current_language(), can_show_codename),
        lambda: render(PageCache.marker("ticket"), csrf_token=lambda: PageCache.marker("csrf")),
        {"ticket": ticket, "csrf": generate_csrf()},
    )
    return page, status


def submit_post() -> Any:
    ticket = take_ticket("report")  # before anything of the body is read
    uploads = [*ticket.kept, *_new_uploads()]
    _check_total_size(uploads)
    if forms.honeypot_filled(request.form):
        abort(400)
    result = forms.validate_report(request.form)
    if result.ok:
        field = _field_with_codename(result.values)
        if field is not None:
            result.errors[field] = gettext(
                "Do not write your codename in the report: it is your only key to your reports."
            )
    if not result.ok:
        return _report_form(result.values, result.errors, keep(uploads), 400)
    fields = {
        name: result.values.get(name, "")
        for name in ("category", "relation", *forms.CRITERIA, "message", "pseudonym", "contact")
    }
    fields["language"] = current_language()
    try:
        regno = dropbox().file_report(session["source_id"], fields, uploads)
    except SourceGone:
        _end_forgotten_session()
    session["last_filed"] = {"regno": regno, "files": len(uploads)}
    return redirect(url_for("source.thanks"), code=303)


@login_required
def thanks() -> Any:
    last = session.get("last_filed")
    if not last:
        return redirect(url_for("source.lookup"), code=303)
    return render_template("thanks.html", regno=last["regno"], files=last["files"])


# -- the reporter's reports ------------------------------------------------------------------------


@login_required
def lookup() -> str:
    kept_views = _current_views()
    waiting = session.get("followup_kept", {})
    tickets = {}
    for report in kept_views.reports:
        kept = waiting.get(report.regno)
        tickets[report.regno] = kept["ticket"] if kept else issue_ticket("followup", report.regno)
    if any(waiting.get(regno) for regno in tickets):
        # A form with files kept from a refused try says so: rendered for this request only.
        cards = _cards(
            kept_views.reports,
            {
                regno: (url_for("source.followup", ticket=ticket), _kept_files(waiting, regno))
                for regno, ticket in tickets.items()
            },
        )
    else:
        cards = PageCache.fill(
            _kept_cards(kept_views),
            {f"ticket{index}": tickets[r.regno] for index, r in enumerate(kept_views.reports)},
        )
    # Rendered by Jinja with autoescaping, the filled tickets escaped too (PageCache.fill).
    return render_template("lookup.html", cards=Markup(cards))  # noqa: S704 - Jinja-rendered and autoescaped; only escaped tickets are filled in


def _kept_files(waiting: dict[str, Any], regno: str) -> int:
    kept = waiting.get(regno)
    return int(kept["files"]) if kept else 0


def _kept_cards(kept_views: KeptViews) -> str:
    """The session's report cards in the current language, rendered once per views
    generation, each follow-up form's ticket a marker `ticket<N>` (N: the report's position)."""
    language = current_language()
    if language not in kept_views.cards:
        kept_views.cards[language] = _cards(
            kept_views.reports,
            {
                report.regno: (
                    url_for("source.followup", ticket=PageCache.marker(f"ticket{index}")),
                    0,
                )
                for index, report in enumerate(kept_views.reports)
            },
        )
    return kept_views.cards[language]


def _cards(reports: list[ReportView], followup_forms: dict[str, tuple[str, int]]) -> str:
    return render_template(
        "_report_cards.html",
        reports=reports,
        statuses=STATUS_LABELS,
        categories=CATEGORY_LABELS,
        followup_limit=forms.FOLLOWUP_LIMIT,
        followup_forms=followup_forms,
    )


@dataclass
class KeptViews:
    """A session's decrypted reports as of one views generation, and their report cards as
    rendered per language (each follow-up form's ticket a marker, filled in per request)."""

    source_id: str
    generation: int
    reports: list[ReportView]
    cards: dict[str, str] = field(default_factory=dict)


def _current_views() -> KeptViews:
    """The source's reports as /lookup shows them. Unsealing every reply, and rendering them,
    costs more than the rest of the page, so both stay in the session (which already holds the
    key that opens them, and is dropped at logout and expiry) for as long as the database's
    views generation has not moved: a new reply or status, a follow-up, a deletion moves it."""
    source_id = session["source_id"]
    kept = session.get("views")
    if (
        isinstance(kept, KeptViews)
        and kept.source_id == source_id
        and kept.generation == dropbox().views_generation()
    ):
        return kept
    generation, reports = dropbox().reports_for(source_id, session["source_key"])
    fresh = KeptViews(source_id, generation, reports)
    session["views"] = fresh
    return fresh


def followup() -> Any:
    ticket = take_ticket("followup")
    regno = ticket.regno
    _forget_kept_followup(regno)
    uploads = [*ticket.kept, *_new_uploads()]
    _check_total_size(uploads)
    result = forms.validate_followup(request.form, bool(uploads))
    if result.ok and _field_with_codename(result.values) is not None:
        result.errors["message"] = gettext("Do not write your codename in a message.")
    if not result.ok:
        for message in result.errors.values():
            flash(message, "error")
        if uploads:
            again = issue_ticket("followup", regno=regno, kept=keep(uploads))
            session.setdefault("followup_kept", {})[regno] = {
                "ticket": again,
                "files": len(uploads),
            }
            session.modified = True
        return redirect(url_for("source.lookup", _anchor=f"report-{regno}"), code=303)
    try:
        dropbox().add_followup(
            session["source_id"], regno, result.values.get("message", ""), uploads
        )
    except SourceGone:
        _end_forgotten_session()
    except LookupError:
        abort(404)
    flash(gettext("Your additional information for %(regno)s was received.", regno=regno))
    if uploads:
        flash(ngettext("%(num)s file was attached.", "%(num)s files were attached.", len(uploads)))
    return redirect(url_for("source.lookup", _anchor=f"report-{regno}"), code=303)


def _forget_kept_followup(regno: str) -> None:
    kept = session.get("followup_kept", {})
    if regno in kept:
        del kept[regno]
        session.modified = True


# -- deleting a reply ------------------------------------------------------------------------------


@login_required
def confirm_delete() -> Any:
    """Deleting cannot be undone: this page asks first."""
    reply_id = request.args.get("reply_id", "")
    if len(reply_id) != 32 or not all(c in "0123456789abcdef" for c in reply_id):
        abort(404)
    return render_template("confirm_delete.html", reply_id=reply_id)


@login_required
def delete_reply() -> BaseResponse:
    reply_id = request.form.get("reply_id", "")
    if request.form.get("confirm") != "yes":
        return redirect(url_for("source.confirm_delete", reply_id=reply_id), code=303)
    if len(reply_id) != 32 or not dropbox().delete_reply(session["source_id"], reply_id):
        flash(gettext("That reply could not be found. It may already have been deleted."), "error")
    else:
        flash(gettext("The reply was deleted."))
    return redirect(url_for("source.lookup"), code=303)


# -- shared ----------------------------------------------------------------------------------------


def _new_uploads() -> list[EncryptedUpload]:
    """The files of this request, each encrypted as it arrived. A body that ends inside a file
    (a connection cut mid-upload, a forged body) makes the parser stop without an error, after
    the file's envelope was started: such a request is refused whole, or the cut-off file would
    be stored as if it were complete."""
    # Reading request.files runs the multipart parser, which encrypts each file as it arrives.
    parsed = {id(storage.stream) for storage in request.files.getlist("files")}
    started = list(pending_uploads())
    if any(id(upload) not in parsed for upload in started):
        abort(400)
    return started


def _check_total_size(uploads: list[EncryptedUpload]) -> None:
    """The limit is for the attachments together; the body limit adds room for the form."""
    if sum(upload.size for upload in uploads) > dropbox().instance.upload_limit:
        for upload in uploads:
            upload.discard()
        abort(413)


def _field_with_codename(values: dict[str, str]) -> str | None:
    """The first field that holds the reporter's own codename anywhere in its text."""
    tag = session.get("codename_tag")
    if tag is None:
        return None
    key = process_key("codename_tag_key")
    for name, text in values.items():
        if codename.contains_codename(text, tag, key):
            return name
    return None


def _end_forgotten_session() -> NoReturn:
    sessions().destroy(session)
    refuse(
        410,
        gettext(
            "Your codename no longer exists: a codename with no report is removed after a day. "
            "Nothing you sent now was kept. Please start again with a new codename."
        ),
    )


UPLOAD_VIEWS = (submit_post, followup)
