"""Static analysis (the hostile suite): ruff's security rules (the bandit set, S) pass on the
product code, and no exception to them is unexplained: every `noqa` naming an S rule says why, no
bare `noqa` hides everything, and the configuration exempts no product code from any S rule."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from support.processes import REPO, VENV_BIN

PRODUCT = ("keys", "dropbox", "journalist_console")
BANDIT = re.compile(r"S[0-9]+")  # ruff's flake8-bandit codes (not SIM..., the simplify rules)
NOQA = re.compile(r"#\s*noqa(?P<codes>:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)?(?P<rest>.*)$")


def _ruff() -> str:
    ruff = VENV_BIN / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed in .venv (make test installs the dev extras)")
    return str(ruff)


def test_ruff_security_rules_pass_on_the_product() -> None:
    result = subprocess.run(
        [_ruff(), "check", "--no-cache", "--select", "S", "--output-format", "concise",
         *PRODUCT], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _noqa_lines() -> list[tuple[str, int, str, str, str]]:
    found = []
    for package in PRODUCT:
        for path in sorted((REPO / package).rglob("*.py")):
            for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
                match = NOQA.search(line)
                if match:
                    codes = (match.group("codes") or "").lstrip(":").strip()
                    found.append((str(path.relative_to(REPO)), number, codes,
                                  match.group("rest"), line.strip()))
    return found


def test_no_bare_noqa_in_the_product() -> None:
    bare = [f"{path}:{number}: {line}" for path, number, codes, _, line in _noqa_lines()
            if not codes]
    assert bare == []


def test_every_security_exception_in_the_product_says_why() -> None:
    unexplained = [
        f"{path}:{number}: {line}"
        for path, number, codes, rest, line in _noqa_lines()
        if any(BANDIT.fullmatch(code.strip()) for code in codes.split(","))
        and not re.search(r"[A-Za-z]{3,}", rest)
    ]
    assert unexplained == []


def test_configuration_exempts_no_product_code_from_security_rules() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    lint = config["tool"]["ruff"]["lint"]
    assert "S" in lint["select"]
    assert not [code for code in lint.get("ignore", []) if re.fullmatch(r"S[0-9]*", code)]
    for pattern, codes in lint.get("per-file-ignores", {}).items():
        if any(pattern.startswith(package) for package in PRODUCT) or pattern in ("*", "**"):
            assert not [code for code in codes if re.fullmatch(r"S[0-9]*", code)], pattern


def test_the_suite_itself_runs_ruff_with_the_security_rules() -> None:
    """`make test` runs `make lint` (ruff check .) first; keep it that way."""
    makefile = (REPO / "Makefile").read_text("utf-8")
    assert re.search(r"^test:.*\blint\b", makefile, re.MULTILINE)
    assert "ruff check ." in makefile
    assert Path(REPO / "pyproject.toml").exists()
