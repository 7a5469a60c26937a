"""Helpers for tests that need a real server instance, real submissions and real bundles.

Imported as a plain module (pytest puts tests/ on sys.path). Everything goes through public
interfaces: `dropbox` CLI functions, HTTP routes via the Flask test client, and the file formats.
"""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.public
import nacl.signing
from flask.testing import FlaskClient

from dropbox import instance as instance_module
from dropbox.app import create_app
from dropbox.service import DropBox
from keys import payload
from keys.bundle import ItemSource, write_bundle
from keys.codename import CodenameDeriver, CodenameKdfParams
from keys.keyfiles import recipient_public_key, verify_public_key, write_public_key
from keys.records import new_id, today

FAST_KDF = CodenameKdfParams(time_cost=1, memory_cost_kib=8 * 1024)


@dataclass
class Server:
    data: Path
    inspectorate: nacl.public.PrivateKey
    console_signing: nacl.signing.SigningKey
    box: DropBox
    client: FlaskClient

    @property
    def instance_id(self) -> str:
        return self.box.instance.instance_id


def make_server(tmp_path: Path, upload_limit: int = 64 * 1024 * 1024) -> Server:
    """A server initialised through `dropbox init`-equivalent key files, with a cheap KDF."""
    inspectorate = nacl.public.PrivateKey.generate()
    console_signing = nacl.signing.SigningKey.generate()
    keys_dir = tmp_path / "pub"
    keys_dir.mkdir()
    write_public_key(keys_dir / "inspectorate.pub", recipient_public_key(inspectorate))
    write_public_key(keys_dir / "console.pub", verify_public_key(console_signing))
    data = tmp_path / "data"
    created = instance_module.create(
        data, [recipient_public_key(inspectorate)], [verify_public_key(console_signing)],
        upload_limit,
    )
    box = DropBox(created, CodenameDeriver(*created.codename_salts(), params=FAST_KDF))
    box.setup()
    client = create_app(box).test_client()
    return Server(data, inspectorate, console_signing, box, client)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def form_action(html_text: str, path: str) -> str:
    match = re.search(rf'<form method="post" action="({re.escape(path)}[^"]*)"', html_text)
    assert match, f"no form posting to {path}"
    return html.unescape(match.group(1))


def new_source(client: FlaskClient) -> str:
    """Walk /generate → /confirm → /create (typing back the words asked); returns the codename."""
    page = client.get("/generate").get_data(as_text=True)
    codename = re.search(r'id="codename">([^<]+)<', page)
    assert codename
    pending = hidden(page, "pending")
    confirm = client.post("/confirm", data={"pending": pending}).get_data(as_text=True)
    words = codename.group(1).split()
    typed = {f"word{n}": words[int(n) - 1] for n in re.findall(r'name="word(\d+)"', confirm)}
    response = client.post("/create", data={"pending": pending, **typed})
    assert response.status_code == 303, response.get_data(as_text=True)[-500:]
    return codename.group(1)


def login(client: FlaskClient, codename: str) -> Any:
    """GET /login, then POST it with its visitor-bound token; the response (303 on success)."""
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"token": hidden(page, "token"), "codename": codename})


def followup_action(lookup: str, regno: str) -> str:
    """The action URL (ticket included) of the follow-up form on /lookup for report `regno`."""
    card = lookup.split(f'id="report-{regno}"', 1)[1]
    return form_action(card, "/followup")


def submit_report(client: FlaskClient, what: str = "Pengadaan laptop digelembungkan",
                  files: list[tuple[bytes, str]] | None = None, **fields: str) -> str:
    """POST /submit as a logged-in source, then the thank-you page; returns the register number."""
    page = client.get("/submit").get_data(as_text=True)
    data: dict[str, Any] = {
        "category": "procurement_fraud",
        "relation": "employee",
        "what": what,
        **fields,
    }
    if files:
        data["files"] = [(io.BytesIO(content), name) for content, name in files]
    response = client.post(form_action(page, "/submit"), data=data,
                           content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)[-500:]
    thanks = client.get("/thanks").get_data(as_text=True)
    regno = re.search(r'id="regno">([^<]+)<', thanks)
    assert regno
    return regno.group(1)


def response_bundle(
    server: Server,
    out: Path,
    sequence: int,
    responses: list[dict[str, Any]],
    signer: nacl.signing.SigningKey | None = None,
    instance_id: str | None = None,
    acks: list[str] | None = None,
) -> Path:
    """A genuine console-to-server bundle. Each response: regno, kind, document, source_key."""
    staging = out.parent / f"items-{sequence}-{new_id()[:6]}"
    staging.mkdir()
    items, records = [], []
    for response in responses:
        response_id = new_id()
        sealed = payload.seal_bytes(
            {"kind": response["kind"]},
            json.dumps(response["document"]).encode(),
            [response["source_key"], server.inspectorate.public_key],
        )
        (staging / response_id).write_bytes(sealed)
        items.append(ItemSource(response_id, staging / response_id))
        records.append({
            "response_id": response_id, "kind": response["kind"], "regno": response["regno"],
            "day": response.get("day", today()), "item": response_id,
            "closes_report": response.get("closes_report", False),
        })
    body = {"instance": instance_id or server.instance_id, "sequence": sequence,
            "created_day": today(), "responses": records, "acks": acks or []}
    write_bundle(out, "console-to-server", body, items, signer or server.console_signing)
    return out


def source_public_key(server: Server, codename: str) -> nacl.public.PublicKey:
    return server.box.derive(codename).public_key


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes, to prove an operation changed nothing."""
    return {str(path.relative_to(root)): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()}
