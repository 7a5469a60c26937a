"""The statistics page and the compliance figures' spreadsheet (CSV) for the ministry's reports.

The figures are journalist_console/statistics.py's (what the console holds now) and
compliance.py's (per month and category, by the 30-day rule, kept when retention removes the
reports). The page and the CSV are made from the same figures and the same column headings.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Response, render_template

from journalist_console import compliance, dates, retention, statistics
from journalist_console.web.state import (
    acting_admin,
    category_label,
    current_session,
    serialised,
    status_label,
    translated,
)

blueprint = Blueprint("figures", __name__)


@blueprint.get("/stats")
@serialised
def stats_page() -> Any:
    session = current_session()
    figures = compliance.figures(session)
    return render_template(
        "stats.html",
        stats=statistics.stats(session),
        figures=figures,
        columns=[translated(t) for t in compliance.header(figures.due_days, status_label)],
        finals=compliance.FINALS,
        today=dates.today(),
        retention=retention.overview(session) if acting_admin() else None,
    )


@blueprint.get("/stats/compliance.csv")
@serialised
def compliance_csv() -> Any:
    session = current_session()
    out = io.StringIO()
    compliance.write_csv(out, compliance.figures(session), translated, category_label, status_label)
    response = Response(out.getvalue(), mimetype="text/csv")
    name = f"wbs-compliance-{dates.today().isoformat()}.csv"
    response.headers.set("Content-Disposition", "attachment", filename=name)
    return response
