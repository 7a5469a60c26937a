"""Run the whole product locally with demo keys (`make demo`).

Creates, once, under .demo/: an investigator console home with a demo passphrase, and a server
instance initialised with the console's public keys. Then runs the source site on
http://127.0.0.1:8080 and the console on http://127.0.0.1:8081 until Ctrl-C, and prints both
directions of the USB round trip, with .demo/usb/ standing in for the stick: the server's bundle
into the console's Import page, the console's export bundle back into `dropbox import`. (The
console's command line cannot import while its web interface holds the home, so the demo carries
bundles through the pages, as an investigator at the web console does.)
Demo data only: the passphrase is written to a file, which a real installation never does.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
BIN = Path(sys.executable).parent
CONSOLE_HOME = DEMO / "console"
DATA = DEMO / "data"
PASSPHRASE = DEMO / "demo-passphrase.txt"
USB = DEMO / "usb"  # the stick
SITE_URL = "http://127.0.0.1:8080/"
CONSOLE_URL = "http://127.0.0.1:8081/"


def run(*args: str) -> None:
    subprocess.run([str(BIN / args[0]), *args[1:]], check=True)


def setup() -> None:
    DEMO.mkdir(mode=0o700, exist_ok=True)
    if not PASSPHRASE.exists():
        PASSPHRASE.write_text("demo passphrase - not for real use\n")
        PASSPHRASE.chmod(0o600)
    if not (CONSOLE_HOME / "console.pub").exists():
        shutil.rmtree(CONSOLE_HOME, ignore_errors=True)
        run("journalist-console", "init", "--home", str(CONSOLE_HOME),
            "--passphrase-file", str(PASSPHRASE))
    if not (DATA / "config.json").exists():
        shutil.rmtree(DATA, ignore_errors=True)
        run("dropbox", "init", "--data", str(DATA),
            "--recipient", str(CONSOLE_HOME / "inspectorate.pub"),
            "--console-key", str(CONSOLE_HOME / "console.pub"))


def round_trip(root: Path = ROOT) -> list[str]:
    """The two directions of the USB round trip, as commands and pages to use."""
    bin_ = BIN.relative_to(root) if BIN.is_relative_to(root) else BIN
    data, usb = DATA.relative_to(root), USB.relative_to(root)
    exports = (CONSOLE_HOME / "exports").relative_to(root)
    try:
        from keys.keyfiles import read_public_key

        fingerprint = read_public_key(DATA / "server.pub", "verify").fingerprint
    except Exception:  # noqa: BLE001 - only a hint; the page shows the key too
        fingerprint = f"the key in {data}/server.pub"
    return [
        "  USB round trip (.demo/usb/ is the stick):",
        "  1. Server -> console: write the server's bundle onto the stick,",
        f"       {bin_}/dropbox export --data {data} --out {usb}/to-console-1.bundle",
        f"     then import it on the console's Import page ({CONSOLE_URL}import); at the",
        f"     first import, compare the server key fingerprint with {fingerprint}.",
        "  2. Console -> server: Respond on a report (status, message, Save), then 'Write the",
        f"     export bundle' ({CONSOLE_URL}export) writes {exports}/wbs-console-00001.bundle;",
        "     carry it back and apply it on the server:",
        f"       {bin_}/dropbox import --data {data} {exports}/wbs-console-00001.bundle",
        f"     The reporter sees the answer at their next login on {SITE_URL}.",
        "  Later bundles count up: to-console-2.bundle, wbs-console-00002.bundle, ...",
    ]


def main() -> int:
    setup()
    spill = Path("/dev/shm")  # noqa: S108 (only checked for existence; the server checks it)
    server_cmd = [str(BIN / "dropbox"), "serve", "--data", str(DATA), "--port", "8080"]
    if not spill.is_dir():
        server_cmd.append("--allow-persistent-spill")
    console_cmd = [str(BIN / "journalist-console"), "serve", "--home", str(CONSOLE_HOME),
                   "--port", "8081"]
    processes = [subprocess.Popen(server_cmd), subprocess.Popen(console_cmd)]
    USB.mkdir(mode=0o700, exist_ok=True)
    print()
    print(f"  Source site:  {SITE_URL}")
    print(f"  Console:      {CONSOLE_URL}   "
          f"(passphrase: contents of {PASSPHRASE.relative_to(ROOT)})")
    print()
    for line in round_trip():
        print(line)
    print()
    print("  Ctrl-C stops both.")
    print(flush=True)
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
