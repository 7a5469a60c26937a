"""`journalist-console keys ...`: the console's keys over the years (docs/operator.md 10 and 12).

    keys show               every key and fingerprint (current, next, retired, the pinned server)
    keys rotate-recipient   a new inspectorate key; the old one retired, kept    (administrators)
    keys rotate-signing     a new signing key, announced by the next export     (administrators)
    keys repin-server       trust a rebuilt server's key, confirmed aloud       (administrators)
    keys rekey-vault        a new vault key and database key, boxes re-sealed   (administrators)

The operations are journalist_console/rotation.py, repin.py and rekey.py; this module reads the
arguments and the terminal and prints what to read aloud and what comes next.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from journalist_console import rekey, repin, rotation
from journalist_console.errors import ConsoleError
from journalist_console.repin import Pin
from journalist_console.terminal import out, unlocked
from keys.keyfiles import PublicKey, read_public_key

NEXT_STEPS = (
    "Next (docs/operator.md, section 10): keys rotate-recipient and keys rotate-signing, then "
    "export, so that the keys the old vault opened are no longer used either."
)


def cmd_keys(args: argparse.Namespace) -> int:
    handlers = {
        "show": _show,
        "rotate-recipient": _rotate_recipient,
        "rotate-signing": _rotate_signing,
        "repin-server": _repin_server,
        "rekey-vault": _rekey_vault,
    }
    return handlers[args.keys_command](args)


def _show(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        keys = rotation.status(session)
        pin = repin.current_pin(session)
    out(f"inspectorate recipient key   {keys.recipient.fingerprint}")
    if keys.server_recipient is not None and keys.server_recipient != keys.recipient:
        out(
            f"  the server still has       {keys.server_recipient.fingerprint} (until the next "
            "export reaches it)"
        )
    for key in keys.retired_recipients:
        out(f"  retired, still read with   {key.fingerprint}")
    out(f"console signing key          {keys.verify.fingerprint}")
    if keys.next_verify is not None:
        out(f"  next, announced by the next export  {keys.next_verify.fingerprint}")
    if pin is None:
        out("server key                   (none pinned yet: the first import pins it)")
    else:
        out(f"server key                   {pin.key.fingerprint}  {_pin_text(pin)}")
    for old in keys.retired_pins:
        out(
            f"  retired server key         {old.key.fingerprint}  (instance {old.instance}, "
            f"last bundle {old.last_sequence}; replaced on {old.retired_day} by {old.retired_by})"
        )
    return 0


def _pin_text(pin: Pin) -> str:
    if pin.last_sequence is None:
        return f"(instance {pin.instance or 'not known yet'}, nothing imported from it yet)"
    return f"(instance {pin.instance}, last bundle {pin.last_sequence} imported on {pin.last_day})"


def _rotate_recipient(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        old, new = rotation.rotate_recipient(session)
        path = session.home.inspectorate_pub
    out(f"New inspectorate recipient key: {new.fingerprint} (in {path})")
    out(f"The old key {old.fingerprint} is retired: this console keeps it, and everything sealed")
    out("to it (on the server, here, in retention archives) still opens.")
    out("The next export announces the new key to the server, signed, and the server retires the")
    out("old one. `dropbox import` prints the new fingerprint there: compare it aloud with the one")
    out("above, then the operator restarts the site.")
    return 0


def _rotate_signing(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        current, new = rotation.rotate_signing(session)
    out(f"Next console signing key: {new.fingerprint} (current: {current.fingerprint}).")
    out("The next export announces it and is signed by both keys; once it is written this")
    out("console signs with the new key only, and the server, importing it, refuses bundles")
    out("signed by the old key alone. `dropbox import` prints the new fingerprint: compare it")
    out("aloud with the one above.")
    return 0


def _repin_server(args: argparse.Namespace) -> int:
    new_key = read_public_key(Path(args.server_key), "verify")

    def confirm(old: Pin, key: PublicKey) -> None:
        out(f"Pinned now:  {old.key.fingerprint}  {_pin_text(old)}")
        out(f"New server:  {key.fingerprint}")
        out("The operator reads the new server's fingerprint aloud (sudo wbs-dropbox check).")
        typed = args.fingerprint
        if typed is None:
            if not sys.stdin.isatty():
                raise ConsoleError(
                    "confirm the new key: type its fingerprint as the operator reads it "
                    "(run on a terminal, or give --fingerprint)"
                )
            typed = input("Type the fingerprint as the operator reads it aloud: ")
        repin.fingerprint_matches(typed, key)

    with unlocked(args) as session:
        old = repin.repin(session, new_key, confirm)
    out(f"The server key {new_key.fingerprint} is pinned. Bundles signed by the retired key")
    out(f"{old.key.fingerprint}, or from its instance, are refused from now on. The new server's")
    out("first bundle teaches its instance; response bundles to it are numbered from 1.")
    out("Write down the audit head (audit verify): the new server vouches for nothing yet.")
    return 0


def _rekey_vault(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        result = rekey.rekey_vault(session)
    out(
        "The vault is re-keyed: a new vault key and database key; boxes re-sealed for "
        f"{', '.join(result.investigators)}."
    )
    out("A copy of the old vault key, an old box or the old database key opens nothing current.")
    out(NEXT_STEPS)
    return 0
