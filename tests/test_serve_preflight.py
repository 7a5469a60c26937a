"""`dropbox serve` refuses to start on an unsafe or broken instance, with one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.instances import MiB, make_site

SERVE = [sys.executable, "-m", "dropbox.cli", "serve", "--port", "0"]


def serve(data: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    spill = Path("/dev/shm") / f"wbs-preflight-{tmp_path.name}"  # noqa: S108 (test scratch)
    return subprocess.run([*SERVE, "--data", str(data), "--spill-dir", str(spill)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_refuses_a_data_directory_readable_by_others(tmp_path: Path) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB)
    server.data.chmod(0o755)
    result = serve(server.data, tmp_path)
    assert result.returncode == 1
    assert "unsafe data directory" in result.stderr and "go-rwx" in result.stderr
    assert "Traceback" not in result.stderr


def test_refuses_a_readable_database_key(tmp_path: Path) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB)
    (server.data / "db.key").chmod(0o644)
    result = serve(server.data, tmp_path)
    assert result.returncode == 1 and "db.key" in result.stderr


@pytest.mark.parametrize("damage", ["checksum", "wrong-type", "none"])
def test_refuses_missing_or_invalid_recipient_keys(tmp_path: Path, damage: str) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB)
    config_path = server.data / "config.json"
    config = json.loads(config_path.read_text())
    line = config["recipients"][0]
    if damage == "checksum":
        config["recipients"] = [line[:-2] + ("AA" if not line.endswith("AA") else "BB")]
    elif damage == "wrong-type":
        config["recipients"] = config["console_keys"]
    else:
        config["recipients"] = []
    config_path.write_text(json.dumps(config))
    result = serve(server.data, tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("dropbox serve: error: ")
    assert "config.json" in result.stderr and result.stderr.count("\n") == 1
