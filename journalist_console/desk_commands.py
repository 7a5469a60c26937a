"""The desk's commands: `respond` (a status and a message in one step, as the report page's
Respond card does) and `texts` (the standard texts). The parser is journalist_console/cli.py;
the operations are responses.py and standard_texts.py, the same the web interface calls.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from journalist_console import render, responses, standard_texts
from journalist_console.errors import ConsoleError
from journalist_console.terminal import out, unlocked


def cmd_respond(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        done = responses.respond(session, args.regno, args.status, args.message or "", args.text)
    said = []
    if done.status:
        said.append(f"status {render.status_label(done.status)}")
    if done.replied:
        said.append("a reply")
    out(f"{done.regno}: {' and '.join(said)} recorded; it leaves with the next export.")
    return 0


def cmd_texts(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        if args.texts_command == "set":
            body = args.body
            if args.file is not None:
                try:
                    body = Path(args.file).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise ConsoleError(f"cannot read {args.file}: {exc}") from None
            if body is None:
                raise ConsoleError("give the text: --body TEXT or --file FILE")
            standard_texts.set_text(session, args.name, args.language, body)
            out(f"Standard text {args.name} ({args.language}) saved.")
            return 0
        if args.texts_command == "reset":
            standard_texts.reset(session, args.name, args.language)
            out(f"Standard text {args.name} ({args.language}) is the built-in one again.")
            return 0
        listed = standard_texts.all_texts(session)
    if args.json:
        out(json.dumps([text.__dict__ for text in listed], indent=1, ensure_ascii=False))
        return 0
    for text in listed:
        origin = (
            f"changed {text.changed_day} by {text.changed_by}" if text.changed_day else "built-in"
        )
        out(f"{text.name} ({text.language}, {origin}):")
        out("\n".join("    " + line for line in render.safe(text.body).split("\n")))
    return 0
