"""Deployment: deploy/install.sh, the systemd units, the tor configuration.

Each check here backs a step of docs/operator.md:
- shellcheck on every shell script;
- `systemd-analyze verify` and `systemd-analyze security` on the units as install.sh writes them,
  and the hardening settings the threat model relies on, read from the unit files;
- `tor --verify-config` on deploy/torrc read after Debian's service defaults, as tor@default
  reads it; then a real tor, network disabled, that must create the v3 onion keys and open no
  listener at all (Debian's defaults open a SOCKS port and a control socket: the torrc must
  switch every one of them off);
- the libraries the site uses (argon2, PyNaCl, SQLCipher, waitress) under a seccomp filter with
  exactly the rules of systemd's MemoryDenyWriteExecute=yes, by running `dropbox serve` and
  filing a report with an attachment over HTTP;
- install.sh in a scratch root (--root): layout, modes, the generated spill drop-in, then
  `dropbox check` on the result; idempotence; never overwriting an instance or a foreign torrc.

The external tools come from scripts/system-packages.txt (installed by `make test`); a test whose
tool is missing is skipped with the reason. The full install on a booted systemd (the real
service under all of its sandboxing, tor creating the onion address) needs root and systemd as
PID 1: deploy/check-in-container.sh runs it in systemd-nspawn (docs/operator.md, section 5).
"""

from __future__ import annotations

import configparser
import html
import http.client
import http.cookiejar
import http.server
import os
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dropbox.cli import _parser as dropbox_parser
from dropbox.maintenance import _check_torrc
from dropbox.serve import RAM_FILESYSTEMS, filesystem_type
from keys import keytypes
from keys.keyfiles import recipient_public_key, verify_public_key, write_public_key
from support.http import CircuitConnection
from support.processes import free_port
from support.proxy import running_proxy

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
UNITS = ("wbs-dropbox.service", "wbs-dropbox-maintain.service", "wbs-dropbox-maintain.timer",
         "wbs-dropbox-proxy.service")
INSTALLED_DROPBOX = "/opt/wbs-dropbox/venv/bin/dropbox"
TOR_DEFAULTS = Path("/usr/share/tor/tor-service-defaults-torrc")
VENV = Path(sys.executable).parent.parent
ONION_V3 = re.compile(r"^[a-z2-7]{56}\.onion$")


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (scripts/system-packages.txt; `make test` has it)")
    return path


def run(
    *args: str | Path, timeout: float = 60, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [str(arg) for arg in args], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def make_keys(directory: Path) -> tuple[Path, Path]:
    """What the console's `journalist-console init` hands the operator: two public-key files."""
    directory.mkdir(parents=True, exist_ok=True)
    recipient = directory / "inspectorate.pub"
    console = directory / "console.pub"
    write_public_key(recipient, recipient_public_key(keytypes.new_recipient_identity()))
    write_public_key(console, verify_public_key(keytypes.new_signing_key()))
    return recipient, console


def install(root: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    if not (VENV / "bin" / "dropbox").exists():
        pytest.skip(f"the test interpreter's environment {VENV} has no bin/dropbox")
    return run("bash", DEPLOY / "install.sh", "--root", root, "--venv", VENV, *args)


def dropbox(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "dropbox.cli", *args)


def snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under root: bytes, mode and mtime (to prove a re-run touched nothing)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            info = path.stat()
            found[str(path.relative_to(root))] = (path.read_bytes(), info.st_mode, info.st_mtime_ns)
    return found


def unit_settings(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as section -> key -> every value (systemd keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


# -- shell scripts ------------------------------------------------------------------------------


def test_shell_scripts_pass_shellcheck() -> None:
    shellcheck = need("shellcheck")
    scripts = sorted(DEPLOY.glob("*.sh")) + sorted((REPO / "scripts").glob("*.sh"))
    assert DEPLOY / "install.sh" in scripts and DEPLOY / "wbs-dropbox.sh" in scripts
    result = run(shellcheck, "--severity=style", "--shell=bash", *scripts)
    assert result.returncode == 0, result.stdout + result.stderr


def test_install_script_is_strict_bash() -> None:
    for script in DEPLOY.glob("*.sh"):
        text = script.read_text("utf-8")
        assert text.startswith("#!/usr/bin/env bash\n"), script
        assert "\nset -euo pipefail\n" in text, script
        assert os.access(script, os.X_OK), f"{script} is not executable"


# -- systemd units ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scratch-root install, shared by the unit checks (the drop-in is generated there)."""
    base = tmp_path_factory.mktemp("scratch")
    recipient, console = make_keys(base / "usb")
    root = base / "root"
    result = install(root, "--recipient", recipient, "--console-key", console,
                     "--upload-limit-mib", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def analyzable_units(root: Path, target: Path) -> list[Path]:
    """The installed units and drop-in, with ExecStart pointing at this test's `dropbox` (the
    live path /opt/wbs-dropbox/venv does not exist here; verify checks that it is executable)."""
    target.mkdir()
    units_dir = root / "etc/systemd/system"
    here = str(VENV / "bin" / "dropbox")
    for path in units_dir.rglob("*"):
        if path.is_file():
            copy = target / path.relative_to(units_dir)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(path.read_text("utf-8").replace(INSTALLED_DROPBOX, here), "utf-8")
    return [target / unit for unit in UNITS]


def systemd_analyze() -> str:
    tool = need("systemd-analyze")
    probe = run(tool, "--version")
    if probe.returncode != 0:
        pytest.skip(f"systemd-analyze cannot run here: {probe.stderr.strip()}")
    return tool


def test_units_pass_systemd_analyze_verify(scratch_install: Path, tmp_path: Path) -> None:
    tool = systemd_analyze()
    units = analyzable_units(scratch_install, tmp_path / "units")
    assert (tmp_path / "units/wbs-dropbox.service.d/50-spill.conf").exists()
    result = run(tool, "verify", "--man=no", *units, cwd=tmp_path)
    # verify exits 0 on unknown keys and bad values, which it only prints: demand silence.
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        result.stdout + result.stderr
    )


def test_systemd_analyze_verify_catches_a_typo(scratch_install: Path, tmp_path: Path) -> None:
    """The check above is not vacuous: a misspelt hardening key is reported."""
    tool = systemd_analyze()
    units = analyzable_units(scratch_install, tmp_path / "units")
    service = units[0]
    service.write_text(service.read_text("utf-8").replace("ProtectClock=", "ProtectClok="))
    result = run(tool, "verify", "--man=no", service, cwd=tmp_path)
    assert "ProtectClok" in result.stdout + result.stderr


@pytest.mark.parametrize(("unit", "threshold"), [
    ("wbs-dropbox.service", 15), ("wbs-dropbox-maintain.service", 10),
    ("wbs-dropbox-proxy.service", 15),
])
def test_units_exposure_is_low(scratch_install: Path, tmp_path: Path, unit: str,
                               threshold: int) -> None:
    """`systemd-analyze security` rates the site and the proxy at most 1.5 and the job at most
    1.0 out of 10."""
    tool = systemd_analyze()
    analyzable_units(scratch_install, tmp_path / "units")
    result = run(tool, "security", "--offline=true", f"--threshold={threshold}", "--no-pager",
                 tmp_path / "units" / unit, cwd=tmp_path)
    if "Unknown option" in result.stderr or "unrecognized option" in result.stderr:
        pytest.skip(f"this systemd-analyze has no offline security review: {result.stderr}")
    exposure = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert result.returncode == 0 and exposure, result.stdout[-3000:] + result.stderr
    assert float(exposure.group(1)) * 10 <= threshold


HARDENING = {
    "User": "wbs-dropbox",
    "Group": "wbs-dropbox",
    "UMask": "0077",
    "ProtectSystem": "strict",
    "ReadWritePaths": "/var/lib/wbs-dropbox",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "PrivateDevices": "yes",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
    "IPAddressDeny": "any",
    "LimitCORE": "0",
    "MemorySwapMax": "0",
    "LogNamespace": "wbs-dropbox",
}


@pytest.mark.parametrize("unit", ["wbs-dropbox.service", "wbs-dropbox-maintain.service"])
def test_units_carry_the_hardening(unit: str) -> None:
    service = unit_settings(DEPLOY / "systemd" / unit)["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{unit}: {key}={service.get(key)}"
    assert "@system-service" in service["SystemCallFilter"]
    assert "~@privileged @resources" in service["SystemCallFilter"]
    assert "MemoryMax" in service and "TasksMax" in service
    families = set(service["RestrictAddressFamilies"][0].split())
    assert families <= {"AF_INET", "AF_INET6", "AF_UNIX"}


def test_site_unit_runs_the_site_on_loopback_with_a_ram_spill() -> None:
    service = unit_settings(DEPLOY / "systemd/wbs-dropbox.service")["Service"]
    assert service["IPAddressAllow"] == ["localhost"]
    assert service["RuntimeDirectory"] == ["wbs-dropbox"]
    assert service["RuntimeDirectoryMode"] == ["0700"]
    argv = service["ExecStart"][0].split()
    assert argv[0] == INSTALLED_DROPBOX
    # The arguments must still be accepted by the server's own command line.
    args = dropbox_parser().parse_args(argv[1:])
    assert (args.command, str(args.data), args.host, args.port) == (
        "serve", "/var/lib/wbs-dropbox", "127.0.0.1", 8090)
    assert str(args.spill_dir) == "/run/wbs-dropbox/spill"
    assert not args.allow_persistent_spill and not args.allow_public_bind


PROXY_HARDENING = {
    key: value for key, value in HARDENING.items()
    if key not in ("User", "Group", "ReadWritePaths")
} | {"DynamicUser": "yes", "IPAddressAllow": "localhost"}


def test_proxy_unit_carries_the_hardening() -> None:
    """The proxy runs as a user of its own, made for the run, under the site's sandbox; only
    @resources is allowed, since HAProxy sets its own file limit and stops if it cannot."""
    service = unit_settings(DEPLOY / "systemd/wbs-dropbox-proxy.service")["Service"]
    for key, value in PROXY_HARDENING.items():
        assert service.get(key) == [value], f"{key}={service.get(key)}"
    assert service["SystemCallFilter"] == ["@system-service", "~@privileged"]
    assert "MemoryMax" in service and "TasksMax" in service
    assert "ReadWritePaths" not in service and "User" not in service


def test_proxy_unit_sits_between_tor_and_the_site() -> None:
    """The addresses agree end to end: tor's onion port leads to the proxy's front, the proxy's
    back to the port the site unit serves on; the proxy runs the shipped configuration."""
    proxy = unit_settings(DEPLOY / "systemd/wbs-dropbox-proxy.service")["Service"]
    env = dict(item.split("=", 1) for line in proxy["Environment"] for item in line.split())
    torrc = (DEPLOY / "torrc").read_text("utf-8")
    assert f"HiddenServicePort 80 {env['WBS_FRONT']}\n" in torrc
    assert "HiddenServiceExportCircuitID haproxy\n" in torrc
    site = unit_settings(DEPLOY / "systemd/wbs-dropbox.service")["Service"]
    args = dropbox_parser().parse_args(site["ExecStart"][0].split()[1:])
    assert env["WBS_BACKEND"] == f"{args.host}:{args.port}"
    assert proxy["ExecStart"] == [
        "/usr/sbin/haproxy -Ws -f /opt/wbs-dropbox/src/deploy/haproxy.cfg"]
    assert proxy["Type"] == ["notify"]


def test_maintenance_runs_daily_without_network() -> None:
    service = unit_settings(DEPLOY / "systemd/wbs-dropbox-maintain.service")["Service"]
    assert service["Type"] == ["oneshot"] and service["PrivateNetwork"] == ["yes"]
    args = dropbox_parser().parse_args(service["ExecStart"][0].split()[1:])
    assert (args.command, str(args.data)) == ("maintain", "/var/lib/wbs-dropbox")
    timer = unit_settings(DEPLOY / "systemd/wbs-dropbox-maintain.timer")["Timer"]
    assert timer["OnCalendar"] == ["daily"] and timer["Persistent"] == ["true"]


def test_journal_namespace_is_kept_in_ram() -> None:
    config = configparser.ConfigParser()
    config.read(DEPLOY / "journald/journald@wbs-dropbox.conf")
    assert config["Journal"]["Storage"] == "volatile"
    assert config["Journal"]["ForwardToSyslog"] == "no"


# -- tor ----------------------------------------------------------------------------------------


def torrc_for_test(tmp_path: Path) -> Path:
    """deploy/torrc with the onion service directory moved into tmp_path."""
    hs_dir = tmp_path / "hs"
    text = (DEPLOY / "torrc").read_text("utf-8")
    assert "HiddenServiceDir /var/lib/tor/wbs-dropbox/" in text
    torrc = tmp_path / "torrc"
    torrc.write_text(text.replace("/var/lib/tor/wbs-dropbox/", f"{hs_dir}/"), "utf-8")
    return torrc


def defaults_for_test(tmp_path: Path) -> Path:
    """Debian's tor-service-defaults-torrc (what tor@default reads first; an empty file where
    tor does not come from Debian), without its `User debian-tor`: the test's tor keeps the
    test's user, who owns the temporary data directory."""
    defaults = tmp_path / "defaults-torrc"
    text = TOR_DEFAULTS.read_text("utf-8") if TOR_DEFAULTS.exists() else ""
    lines = [line for line in text.splitlines() if not line.startswith("User ")]
    defaults.write_text("\n".join(lines) + "\n", "utf-8")
    return defaults


def test_torrc_passes_the_drop_box_check() -> None:
    assert _check_torrc(DEPLOY / "torrc") == []


def test_the_drop_box_check_wants_circuit_ids_for_the_proxy(tmp_path: Path) -> None:
    """Without HiddenServiceExportCircuitID, every stream reaches HAProxy from tor's own address:
    one flooding circuit would spend every circuit's allowance."""
    torrc = tmp_path / "torrc"
    torrc.write_text((DEPLOY / "torrc").read_text("utf-8").replace(
        "HiddenServiceExportCircuitID haproxy\n", ""))
    assert _check_torrc(torrc) == [
        "torrc: HiddenServiceExportCircuitID haproxy is missing (HAProxy cannot tell circuits "
        "apart)"]


def test_torrc_passes_tor_verify_config(tmp_path: Path) -> None:
    tor = need("tor")
    result = run(tor, "--defaults-torrc", defaults_for_test(tmp_path),
                 "-f", torrc_for_test(tmp_path), "--DataDirectory", tmp_path / "data",
                 "--verify-config")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration was valid" in result.stdout


def test_tor_verify_config_rejects_a_bad_option(tmp_path: Path) -> None:
    tor = need("tor")
    torrc = torrc_for_test(tmp_path)
    torrc.write_text(torrc.read_text("utf-8") + "HiddenServicePoWDefensesEnabld 1\n")
    result = run(tor, "--defaults-torrc", defaults_for_test(tmp_path),
                 "-f", torrc, "--DataDirectory", tmp_path / "data", "--verify-config")
    assert result.returncode != 0


def run_tor_isolated(tmp_path: Path, torrc: Path) -> tuple[str, list[str]]:
    """Runs tor until it has written the onion address; returns the address and the listeners it
    opened (from its log). Its only way out is a bridge on 127.0.0.1:9 that does not exist, so
    it reaches nothing, yet opens its listeners as it would in service (DisableNetwork would
    suppress them and make the check vacuous)."""
    tor = need("tor")
    log = tmp_path / "tor.log"
    process = subprocess.Popen(
        [tor, "--defaults-torrc", str(defaults_for_test(tmp_path)), "-f", str(torrc),
         "--DataDirectory", str(tmp_path / "data"), "--PidFile", str(tmp_path / "tor.pid"),
         "--RunAsDaemon", "0", "--UseBridges", "1", "--Bridge", "127.0.0.1:9",
         "--Log", f"notice file {log}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    hostname = tmp_path / "hs" / "hostname"
    try:
        deadline = time.monotonic() + 30
        while not (hostname.exists() and hostname.read_text().strip()):
            assert process.poll() is None, log.read_text() if log.exists() else "tor exited"
            assert time.monotonic() < deadline, "tor wrote no onion address in 30 s"
            time.sleep(0.1)
        time.sleep(0.5)  # let it finish acting on the configuration
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert stat.S_IMODE((tmp_path / "hs").stat().st_mode) == 0o700
    listeners = [line for line in log.read_text().splitlines()
                 if re.search(r"Open(ing|ed) [\w ]+ listener", line)]
    return hostname.read_text().strip(), listeners


def test_tor_creates_the_onion_service_and_opens_no_listener(tmp_path: Path) -> None:
    """A real tor (cut off from the network): it writes a v3 onion address and opens no port or
    socket (Debian's defaults ask for SOCKS on 9050 and /run/tor/socks, and a control socket)."""
    onion, listeners = run_tor_isolated(tmp_path, torrc_for_test(tmp_path))
    assert ONION_V3.match(onion), onion
    assert listeners == [], listeners


def test_tor_listener_detection_is_not_vacuous(tmp_path: Path) -> None:
    """The control for the test above: a torrc with a SOCKS port is caught."""
    torrc = torrc_for_test(tmp_path)
    text = torrc.read_text("utf-8").replace("SocksPort 0\n", "SocksPort 127.0.0.1:auto\n")
    torrc.write_text(text, "utf-8")
    _, listeners = run_tor_isolated(tmp_path, torrc)
    assert any("Socks listener" in line for line in listeners), listeners


# -- MemoryDenyWriteExecute ---------------------------------------------------------------------

# systemd's MemoryDenyWriteExecute=yes (seccomp_memory_deny_write_execute): refuse with EPERM
# mmap() asking for write and execute together, mprotect()/pkey_mprotect() adding execute, and
# shmat() with SHM_EXEC. The launcher loads these rules, then becomes the given program.
MDWE_LAUNCHER = """
import errno, mmap, os, sys, seccomp
f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
wx = mmap.PROT_WRITE | mmap.PROT_EXEC
f.add_rule(seccomp.ERRNO(errno.EPERM), "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, wx))
for call in ("mprotect", "pkey_mprotect"):
    f.add_rule(seccomp.ERRNO(errno.EPERM), call,
               seccomp.Arg(2, seccomp.MASKED_EQ, mmap.PROT_EXEC, mmap.PROT_EXEC))
shm_exec = 0o100000
f.add_rule(seccomp.ERRNO(errno.EPERM), "shmat",
           seccomp.Arg(2, seccomp.MASKED_EQ, shm_exec, shm_exec))
f.load()
os.execv(sys.argv[1], sys.argv[1:])
"""


def mdwe_launcher() -> list[str]:
    system_python = Path("/usr/bin/python3")
    if not system_python.exists() or run(system_python, "-c", "import seccomp").returncode != 0:
        pytest.skip("python3-seccomp is not installed (scripts/system-packages.txt)")
    launcher = [str(system_python), "-c", MDWE_LAUNCHER]
    probe = run(*launcher, "/bin/true")
    if probe.returncode != 0:
        pytest.skip(f"this environment refuses seccomp filters: {probe.stderr.strip()[-300:]}")
    return launcher


def test_mdwe_filter_is_in_force() -> None:
    """The control: under the launcher, a writable and executable mapping is refused."""
    result = run(*mdwe_launcher(), sys.executable, "-c",
                 "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE"
                 " | mmap.PROT_EXEC)")
    assert result.returncode != 0 and "PermissionError" in result.stderr, result.stderr


@pytest.fixture
def ram_dir() -> Iterator[Path]:
    shm = Path("/dev/shm")  # noqa: S108
    if not shm.is_dir() or filesystem_type(shm) not in RAM_FILESYSTEMS:
        pytest.skip("no tmpfs at /dev/shm for the spill directory")
    path = shm / f"wbs-deploy-test-{secrets.token_hex(6)}"
    path.mkdir(mode=0o700)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def file_a_report(port: int, attachment: bytes) -> str:
    """The reporter's journey over HTTP, as Tor Browser would send it (cookies kept, redirects
    followed); returns the regno."""
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def post(path: str, data: bytes, content_type: str = "application/x-www-form-urlencoded"
             ) -> http.client.HTTPResponse:
        return opener.open(urllib.request.Request(  # noqa: S310 (a fixed http://127.0.0.1 URL)
            base + path, data=data, method="POST", headers={"Content-Type": content_type}),
            timeout=60)

    page = opener.open(base + "/generate", timeout=30).read().decode()
    pending = re.search(r'name="pending" value="([^"]+)"', page)
    shown = re.search(r'id="codename">([^<]+)<', page)
    assert pending and shown
    confirm = post("/confirm", urllib.parse.urlencode({"pending": pending.group(1)}).encode())
    words = shown.group(1).split()
    typed = {f"word{n}": words[int(n) - 1]
             for n in re.findall(r'name="word(\d+)"', confirm.read().decode())}
    assert typed
    created = post("/create", urllib.parse.urlencode({"pending": pending.group(1), **typed})
                   .encode())
    assert created.url == base + "/submit"  # the redirect after /create: the report form
    action = re.search(r'<form method="post" action="(/submit\?ticket=[^"]+)"',
                       created.read().decode())
    assert action
    boundary = secrets.token_hex(16)
    fields = {"category": "procurement_fraud", "relation": "employee",
              "what": "Pengadaan laptop digelembungkan"}
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        .encode() for name, value in fields.items()
    ) + (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="bukti.bin"'
         f'\r\nContent-Type: application/octet-stream\r\n\r\n').encode() + attachment + (
        f"\r\n--{boundary}--\r\n").encode()
    reply = post(html.unescape(action.group(1)), body, f"multipart/form-data; boundary={boundary}")
    # POST, then the redirect to the thank-you page, which shows the register number.
    assert reply.url == base + "/thanks"
    regno = re.search(r'id="regno">([^<]+)<', reply.read().decode())
    assert reply.status == 200 and regno
    return regno.group(1)


def test_site_works_under_memory_deny_write_execute(tmp_path: Path, ram_dir: Path) -> None:
    """`dropbox serve` (waitress, Flask, argon2 at full cost, PyNaCl, SQLCipher) under the
    MemoryDenyWriteExecute rules: a report with a 2 MiB attachment, which waitress spills to the
    tmpfs before the app sees it, is filed and stored."""
    launcher = mdwe_launcher()
    recipient, console = make_keys(tmp_path / "usb")
    data = tmp_path / "data"
    created = dropbox("init", "--data", data, "--recipient", recipient, "--console-key", console,
                      "--upload-limit-mib", "8")
    assert created.returncode == 0, created.stderr
    port = free_port()
    server = subprocess.Popen(
        [*launcher, sys.executable, "-m", "dropbox.cli", "serve", "--data", str(data),
         "--port", str(port), "--spill-dir", str(ram_dir / "spill"), "--threads", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the site did not start"
                time.sleep(0.1)
        regno = file_a_report(port, os.urandom(2 * 1024 * 1024))
        assert regno.startswith("WBS-")
        assert server.poll() is None
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "MemoryError" not in output and "PermissionError" not in output, output
    stored = sorted((data / "store" / "items").glob("*.env"))
    assert len(stored) == 2 and max(path.stat().st_size for path in stored) > 2 * 1024 * 1024


def test_proxy_works_under_memory_deny_write_execute(tmp_path: Path) -> None:
    """HAProxy with the shipped configuration, under the MemoryDenyWriteExecute rules of its
    unit, passes a circuit's request to the site and its own 429 page to a circuit over a cap."""
    launcher = mdwe_launcher()
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TinySite)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        with running_proxy(site.server_address[1], tmp_path / "proxy",
                           launcher=launcher) as proxy:
            statuses = []
            for _ in range(12):
                connection = CircuitConnection("127.0.0.1", proxy.port, circuit=77, timeout=10)
                connection.request("POST", "/login", body=b"codename=x",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
                statuses.append(connection.getresponse().status)
                connection.close()
            assert proxy.process.poll() is None
    finally:
        site.shutdown()
    assert statuses == [200] * 10 + [429] * 2, statuses
    assert "Permission denied" not in proxy.log_text(), proxy.log_text()


class _TinySite(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (the handler API's name)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


# -- install.sh in a scratch root ---------------------------------------------------------------


def test_scratch_install_layout(scratch_install: Path) -> None:
    root = scratch_install
    data = root / "var/lib/wbs-dropbox"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in [data, *data.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is open to others"
    assert (data / "config.json").exists() and (data / "server.pub").exists()
    for unit in UNITS:
        installed = root / "etc/systemd/system" / unit
        assert installed.read_bytes() == (DEPLOY / "systemd" / unit).read_bytes()
        assert stat.S_IMODE(installed.stat().st_mode) == 0o644
    assert (root / "etc/tor/torrc").read_bytes() == (DEPLOY / "torrc").read_bytes()
    assert (root / "etc/systemd/journald@wbs-dropbox.conf").exists()
    tool = root / "usr/local/sbin/wbs-dropbox"
    assert os.access(tool, os.X_OK)
    source = root / "opt/wbs-dropbox/src"
    for needed in ("dropbox/cli.py", "keys", "templates/source", "setup.cfg", "pyproject.toml"):
        assert (source / needed).exists(), needed


def test_scratch_install_sizes_the_spill_for_the_upload_limit(scratch_install: Path) -> None:
    dropin = scratch_install / "etc/systemd/system/wbs-dropbox.service.d/50-spill.conf"
    service = unit_settings(dropin)["Service"]
    # Upload limit 4 MiB: two maximal bodies (limit + 2 MiB of form overhead each) + 64 MiB.
    spill = 2 * (4 + 2) + 64
    assert service["TemporaryFileSystem"] == [
        f"/run/wbs-dropbox/spill:size={spill}M,mode=0700,uid={os.getuid()},gid={os.getgid()},"
        "nosuid,nodev,noexec"]
    assert service["MemoryMax"] == [f"{spill + 768}M"]


def test_dropbox_check_passes_on_the_scratch_install(scratch_install: Path,
                                                     ram_dir: Path) -> None:
    data = scratch_install / "var/lib/wbs-dropbox"
    torrc = scratch_install / "etc/tor/torrc"
    result = dropbox("check", "--data", data, "--torrc", torrc, "--spill-dir", ram_dir / "spill")
    assert result.returncode == 0 and result.stdout.rstrip().endswith("OK"), result.stdout
    assert "PROBLEM" not in result.stdout
    assert re.search(r"server key\s+[A-Z2-7]{4}( [A-Z2-7]{4}){3}", result.stdout)


def test_dropbox_check_without_a_tmpfs_fails_only_on_the_spill(scratch_install: Path) -> None:
    """What a scratch root cannot provide is the RAM-backed /run/wbs-dropbox: checked against a
    spill directory on the scratch root's disk, that is the one and only problem."""
    data = scratch_install / "var/lib/wbs-dropbox"
    spill = scratch_install / "run/wbs-dropbox/spill"
    result = dropbox("check", "--data", data, "--torrc", scratch_install / "etc/tor/torrc",
                     "--spill-dir", spill)
    problems = [line for line in result.stdout.splitlines() if "PROBLEM" in line]
    if filesystem_type(scratch_install) in RAM_FILESYSTEMS:
        assert problems == [] and result.returncode == 0
    else:
        assert len(problems) == 1 and "not tmpfs" in problems[0], result.stdout
        assert result.returncode == 1


def test_install_is_idempotent_and_keeps_the_instance(tmp_path: Path) -> None:
    recipient, console = make_keys(tmp_path / "usb")
    root = tmp_path / "root"
    first = install(root, "--recipient", recipient, "--console-key", console,
                    "--upload-limit-mib", "4")
    assert first.returncode == 0, first.stderr
    before = snapshot(root)
    # Again, even with other keys given: nothing changes, the instance's keys stay.
    other_recipient, other_console = make_keys(tmp_path / "other")
    again = install(root, "--recipient", other_recipient, "--console-key", other_console)
    assert again.returncode == 0, again.stderr
    assert "installed" not in again.stdout and "creating" not in again.stdout
    assert "already holds an instance" in again.stderr
    assert snapshot(root) == before


def test_install_refuses_a_first_run_without_keys(tmp_path: Path) -> None:
    result = install(tmp_path / "root")
    assert result.returncode != 0
    assert "--recipient" in result.stderr and "--console-key" in result.stderr
    assert not (tmp_path / "root/var/lib/wbs-dropbox/config.json").exists()


def test_install_refuses_a_bad_key_file(tmp_path: Path) -> None:
    recipient, console = make_keys(tmp_path / "usb")
    result = install(tmp_path / "root", "--recipient", console, "--console-key", recipient)
    assert result.returncode != 0
    assert not (tmp_path / "root/var/lib/wbs-dropbox/config.json").exists()


def test_install_never_initialises_over_foreign_files(tmp_path: Path) -> None:
    recipient, console = make_keys(tmp_path / "usb")
    data = tmp_path / "root/var/lib/wbs-dropbox"
    data.mkdir(parents=True)
    (data / "something-else").write_text("not ours")
    result = install(tmp_path / "root", "--recipient", recipient, "--console-key", console)
    assert result.returncode != 0 and "not empty" in result.stderr
    assert sorted(path.name for path in data.iterdir()) == ["something-else"]


def test_install_keeps_a_foreign_torrc_unless_told(tmp_path: Path) -> None:
    recipient, console = make_keys(tmp_path / "usb")
    root = tmp_path / "root"
    torrc = root / "etc/tor/torrc"
    torrc.parent.mkdir(parents=True)
    torrc.write_text("ORPort 9001\nNickname somerelay\n")
    refused = install(root, "--recipient", recipient, "--console-key", console)
    assert refused.returncode != 0 and "--replace-torrc" in refused.stderr
    assert torrc.read_text() == "ORPort 9001\nNickname somerelay\n"
    assert sorted(path.name for path in root.iterdir()) == ["etc"]  # refused before any change
    replaced = install(root, "--replace-torrc", "--recipient", recipient, "--console-key", console)
    assert replaced.returncode == 0, replaced.stderr
    assert torrc.read_bytes() == (DEPLOY / "torrc").read_bytes()
    assert (root / "etc/tor/torrc.before-wbs-dropbox").read_text().startswith("ORPort 9001")


def test_install_replaces_debians_default_torrc(tmp_path: Path) -> None:
    recipient, console = make_keys(tmp_path / "usb")
    root = tmp_path / "root"
    torrc = root / "etc/tor/torrc"
    torrc.parent.mkdir(parents=True)
    torrc.write_text("## Configuration file for a typical Tor user\n#SocksPort 9050\n\n")
    result = install(root, "--recipient", recipient, "--console-key", console)
    assert result.returncode == 0, result.stderr
    assert torrc.read_bytes() == (DEPLOY / "torrc").read_bytes()


def test_install_rejects_unknown_arguments_and_venv_without_root(tmp_path: Path) -> None:
    unknown = run("bash", DEPLOY / "install.sh", "--root", tmp_path / "r", "--frobnicate")
    assert unknown.returncode != 0 and "unknown argument" in unknown.stderr
    live_venv = run("bash", DEPLOY / "install.sh", "--venv", VENV)
    assert live_venv.returncode != 0 and "--root" in live_venv.stderr
    assert not (tmp_path / "r/var").exists()
