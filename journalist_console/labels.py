"""What people read for the protocol's machine names (keys.records) and the console's roles.

English here (the command line prints it); Indonesian in the console's catalog. The source site
keeps its own labels (dropbox/labels.py): each interface owns its catalog.
"""

from __future__ import annotations

from journalist_console.texts import Text

STATUS_LABELS: dict[str, Text] = {
    "received": Text("Received"),
    "verifying": Text("Being verified"),
    "needs_info": Text("More information needed"),
    "investigating": Text("Under investigation"),
    "forwarded": Text("Forwarded to the competent authority"),
    "closed": Text("Closed"),
    "rejected": Text("Cannot be followed up"),
}
CATEGORY_LABELS: dict[str, Text] = {
    "corruption": Text("Corruption"),
    "bribery": Text("Bribery / gratification"),
    "extortion": Text("Extortion"),
    "embezzlement": Text("Embezzlement"),
    "procurement_fraud": Text("Procurement fraud"),
    "conflict_of_interest": Text("Conflict of interest"),
    "abuse_of_authority": Text("Abuse of authority"),
    "code_of_conduct": Text("Code-of-conduct violation"),
    "poor_service": Text("Poor public service"),
    "other": Text("Other"),
}
RELATION_LABELS: dict[str, Text] = {
    "employee": Text("Ministry employee or official"),
    "public": Text("Member of the public"),
}
ROLE_LABELS: dict[str, Text] = {
    "admin": Text("administrator"),
    "investigator": Text("investigator"),
}
STANDARD_TEXT_LABELS: dict[str, Text] = {
    "acknowledgement": Text("Acknowledgement"),
    "more_information": Text("Request for more information"),
    "forwarded": Text("Forwarded"),
    "closed": Text("Closed"),
}
UNREADABLE = Text("unreadable")  # a report whose category could not be read
NOT_GIVEN = Text("(not given)")
