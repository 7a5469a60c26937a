"""The source site's routes, by feature; they orchestrate, and the work is done in
dropbox/service.py (storage), keys/ (cryptography) and dropbox/sessions.py (memory).

    codenames.py   /, /generate, /confirm, /create, /codename, /login, /logout, /logged-out
    reports.py     /submit, /thanks, /lookup, /followup, /reply/delete
    meta.py        /metadata, /robots.txt, /favicon.ico
    guards.py      who is asking and may they: sessions, tickets, visitor-bound forms

Session values (memory only, dropbox/sessions.py), for logged-in sources only:
    source_id       the logged-in source's id
    source_key      the source's X25519 private key, derived from the codename
    codename_tag    keyed hash of the normalised codename, to refuse a report that contains it
    first_codename  the codename itself, during the session that created it (shown again on
                    request; gone at logout or expiry, like the key)
    last_filed      register number and file count of the report just filed (the thank-you page)
"""

from __future__ import annotations

from flask import Blueprint

from dropbox.source import codenames, meta, reports

UPLOAD_VIEWS = reports.UPLOAD_VIEWS
ANONYMOUS_FORM_VIEWS = codenames.ANONYMOUS_FORM_VIEWS


def blueprint() -> Blueprint:
    routes = Blueprint("source", __name__)
    codenames.register(routes)
    reports.register(routes)
    meta.register(routes)
    return routes
