"""The standard texts page: administrators keep the texts the Respond card starts from.

Everyone may read the page; changing a text is journalist_console/standard_texts.py's, which
refuses anyone but an administrator (a 403 page).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from journalist_console import standard_texts
from journalist_console.errors import ConsoleError, NotPermitted
from journalist_console.web.state import current_session, error_text, gettext, serialised

blueprint = Blueprint("texts", __name__)


def _page(code: int = 200, error: str | None = None, typed: dict[str, str] | None = None) -> Any:
    return render_template(
        "texts.html",
        texts=standard_texts.all_texts(current_session()),
        max_chars=standard_texts.MAX_CHARS,
        error=error,
        typed=typed or {},
    ), code


@blueprint.get("/texts")
@serialised
def texts() -> Any:
    return _page()


@blueprint.post("/texts/<name>/<language>")
@serialised
def change(name: str, language: str) -> Any:
    if name not in standard_texts.NAMES or language not in standard_texts.LANGUAGES:
        abort(404)
    body = request.form.get("body", "")
    try:
        if request.form.get("action") == "reset":
            standard_texts.reset(current_session(), name, language)
        else:
            standard_texts.set_text(current_session(), name, language, body)
    except NotPermitted:
        raise
    except ConsoleError as exc:
        return _page(400, error_text(exc), {f"{name}-{language}": body})
    flash(gettext("The standard text was saved."), "ok")
    return redirect(url_for("texts.texts") + f"#text-{name}-{language}")
