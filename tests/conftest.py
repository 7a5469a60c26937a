"""Fixtures shared by the test modules (the helpers themselves are the `support` package).

`site`: a fresh server instance with its Flask app in the test's temporary directory (a module
may override it to add something, requesting this one).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.instances import Site, make_site


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)
