"""What reporters read for the protocol's machine names (keys.records): statuses, categories and
their relation to the ministry. English is the msgid; Indonesian is in the site's catalog."""

from __future__ import annotations

from flask_babel import lazy_gettext

STATUS_LABELS = {
    "received": lazy_gettext("Received"),
    "verifying": lazy_gettext("Being verified"),
    "needs_info": lazy_gettext("More information needed"),
    "investigating": lazy_gettext("Under investigation"),
    "forwarded": lazy_gettext("Forwarded to the competent authority"),
    "closed": lazy_gettext("Closed"),
    "rejected": lazy_gettext("Cannot be followed up"),
}
CATEGORY_LABELS = {
    "corruption": lazy_gettext("Corruption"),
    "bribery": lazy_gettext("Bribery / gratification"),
    "extortion": lazy_gettext("Extortion"),
    "embezzlement": lazy_gettext("Embezzlement"),
    "procurement_fraud": lazy_gettext("Procurement fraud"),
    "conflict_of_interest": lazy_gettext("Conflict of interest"),
    "abuse_of_authority": lazy_gettext("Abuse of authority"),
    "code_of_conduct": lazy_gettext("Code-of-conduct violation"),
    "poor_service": lazy_gettext("Poor public service"),
    "other": lazy_gettext("Other"),
}
RELATION_LABELS = {
    "employee": lazy_gettext("Ministry employee or official"),
    "public": lazy_gettext("Member of the public"),
}
