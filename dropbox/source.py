"""The source routes. They orchestrate: sessions and tickets here, work in dropbox/service.py.

Session keys (memory only, see dropbox/sessions.py):
    lang            "id" or "en"
    pending_codename the codename shown by /generate, until /create (then dropped)
    source_id       the logged-in source's id
    source_key      the source's X25519 private key, derived from the codename at /create or /login
    codename_tag    keyed hash of the normalised codename, to refuse a report that contains it
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, TypeVar, cast

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from dropbox import forms
from dropbox.i18n import LANGUAGES, current_language
from dropbox.labels import CATEGORY_LABELS, RELATION_LABELS, STATUS_LABELS
from dropbox.service import DropBox, EncryptedUpload
from dropbox.uploads import pending_uploads
from keys import codename, tokens
from keys.errors import CodenameError, KdfBusy
from keys.records import normalize_regno

blueprint = Blueprint("source", __name__)
F = TypeVar("F", bound=Callable[..., Any])
APP_NAME = "WBS Drop Box"
APP_VERSION = "0.1.0"


def _dropbox() -> DropBox:
    return cast(DropBox, current_app.extensions["dropbox"])


@blueprint.before_app_request
def choosecurrent_language() -> None:
    requested = request.args.get("lang")
    if requested is None:
        return
    if requested not in LANGUAGES:
        abort(400, description="unknown language")
    session["lang"] = requested


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not session.get("source_id"):
            flash(gettext("Please log in with your codename first."))
            return redirect(url_for("source.login"))
        return view(*args, **kwargs)

    return cast(F, wrapper)


def _upload_ticket(source_id: str) -> str:
    key = current_app.extensions["upload_ticket_key"]
    return tokens.issue(key, source_id, current_app.config["UPLOAD_TICKET_SECONDS"])


def _refuse(code: int, message: str) -> NoReturn:
    abort(Response(render_template("error.html", code=code, message=message), code))


def _ticket_source() -> str:
    """The source an upload form belongs to; its ticket is also the form's CSRF token."""
    ticket = request.form.get("ticket", "")
    source_id = tokens.check(current_app.extensions["upload_ticket_key"], ticket)
    if source_id is None:
        _refuse(
            400,
            gettext(
                "This form has expired or was not sent from this site. Please log "
                "in again with your codename and send it once more."
            ),
        )
    return source_id


def _check_total_size(uploads: list[EncryptedUpload]) -> None:
    """The limit is for the attachments together; the body limit adds room for the form."""
    if sum(upload.size for upload in uploads) > _dropbox().instance.upload_limit:
        abort(413)


def _derive_or_fail(codename_text: str) -> codename.SourceSecrets:
    try:
        return _dropbox().derive(codename_text)
    except KdfBusy:
        abort(503)


def _remember_login(source_id: str, secrets_: codename.SourceSecrets, codename_text: str) -> None:
    language = session.get("lang")
    session.clear()
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]
    if language:
        session["lang"] = language
    session["source_id"] = source_id
    session["source_key"] = secrets_.private_key
    session["codename_tag"] = codename.codename_tag(
        codename_text, current_app.extensions["codename_tag_key"]
    )


def _repeats_codename(*texts: str) -> bool:
    tag = session.get("codename_tag")
    if tag is None:
        return False
    for text in texts:
        try:
            if codename.codename_tag(text, current_app.extensions["codename_tag_key"]) == tag:
                return True
        except CodenameError:
            continue
    return False


def _uploaded_files() -> list[EncryptedUpload]:
    # Reading request.files runs the multipart parser, which encrypts each file as it arrives.
    request.files.getlist("files")
    return list(pending_uploads())


@blueprint.route("/")
def index() -> str:
    return render_template("index.html")


@blueprint.route("/generate")
def generate() -> str:
    language = cast(codename.Language, current_language())
    new_codename = codename.generate(language)
    session["pending_codename"] = new_codename
    return render_template("generate.html", codename=new_codename)


@blueprint.route("/create", methods=["POST"])
def create() -> BaseResponse:
    pending = session.get("pending_codename")
    if not pending:
        flash(gettext("Your session expired before you continued. Here is a new codename."))
        return redirect(url_for("source.generate"))
    secrets_ = _derive_or_fail(pending)
    source_id = _dropbox().create_source(secrets_)
    _remember_login(source_id, secrets_, pending)
    return redirect(url_for("source.submit"))


@blueprint.route("/submit", methods=["GET"])
@login_required
def submit() -> Any:
    return _report_form(session["source_id"], {}, {})


def _report_form(
    source_id: str, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Any:
    page = render_template(
        "submit.html",
        values=values,
        errors=errors,
        categories=CATEGORY_LABELS,
        relations=RELATION_LABELS,
        ticket=_upload_ticket(source_id),
        honeypot=forms.HONEYPOT_FIELD,
    )
    return (page, status) if status != 200 else page


@blueprint.route("/submit", methods=["POST"])
def submit_post() -> Any:
    source_id = _ticket_source()
    uploads = _uploaded_files()
    _check_total_size(uploads)
    if forms.honeypot_filled(request.form):
        abort(400)
    result = forms.validate_report(request.form)
    if result.ok and _repeats_codename(*result.values.values()):
        result.errors["what"] = gettext(
            "Do not write your codename in the report: it is your only key to your reports."
        )
    if not result.ok:
        # The form comes back with a fresh ticket for the same source, even if the session
        # expired during a slow upload; the session itself is not revived.
        if uploads:
            flash(
                gettext(
                    "Attachments are not kept when the form has errors: please choose them again."
                )
            )
        return _report_form(source_id, result.values, result.errors, 400)
    fields = {
        name: result.values.get(name, "")
        for name in ("category", "relation", *forms.CRITERIA, "message", "pseudonym", "contact")
    }
    fields["language"] = current_language()
    regno = _dropbox().file_report(source_id, fields, uploads)
    return render_template(
        "thanks.html", regno=regno, files=len(uploads), logged_in_now=bool(session.get("source_id"))
    )


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", error=None)
    entered = request.form.get("codename", "")
    error = gettext("That codename was not recognised. Check the words and try again.")
    try:
        codename.normalize(entered)
    except CodenameError:
        return render_template("login.html", error=error), 400
    secrets_ = _derive_or_fail(entered)
    source_id = _dropbox().find_source(secrets_.lookup_id)
    if source_id is None:
        return render_template("login.html", error=error), 400
    _remember_login(source_id, secrets_, entered)
    return redirect(url_for("source.lookup"))


@blueprint.route("/lookup")
@login_required
def lookup() -> str:
    reports = _dropbox().reports_for(session["source_id"], session["source_key"])
    return render_template(
        "lookup.html",
        reports=reports,
        statuses=STATUS_LABELS,
        ticket=_upload_ticket(session["source_id"]),
    )


@blueprint.route("/followup", methods=["POST"])
def followup() -> Any:
    source_id = _ticket_source()
    uploads = _uploaded_files()
    _check_total_size(uploads)
    regno = normalize_regno(request.form.get("regno", ""))
    if regno is None or not _dropbox().owns_report(source_id, regno):
        abort(404)
    result = forms.validate_followup(request.form, bool(uploads))
    if result.ok and _repeats_codename(result.values.get("message", "")):
        result.errors["message"] = gettext("Do not write your codename in a message.")
    if not result.ok:
        for message in result.errors.values():
            flash(message, "error")
        return redirect(url_for("source.lookup")) if session.get("source_id") else abort(400)
    _dropbox().add_followup(source_id, regno, result.values.get("message", ""), uploads)
    flash(gettext("Your additional information for %(regno)s was received.", regno=regno))
    if session.get("source_id"):
        return redirect(url_for("source.lookup"))
    return render_template(
        "thanks.html", regno=regno, files=len(uploads), followup=True, logged_in_now=False
    )


@blueprint.route("/reply/delete", methods=["POST"])
@login_required
def delete_reply() -> Any:
    reply_id = request.form.get("reply_id", "")
    if request.form.get("confirm") != "yes":
        # Deleting cannot be undone: the first press asks, the second one deletes.
        return render_template("confirm_delete.html", reply_id=reply_id)
    if len(reply_id) != 32 or not _dropbox().delete_reply(session["source_id"], reply_id):
        flash(gettext("That reply could not be found. It may already have been deleted."), "error")
    else:
        flash(gettext("The reply was deleted."))
    return redirect(url_for("source.lookup"))


@blueprint.route("/logout", methods=["POST"])
def logout() -> str:
    language = session.get("lang")
    current_app.session_interface.destroy(session)  # type: ignore[attr-defined]
    if language:
        session["lang"] = language
    return render_template("logout.html")


@blueprint.route("/metadata")
def metadata() -> Response:
    instance = _dropbox().instance
    return jsonify(
        name=APP_NAME,
        version=APP_VERSION,
        languages=list(LANGUAGES),
        default_language="id",
        recipient_fingerprints=[key.fingerprint for key in instance.recipients],
        upload_limit_bytes=instance.upload_limit,
    )


@blueprint.route("/favicon.ico")
def favicon() -> Response:
    # Browsers ask for it on every page; an empty answer avoids a 404 page each time.
    return Response(status=204)


@blueprint.route("/robots.txt")
def robots() -> Response:
    return Response("User-agent: *\nDisallow: /\n", mimetype="text/plain")
