"""What the server stores: only the inspectorate keys decrypt
it; no plaintext, codename or file name anywhere under the data directory or in the database; file
times tell only the day; uploads are encrypted while they stream in (no plaintext temp file).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import secrets
import tempfile
from pathlib import Path

import pytest

from dropbox import instance as inst
from dropbox.app import create_app
from dropbox.service import DropBox
from dropbox.store import coarsen_times
from keys import keytypes, payload
from keys.codename import CodenameDeriver
from keys.errors import NotARecipient
from keys.keyfiles import recipient_public_key, verify_public_key
from support.bundles import Response, import_responses, reply_item
from support.http import FlaskAgent
from support.inspection import grep_tree
from support.instances import CODENAME_KDF, MiB, Site
from support.pages import Report, Reporter, codename_variants, marker


def marked_report() -> Report:
    return Report(
        category="procurement_fraud",
        relation="public",
        what=marker("what") + " pengadaan laptop",
        who=marker("who"),
        where=marker("where"),
        when=marker("when"),
        how=marker("how"),
        message=marker("message") + " ñ ü 漢字",
        pseudonym=marker("pseud"),
        contact=marker("contact") + "@example.org",
    )


def marked_file(label: str, size: int) -> tuple[str, bytes, str]:
    tag = marker(label)
    block = (tag + "\n").encode()
    body = block * (size // len(block)) + secrets.token_bytes(size % len(block))
    return (f"{tag}-bukti.pdf", body, "application/pdf")


def test_only_the_inspectorate_key_decrypts_what_was_stored(site: Site) -> None:
    reporter = Reporter(site.client())
    codename = reporter.start("en")
    report = marked_report()
    small = marked_file("small", 10_000)
    large = marked_file("large", MiB + 4321)
    regno = reporter.file_report(report, [small, large])
    reporter.lookup()
    follow = marked_file("follow", 777)
    follow_text = marker("followup")
    assert reporter.followup(regno, follow_text, [follow]).status == 303

    opened = site.decrypt_items()
    with site.box.connection() as connection:
        kinds = {
            row["entry_id"]: row["kind"]
            for row in connection.execute(
                "SELECT entry_id, kind FROM entries WHERE regno = ?", (regno,)
            )
        }
    assert set(opened) == set(kinds)
    for entry_id, (meta, _content) in opened.items():
        assert meta["kind"] == kinds[entry_id]

    reports = [json.loads(c) for m, c in opened.values() if m["kind"] == "report"]
    assert len(reports) == 1
    document = reports[0]
    for name, value in report.fields().items():
        assert document[name] == value, name
    assert document["language"] == "en"
    assert codename not in json.dumps(document, ensure_ascii=False)

    files = {m["name"]: (m, c) for m, c in opened.values() if m["kind"] == "file"}
    assert set(files) == {small[0], large[0], follow[0]}
    for name, content, media in (small, large, follow):
        assert files[name][1] == content  # exact bytes
        assert files[name][0]["type"] == media
    followups = [json.loads(c) for m, c in opened.values() if m["kind"] == "followup"]
    assert len(followups) == 1 and followups[0]["message"] == follow_text

    # Every other key fails with NotARecipient: a stranger, the source's own key (derived from
    # the codename), and anything the server holds on disk used as if it were a key.
    source_key = site.box.derive(codename).private_key
    held = [
        keytypes.recipient_identity(site.instance.db_key()),
        keytypes.recipient_identity(bytes(site.instance.signing_key())),
        *(
            keytypes.recipient_identity(salt[:32].ljust(32, b"\0"))
            for salt in site.instance.codename_salts()
        ),
    ]
    for identity in [keytypes.new_recipient_identity(), source_key, *held]:
        for path in site.items():
            with pytest.raises(NotARecipient):
                payload.open_bytes(path.read_bytes(), [identity])
            with path.open("rb") as handle, pytest.raises(NotARecipient):
                payload.read_payload(handle, [identity], io.BytesIO())


def test_every_recipient_key_alone_decrypts(tmp_path: Path) -> None:
    keys = [keytypes.new_recipient_identity() for _ in range(3)]
    instance = inst.create(
        tmp_path / "data",
        [recipient_public_key(key) for key in keys],
        [verify_public_key(keytypes.new_signing_key())],
    )
    box = DropBox(instance, CodenameDeriver(*instance.codename_salts(), params=CODENAME_KDF))
    box.setup()
    site = Site(
        instance.data_dir,
        instance,
        box,
        keys[0],
        keytypes.new_signing_key(),
        create_app(box),
    )
    reporter = Reporter(FlaskAgent(site.app))
    reporter.start()
    reporter.file_report(files=[("a.txt", b"isi berkas")])
    contents = None
    for key in keys:
        opened = site.decrypt_items(key)
        assert len(opened) == 2
        this = sorted(c for _m, c in opened.values())
        assert contents is None or this == contents
        contents = this


def test_no_plaintext_anywhere_under_the_data_directory(site: Site, tmp_path: Path) -> None:
    reporter = Reporter(site.client())
    codename = reporter.start("id")
    report = marked_report()
    files = [marked_file("f1", 3000), marked_file("f2", 2 * MiB + 17)]
    regno = reporter.file_report(report, files)
    reporter.lookup()
    follow = marked_file("f3", 500)
    follow_text = marker("followup")
    reporter.followup(regno, follow_text, [follow])
    reply_text = marker("reply")
    bundles = tmp_path / "bundles"
    bundles.mkdir()
    import_responses(
        site, [Response("reply", regno, "2026-05-05", reply_item(site, regno, reply_text))], bundles
    )
    assert reply_text in reporter.lookup().text  # it was stored and is readable by the source
    reporter.logout()
    reporter.login(codename.upper())
    reporter.lookup()

    secrets_ = [
        *report.fields().values(),
        follow_text,
        reply_text,
        *(name for name, _c, _m in [*files, follow]),
        *codename_variants(codename),
    ]
    secrets_ = [s for s in secrets_ if len(s) > 8 and s not in ("procurement_fraud", "public")]
    # The markers inside file contents, too.
    for _name, content, _media in [*files, follow]:
        secrets_.append(content[:40].decode())
    hits = grep_tree(site.data_dir, secrets_)
    assert hits == [], hits
    # Nothing was written next to the data directory either (e.g. a plaintext temp file).
    outside = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and site.data_dir not in p.parents and bundles not in p.parents
    ]
    assert outside == [], outside

    # The database, opened with its key, holds none of it either, and only days, never times.
    dump = site.dump_db()
    for secret in secrets_:
        assert secret not in dump, secret
    with site.box.connection() as connection:
        for table, column in (
            ("sources", "created_day"),
            ("reports", "received_day"),
            ("entries", "day"),
            ("responses", "day"),
        ):
            for (value,) in connection.execute(f"SELECT {column} FROM {table}"):  # noqa: S608
                assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), (table, value)
        columns = {
            table: [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
            for table in ("sources", "reports", "entries", "responses")
        }
        (lookup_id, public_key) = connection.execute(
            "SELECT lookup_id, public_key FROM sources"
        ).fetchone()
    # No column that could hold a name, IP, time of day or text.
    forbidden = re.compile(r"name|ip|addr|time|text|message|codename|pseud|contact|agent")
    for table, names in columns.items():
        for column in names:
            assert not forbidden.search(column) or column in ("designation",), (table, column)
    assert re.fullmatch(r"[0-9a-f]{64}", lookup_id)
    assert public_key.startswith("wbs-recipient-v1:")
    with site.box.connection() as connection:
        assert connection.execute("PRAGMA secure_delete").fetchone()[0] == 1
    # The DB file itself is SQLCipher: no SQLite header, no schema in clear.
    raw = (site.data_dir / "dropbox.db").read_bytes()
    assert not raw.startswith(b"SQLite format 3") and b"CREATE TABLE" not in raw


def test_file_times_reveal_only_the_day(site: Site) -> None:
    reporter = Reporter(site.client())
    reporter.start()
    regno = reporter.file_report(files=[("a.txt", b"a" * 100)])
    reporter.lookup()
    reporter.followup(regno, "lagi", [("b.txt", b"b")])
    now = dt.datetime.now(dt.UTC).timestamp()
    items = site.items()
    assert len(items) == 4  # report, its file, follow-up, its file
    for path in items:  # stat() does not touch atime; nothing has read these files yet
        info = path.stat()
        assert info.st_mtime == info.st_atime, path
        assert info.st_mtime % 86400 == 0 and 0 <= now - info.st_mtime < 2 * 86400, path
    for directory in (site.items_dir, site.pending_dir):  # listing them updates their atime
        assert directory.stat().st_mtime % 86400 == 0, directory


def test_files_kept_for_a_corrected_form_are_envelopes_only(site: Site) -> None:
    """Issue 16: a form sent back for correction keeps its files in store/pending until the
    corrected form comes. They wait there as envelopes to the inspectorate only, with day-only
    times, and nothing of them is in clear under the data directory."""
    reporter = Reporter(site.client())
    codename = reporter.start("en")
    kept = marked_file("kept", 300_000)
    assert reporter.submit(Report(what=""), [kept]).status == 400
    waiting = site.pending()
    assert len(waiting) == 1 and site.items() == []
    info = waiting[0].stat()  # before anything here reads the file (a read sets its atime)
    assert info.st_mtime % 86400 == 0 and info.st_atime % 86400 == 0
    assert grep_tree(site.data_dir, [kept[0], kept[1][:40].decode(), codename]) == []
    with waiting[0].open("rb") as handle:
        sink = io.BytesIO()
        meta, _size = payload.read_payload(handle, [site.recipient], sink)
    assert meta["name"] == kept[0] and sink.getvalue() == kept[1]
    for identity in (keytypes.new_recipient_identity(), site.box.derive(codename).private_key):
        with waiting[0].open("rb") as handle, pytest.raises(NotARecipient):
            payload.read_payload(handle, [identity], io.BytesIO())


def test_imported_responses_have_day_only_times(site: Site, tmp_path: Path) -> None:
    reporter = Reporter(site.client())
    reporter.start()
    regno = reporter.file_report()
    reply = Response("reply", regno, "2026-01-01", reply_item(site, regno, "dibaca"))
    import_responses(site, [reply], tmp_path)
    info = (site.items_dir / f"{reply.response_id}.env").stat()
    assert info.st_mtime % 86400 == 0 and info.st_atime % 86400 == 0
    assert site.items_dir.stat().st_mtime % 86400 == 0


def test_reading_replies_leaves_no_exact_access_time(site: Site, tmp_path: Path) -> None:
    reporter = Reporter(site.client())
    reporter.start()
    regno = reporter.file_report()
    reply = Response("reply", regno, "2026-01-01", reply_item(site, regno, "dibaca"))
    import_responses(site, [reply], tmp_path)
    path = site.items_dir / f"{reply.response_id}.env"
    coarsen_times(path)  # as if the import had coarsened it (see the test above)
    assert path.stat().st_atime % 86400 == 0
    assert "dibaca" in reporter.lookup().text
    assert path.stat().st_atime % 86400 == 0, "atime now shows the time of the visit"


def test_envelopes_reveal_nothing_but_size(site: Site) -> None:
    """Item files are named by random ids and carry no file name, type or kind in clear."""
    reporter = Reporter(site.client())
    reporter.start()
    reporter.file_report(files=[("laporan-keuangan.xlsx", b"x" * 5000, "application/vnd.ms-excel")])
    for path in site.items():
        assert re.fullmatch(r"[0-9a-f]{32}\.env", path.name)
        raw = path.read_bytes()
        for clear in (b"xlsx", b"laporan", b"application/", b'"kind"', b"report", b"file"):
            assert clear not in raw, (path, clear)


def test_uploads_never_touch_a_plaintext_temp_file(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Werkzeug's default stream factory spools files over 500 KiB to a temp file; the site's
    factory must not: every tempfile constructor fails during the upload, and it still works."""
    reporter = Reporter(site.client())
    reporter.start()

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("a temporary file was created during the upload")

    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    content = secrets.token_bytes(3 * MiB)
    regno = reporter.file_report(files=[("besar.bin", content), ("kecil.txt", b"k")])
    monkeypatch.undo()
    assert regno
    files = [c for m, c in site.decrypt_items().values() if m["kind"] == "file"]
    assert content in files


def test_crash_leftovers_are_removed_at_start(site: Site) -> None:
    reporter = Reporter(site.client())
    reporter.start()
    reporter.file_report(files=[("a.txt", b"a")])
    kept = {p.name for p in site.items()}
    (site.pending_dir / f"{secrets.token_hex(16)}.partial").write_bytes(b"half written")
    orphan = site.items_dir / f"{secrets.token_hex(16)}.env"
    orphan.write_bytes(b"committed but no row")
    DropBox(site.instance).setup()
    assert site.pending() == []
    assert {p.name for p in site.items()} == kept
