#!/usr/bin/env python3
"""Write HAProxy's error pages (deploy/haproxy-errors/NNN.http) from the site's own templates.

    .venv/bin/python scripts/make_proxy_pages.py           write the pages
    .venv/bin/python scripts/make_proxy_pages.py --check   exit 1 if a page is stale

The pages are rendered by the real application (dropbox/error_pages.py), so a circuit refused by
the proxy sees the same bilingual page, with the same security headers, as one refused by the
site. The application needs an instance to start; a throw-away one is made in a temporary
directory and deleted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from dropbox import instance as instance_module
from dropbox.app import create_app
from dropbox.error_pages import proxy_error_responses
from dropbox.service import DropBox
from keys.keyfiles import recipient_public_key, verify_public_key
from keys.keytypes import new_recipient_identity, new_signing_key

PAGES_DIR = Path(__file__).resolve().parent.parent / "deploy" / "haproxy-errors"


def rendered_pages() -> dict[int, bytes]:
    with tempfile.TemporaryDirectory(prefix="wbs-proxy-pages-") as scratch:
        created = instance_module.create(
            Path(scratch) / "data",
            [recipient_public_key(new_recipient_identity())],
            [verify_public_key(new_signing_key())],
        )
        return proxy_error_responses(create_app(DropBox(created)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args()
    stale = []
    for code, response in sorted(rendered_pages().items()):
        path = PAGES_DIR / f"{code}.http"
        if path.exists() and path.read_bytes() == response:
            continue
        stale.append(path.name)
        if not args.check:
            PAGES_DIR.mkdir(parents=True, exist_ok=True)
            path.write_bytes(response)
    if args.check and stale:
        print(f"stale proxy pages: {', '.join(stale)} (run scripts/make_proxy_pages.py)")
        return 1
    print(("written: " if stale else "up to date: ") + str(PAGES_DIR))
    return 0


if __name__ == "__main__":
    sys.exit(main())
