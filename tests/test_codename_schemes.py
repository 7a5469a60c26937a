"""An instance keeps the codename derivation scheme it was created with (docs/protocol.md, 6.3):
new instances use scheme 2 (one argon2id run); one created before it keeps scheme 1, so every
codename already handed out still opens its reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dropbox import instance as instance_module
from dropbox.app import create_app
from dropbox.service import DropBox
from keys import codename
from support.instances import make_site
from support.pages import login, new_source, submit_report


def _config(data: Path) -> dict[str, object]:
    return json.loads((data / "config.json").read_text())


def _write_config(data: Path, config: dict[str, object]) -> None:
    (data / "config.json").write_text(json.dumps(config, indent=1) + "\n")


def test_a_new_instance_records_scheme_2(tmp_path: Path) -> None:
    server = make_site(tmp_path)
    assert _config(server.data_dir)["codename_scheme"] == 2
    assert instance_module.load(server.data_dir).codename_scheme == 2


def test_an_instance_from_before_scheme_2_keeps_scheme_1(tmp_path: Path) -> None:
    """A configuration without the entry is a scheme-1 instance: the site derives with the
    scheme-1 cost and formula, and a source created there logs in again after a restart."""
    server = make_site(tmp_path)
    config = _config(server.data_dir)
    del config["codename_scheme"]
    _write_config(server.data_dir, config)
    loaded = instance_module.load(server.data_dir)
    assert loaded.codename_scheme == 1

    box = DropBox(loaded)  # the deriver `dropbox serve` builds: the real scheme-1 cost
    box.setup()
    client = create_app(box).test_client()
    text = new_source(client)
    regno = submit_report(client)
    salts = loaded.codename_salts()
    expected = codename.CodenameDeriver(*salts, scheme=1).derive(text)
    assert box.find_source(expected.lookup_id) is not None
    assert box.find_source(codename.CodenameDeriver(*salts).derive(text).lookup_id) is None

    restarted = create_app(DropBox(instance_module.load(server.data_dir))).test_client()
    response = login(restarted, text)
    assert response.status_code == 303
    assert regno in restarted.get("/lookup").get_data(as_text=True)


@pytest.mark.parametrize("scheme", [0, 3, "2", None, True])
def test_an_unknown_scheme_is_refused_with_a_clear_message(tmp_path: Path, scheme: object) -> None:
    server = make_site(tmp_path)
    config = _config(server.data_dir)
    config["codename_scheme"] = scheme
    _write_config(server.data_dir, config)
    with pytest.raises(instance_module.InstanceError, match="codename_scheme"):
        instance_module.load(server.data_dir)
