"""The console database's tables, as SQL: every table the console has and, for each schema
version after the first, the part it added (journalist_console/schema.py creates a new database
from SCHEMA and brings an older one up to date with the parts, one version at a time).

Times: days everywhere, except the audit log, which records when an investigator acted.
"""

SCHEMA_VERSION = 6

RETAINED_SCHEMA = """
-- Entries that retention removed (schema version 3): their random ids and the hash of their
-- envelope, nothing that names a report. A copy the server sends again (an `export --all` that
-- crossed the acknowledgement) is acknowledged again instead of bringing the report back.
-- ack_seq: the export that last acknowledged it (NULL: to be acknowledged in the next one).
CREATE TABLE IF NOT EXISTS retained (
    entry_id  TEXT PRIMARY KEY,
    sha256    TEXT NOT NULL,
    ack_seq   INTEGER
);
"""

DESK_SCHEMA = """
-- What the compliance figures keep of the reports retention removed (schema version 4): counts
-- only, by month of receipt, cached category ('' when it was unreadable), the final status it had
-- and the days from receipt to its first answer (NULL: never answered). Nothing names a report;
-- the reports still held are counted from their own rows (journalist_console/compliance.py).
CREATE TABLE compliance_removed (
    month          TEXT NOT NULL,
    category       TEXT NOT NULL,
    final_status   TEXT NOT NULL,
    response_days  INTEGER,
    reports        INTEGER NOT NULL
);
-- What an investigator typed on a report page and has not sent yet: kept when the console locks
-- under them (or they send another form of the page) and offered back on the report page.
-- kind 'message' (to the reporter, with the status chosen beside it) or 'note' (internal).
CREATE TABLE drafts (
    regno         TEXT NOT NULL REFERENCES reports(regno),
    investigator  TEXT NOT NULL REFERENCES users(name),
    kind          TEXT NOT NULL CHECK (kind IN ('message', 'note')),
    status        TEXT,
    text          TEXT NOT NULL,
    day           TEXT NOT NULL,
    PRIMARY KEY (regno, investigator, kind)
);
-- The standard texts administrators keep for the report page (acknowledgement, more information,
-- forwarded, closed), per reporter language; a text without a row is the built-in default.
CREATE TABLE standard_texts (
    name         TEXT NOT NULL,
    language     TEXT NOT NULL,
    body         TEXT NOT NULL,
    changed_day  TEXT NOT NULL,
    changed_by   TEXT NOT NULL,
    PRIMARY KEY (name, language)
);
"""

RENDITIONS_SCHEMA = """
-- Safe renditions of files (schema version 5), made in the sandbox (journalist_console/rendition).
-- The parts themselves are envelopes store/renditions/<entry_id>-<part>.env sealed to this
-- console's own key; digests holds each part's SHA-256 (JSON), so a part anyone could seal to
-- the public inspectorate key and plant in the store is refused. format: how the file was read
-- (pdf, office, html, image, text, other); pages: page images stored; total_pages: pages of
-- the original (more than pages when it was cut); problem: why there is no (complete)
-- rendition, a code of rendition/convert.py or jobs.py (NULL: none). Removing the entry (retention)
-- removes its row.
CREATE TABLE IF NOT EXISTS renditions (
    entry_id     TEXT PRIMARY KEY REFERENCES entries(entry_id) ON DELETE CASCADE,
    format       TEXT NOT NULL,
    detail       TEXT NOT NULL,
    pages        INTEGER NOT NULL,
    total_pages  INTEGER NOT NULL,
    text_cut     INTEGER NOT NULL,
    ocr          INTEGER NOT NULL,
    problem      TEXT,
    digests      TEXT NOT NULL,
    made_day     TEXT NOT NULL
);
"""

KEYS_SCHEMA = """
-- Server keys this console no longer trusts (schema version 6): each re-pin (a rebuilt server)
-- keeps the key it replaced, the instance it served and the last bundle imported from it. A
-- retired key or instance is never accepted again.
CREATE TABLE IF NOT EXISTS server_pins (
    public_key     TEXT PRIMARY KEY,
    instance       TEXT,
    last_sequence  INTEGER,
    retired_day    TEXT NOT NULL,
    retired_by     TEXT NOT NULL
);
"""

ACCOUNTS_SCHEMA = """
-- Investigator accounts (schema version 2). The passphrase boxes are vault/users/<name>.box; a box
-- opens the console only for a name listed here and not removed. display_name: what reporters see
-- on this investigator's replies (NULL: the console's author name). Names are never reused.
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'investigator')),
    display_name  TEXT,
    created_day   TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    removed_day   TEXT,
    removed_by    TEXT,
    box_key       TEXT
);
-- At most one investigator a report is assigned to.
CREATE TABLE assignments (
    regno         TEXT PRIMARY KEY REFERENCES reports(regno),
    assignee      TEXT NOT NULL REFERENCES users(name),
    assigned_day  TEXT NOT NULL,
    assigned_by   TEXT NOT NULL
);
-- Declared conflicts of interest; a lifted recusal keeps its row (lifted_day, lifted_by).
CREATE TABLE recusals (
    recusal_id    INTEGER PRIMARY KEY,
    regno         TEXT NOT NULL REFERENCES reports(regno),
    investigator  TEXT NOT NULL REFERENCES users(name),
    day           TEXT NOT NULL,
    reason        TEXT NOT NULL,
    lifted_day    TEXT,
    lifted_by     TEXT
);
CREATE UNIQUE INDEX recusals_active ON recusals(regno, investigator) WHERE lifted_day IS NULL;
CREATE INDEX recusals_by_investigator ON recusals(investigator);
"""

SCHEMA = (
    """
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
-- Server bundles applied, by (instance, sequence): a bundle seen before changes nothing.
CREATE TABLE imports (
    instance      TEXT NOT NULL,
    sequence      INTEGER NOT NULL,
    created_day   TEXT NOT NULL,
    imported_day  TEXT NOT NULL,
    new_entries   INTEGER NOT NULL,
    PRIMARY KEY (instance, sequence)
);
-- public_key: the X25519 key the server derived from the source's codename (replies go to it).
CREATE TABLE sources (
    source_id    TEXT PRIMARY KEY,
    public_key   TEXT NOT NULL,
    designation  TEXT NOT NULL,
    created_day  TEXT NOT NULL
);
-- category: cached from the decrypted report at import (NULL while the report is unreadable).
-- acknowledged_day: first viewed; first_response_day: the first response that reaches the
-- reporter (a reply, or a status change with a note) was written; answered_day: it first left in
-- a written export (the ministry's 30-day clock stops there: journalist_console/answers.py);
-- closed_day: day of the final status (NULL while open).
CREATE TABLE reports (
    regno               TEXT PRIMARY KEY,
    source_id           TEXT NOT NULL REFERENCES sources(source_id),
    received_day        TEXT NOT NULL,
    category            TEXT,
    status              TEXT NOT NULL DEFAULT 'received',
    status_day          TEXT NOT NULL,
    acknowledged_day    TEXT,
    first_response_day  TEXT,
    closed_day          TEXT,
    answered_day        TEXT
);
CREATE INDEX reports_by_status ON reports(status);
-- One row per envelope the server sent; the envelope is store/entries/<entry_id>.env.
-- name/media_type/size: a file's metadata read from inside its envelope at import.
-- seen: viewed by an investigator; sha256: the envelope's hash as the server's manifest listed it
-- (sent back in the acknowledgement); ack_seq: the console bundle that acknowledged it.
CREATE TABLE entries (
    entry_id     TEXT PRIMARY KEY,
    regno        TEXT NOT NULL REFERENCES reports(regno),
    kind         TEXT NOT NULL CHECK (kind IN ('report', 'followup', 'file')),
    day          TEXT NOT NULL,
    parent       TEXT,
    import_seq   INTEGER NOT NULL,
    readable     INTEGER NOT NULL,
    name         TEXT,
    media_type   TEXT,
    size         INTEGER,
    seen         INTEGER NOT NULL DEFAULT 0,
    sha256       TEXT NOT NULL,
    ack_seq      INTEGER
);
CREATE INDEX entries_by_regno ON entries(regno);
-- Replies and status changes written here; the envelope is store/responses/<response_id>.env,
-- readable by the source and by every inspectorate key. export_seq: the console bundle carrying it.
-- author: the display name the reporter sees; actor: the investigator account that wrote it.
-- to_reporter: 1 when the reporter reads our words in it (a reply, a status change with a note),
-- 0 for a bare status change (NULL only in a database from before version 4, until unlocked).
CREATE TABLE responses (
    response_id    TEXT PRIMARY KEY,
    position       INTEGER NOT NULL UNIQUE,
    regno          TEXT NOT NULL REFERENCES reports(regno),
    kind           TEXT NOT NULL CHECK (kind IN ('reply', 'status')),
    day            TEXT NOT NULL,
    status         TEXT,
    closes_report  INTEGER NOT NULL,
    author         TEXT NOT NULL,
    export_seq     INTEGER,
    actor          TEXT,
    to_reporter    INTEGER
);
CREATE INDEX responses_by_regno ON responses(regno);
-- Internal notes: never exported.
CREATE TABLE notes (
    note_id  INTEGER PRIMARY KEY,
    regno    TEXT NOT NULL REFERENCES reports(regno),
    day      TEXT NOT NULL,
    author   TEXT NOT NULL,
    text     TEXT NOT NULL
);
-- Console bundles. 'pending': numbered and filled but not yet fully written (a crash there is
-- completed by the next export with the same content); 'written': on disk, things are exported.
-- sequence numbers every export here; server_sequence is the number the bundle carries, counted
-- per server instance (it starts at 1 again for a rebuilt server); key_change: what the bundle
-- announces (docs/protocol.md 9.4), JSON, NULL for nothing.
CREATE TABLE exports (
    sequence         INTEGER PRIMARY KEY,
    created_day      TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'written')),
    responses        INTEGER NOT NULL,
    acks             INTEGER NOT NULL,
    instance         TEXT,
    server_sequence  INTEGER,
    key_change       TEXT
);
-- Extra inspectorate recipient keys (besides this console's own) that responses are sealed to.
CREATE TABLE recipients (
    public_key  TEXT PRIMARY KEY,
    label       TEXT NOT NULL,
    added_day   TEXT NOT NULL
);
-- Audit log: hash = SHA-256 over the canonical JSON of the entry including prev_hash; the last
-- entry's hash and the count are also kept in settings, so removing the newest entry is detected.
CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    regno      TEXT,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
"""
    + ACCOUNTS_SCHEMA
    + RETAINED_SCHEMA
    + DESK_SCHEMA
    + RENDITIONS_SCHEMA
    + KEYS_SCHEMA
)
