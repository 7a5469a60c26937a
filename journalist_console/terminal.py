"""The command line's side of talking to a person: passphrases, the unlock, and what is printed.

A passphrase comes from --passphrase-file (first line, at most 4 KiB) or from the terminal without
echo. The home is locked before anything is asked, so a second console on the same home is
refused before anyone types a passphrase. Output is plain text; errors are one line starting
with "error:", with control and bidi characters escaped (render.safe).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from journalist_console import render
from journalist_console.errors import ConsoleError
from journalist_console.home import Home, HomeLock
from journalist_console.session import Session
from keys.errors import WrongPassphrase
from keys.keyfiles import PublicKey

MAX_PASSPHRASE_FILE_BYTES = 4096


def out(text: str) -> None:
    print(text)


def err(text: str) -> None:
    print(f"error: {render.safe(text, keep_newlines=False)}", file=sys.stderr)


def read_passphrase(args: argparse.Namespace, prompt: str = "Passphrase: ") -> bytes:
    if args.passphrase_file is not None:
        path = Path(args.passphrase_file)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_PASSPHRASE_FILE_BYTES + 1)
        except OSError as exc:
            raise ConsoleError(f"cannot read the passphrase file {path}: {exc.strerror}") from None
        if len(data) > MAX_PASSPHRASE_FILE_BYTES:
            raise ConsoleError(f"{path} is too large to be a passphrase file")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        if not data:
            raise ConsoleError(f"the passphrase file {path} is empty")
        return data
    try:
        text = getpass.getpass(prompt)
    except EOFError:
        raise ConsoleError("no passphrase given") from None
    if not text:
        raise ConsoleError("no passphrase given")
    return text.encode("utf-8")


def read_new_passphrase(args: argparse.Namespace, whose: str = "") -> bytes:
    """A new passphrase from --new-passphrase-file, else asked twice on the terminal."""
    source = argparse.Namespace(passphrase_file=args.new_passphrase_file)
    new = read_passphrase(source, f"New passphrase{whose}: ")
    if args.new_passphrase_file is None:
        if read_passphrase(source, f"Repeat the new passphrase{whose}: ") != new:
            raise ConsoleError("the two passphrases differ; nothing changed")
    return new


@contextmanager
def unlocked(args: argparse.Namespace, prompt: str = "Passphrase: ") -> Iterator[Session]:
    """Lock the home first (a second instance is refused before any prompt), then unlock."""
    home = Home(Path(args.home))
    home.require_initialised()
    with HomeLock(home) as lock:
        user = home.resolve_user(getattr(args, "user", None))
        passphrase = read_passphrase(args, prompt)
        try:
            session = Session.open(home, passphrase, user, lock=lock)
        except WrongPassphrase:
            if getattr(args, "user", None) is None and len(home.box_names()) > 1:
                raise ConsoleError(
                    f"wrong passphrase for {user!r} (several investigators use this console: "
                    "say who you are with --user NAME)"
                ) from None
            raise
        try:
            yield session
        finally:
            session.close()


def confirm_server_key(signer: PublicKey) -> bool:
    """The first import's question: is this the server key the operator reads out?"""
    print(f"Server signing key fingerprint: {signer.fingerprint}", file=sys.stderr)
    print("Compare it with the fingerprint the operator reads from the server.", file=sys.stderr)
    answer = input("Trust this server key from now on? [y/N] ")
    return answer.strip().lower() in ("y", "yes", "ya")
