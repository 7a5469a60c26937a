"""Run the whole product locally with demo keys (`make demo`).

Creates, once, under .demo/: an investigator console home with a demo passphrase, and a server
instance initialised with the console's public keys. Then runs the source site on
http://127.0.0.1:8080 and the console on http://127.0.0.1:8081 until Ctrl-C.
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


def main() -> int:
    setup()
    spill = Path("/dev/shm")  # noqa: S108 (only checked for existence; the server checks it)
    server_cmd = [str(BIN / "dropbox"), "serve", "--data", str(DATA), "--port", "8080"]
    if not spill.is_dir():
        server_cmd.append("--allow-persistent-spill")
    console_cmd = [str(BIN / "journalist-console"), "serve", "--home", str(CONSOLE_HOME),
                   "--port", "8081"]
    processes = [subprocess.Popen(server_cmd), subprocess.Popen(console_cmd)]
    print()
    print("  Source site:  http://127.0.0.1:8080/")
    print("  Console:      http://127.0.0.1:8081/   "
          f"(passphrase: contents of {PASSPHRASE.relative_to(ROOT)})")
    print("  Carry reports: .venv/bin/dropbox export --data .demo/data --out /tmp/out.bundle && "
          ".venv/bin/journalist-console import --home .demo/console "
          "--passphrase-file .demo/demo-passphrase.txt --server-key .demo/data/server.pub "
          "/tmp/out.bundle")
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
