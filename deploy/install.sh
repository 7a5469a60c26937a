#!/usr/bin/env bash
# Installs or upgrades the WBS drop box on Debian 12 or 13 as a Tor v3 onion service.
# The procedure around it (key ceremony, first run, upgrades) is docs/operator.md.
#
#   sudo deploy/install.sh --recipient inspectorate.pub --console-key console.pub   # first install
#   sudo deploy/install.sh                                                          # upgrade/re-run
#
# Idempotent: a second run changes nothing that is already right. It never overwrites an existing
# instance or key: `dropbox init` runs only when /var/lib/wbs-dropbox holds no instance.
#
# What it does: installs tor, haproxy and python3-venv from Debian (only the missing ones), and
# disables Debian's own haproxy.service (the drop box runs its own, wbs-dropbox-proxy); creates the
# system user wbs-dropbox; copies the source tree this script lives in to /opt/wbs-dropbox/src and
# installs it (editable, so the templates beside the packages are found) into the virtualenv
# /opt/wbs-dropbox/venv; creates /var/lib/wbs-dropbox (0700); runs `dropbox init` if there is no
# instance yet; installs the systemd units, a drop-in sizing the upload spill tmpfs, the tor
# configuration and the admin command /usr/local/sbin/wbs-dropbox; starts tor, HAProxy, the site
# and the daily timer; waits for the onion address and prints it with the server key and
# `dropbox check`.
#
# --root DIR installs into a scratch root instead (for tests): every path is placed under DIR and
# nothing on the live system is touched (no apt, no user, no chown, no systemctl, no tor restart).
set -euo pipefail

readonly SERVICE_USER=wbs-dropbox
readonly PREFIX=/opt/wbs-dropbox
readonly SRC_DIR=$PREFIX/src
readonly VENV_DIR=$PREFIX/venv
readonly DATA_DIR=/var/lib/wbs-dropbox
readonly UNIT_DIR=/etc/systemd/system
readonly TORRC=/etc/tor/torrc
readonly TOR_DEFAULTS=/usr/share/tor/tor-service-defaults-torrc
readonly HS_DIR=/var/lib/tor/wbs-dropbox
readonly ADMIN_TOOL=/usr/local/sbin/wbs-dropbox
readonly TORRC_MARKER="managed by deploy/install.sh"
readonly DEBIAN_PACKAGES=(tor haproxy python3 python3-venv)
# The source tree copied to /opt/wbs-dropbox/src: the packages, their templates and build files.
readonly SOURCE_ITEMS=(pyproject.toml setup.cfg README.md keys dropbox journalist_console templates docs deploy)

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$DEPLOY_DIR/.." && pwd)
readonly DEPLOY_DIR REPO_DIR

ROOT=""
VENV_OVERRIDE=""
WHEELHOUSE=""
START=1
REPLACE_TORRC=0
UPLOAD_LIMIT_MIB=""
SPILL_MIB=""
RECIPIENTS=()
CONSOLE_KEYS=()
CHANGED_SITE=0
CHANGED_PROXY=0
CHANGED_TOR=0
CHANGED_JOURNAL=0
WORK_DIR=""
STAGED_SRC=""

usage() {
  cat <<'EOF'
usage: install.sh [options]

First install (no instance in /var/lib/wbs-dropbox yet):
  --recipient FILE        an inspectorate recipient public key (inspectorate.pub); repeatable
  --console-key FILE      the console's verify key (console.pub); repeatable
  --upload-limit-mib N    largest submission in MiB (default: the server's, 1024)

Any run:
  --spill-mib N           size of the upload spill tmpfs in MiB
                          (default: room for two maximal uploads at once)
  --wheelhouse DIR        install Python packages from DIR only (pip --no-index), no PyPI
  --replace-torrc         replace an /etc/tor/torrc that has settings of its own (a copy is kept)
  --no-start              install everything but do not start or restart services

Testing:
  --root DIR              install into the scratch root DIR; touch nothing on this system
  --venv PATH             with --root: use this existing virtualenv (with the project installed)
                          instead of building one
  -h, --help              this text
EOF
}

say() { printf '==> %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() {
  printf 'install.sh: error: %s\n' "$*" >&2
  exit 1
}

cleanup() {
  local dir
  for dir in "$WORK_DIR" "$STAGED_SRC"; do
    if [ -n "$dir" ] && [ -d "$dir" ]; then
      rm -rf -- "$dir"
    fi
  done
}
trap cleanup EXIT

# The path of a system path in the target root.
at() { printf '%s%s' "$ROOT" "$1"; }

live() { [ -z "$ROOT" ]; }

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --recipient) RECIPIENTS+=("${2:?--recipient needs a file}"); shift 2 ;;
      --console-key) CONSOLE_KEYS+=("${2:?--console-key needs a file}"); shift 2 ;;
      --upload-limit-mib) UPLOAD_LIMIT_MIB=${2:?--upload-limit-mib needs a number}; shift 2 ;;
      --spill-mib) SPILL_MIB=${2:?--spill-mib needs a number}; shift 2 ;;
      --wheelhouse) WHEELHOUSE=${2:?--wheelhouse needs a directory}; shift 2 ;;
      --replace-torrc) REPLACE_TORRC=1; shift ;;
      --no-start) START=0; shift ;;
      --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
      --venv) VENV_OVERRIDE=${2:?--venv needs a directory}; shift 2 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
  done
  for number in "$UPLOAD_LIMIT_MIB" "$SPILL_MIB"; do
    if [ -n "$number" ] && ! [[ "$number" =~ ^[1-9][0-9]*$ ]]; then
      die "not a positive whole number: $number"
    fi
  done
  if [ -n "$ROOT" ]; then
    mkdir -p -- "$ROOT"
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" != / ] || die "--root / is the live system; run without --root instead"
    START=0
  elif [ -n "$VENV_OVERRIDE" ]; then
    die "--venv is for --root test installs only"
  fi
  if [ -n "$VENV_OVERRIDE" ] && [ ! -x "$VENV_OVERRIDE/bin/dropbox" ]; then
    die "--venv $VENV_OVERRIDE has no bin/dropbox (install the project into it first)"
  fi
  local file
  for file in "${RECIPIENTS[@]}" "${CONSOLE_KEYS[@]}"; do
    if [ ! -f "$file" ] || [ ! -r "$file" ]; then
      die "cannot read key file $file"
    fi
  done
}

check_system() {
  if ! live; then
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo deploy/install.sh ...)"
  local id="" version=""
  if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    id=$(. /etc/os-release && printf '%s' "${ID:-}")
    # shellcheck disable=SC1091
    version=$(. /etc/os-release && printf '%s' "${VERSION_ID:-}")
  fi
  if [ "$id" != debian ] || { [ "$version" != 12 ] && [ "$version" != 13 ]; }; then
    die "this installer supports Debian 12 and 13 only (found: ${id:-unknown} ${version:-})"
  fi
  [ -d /run/systemd/system ] || die "systemd is not running as the init system"
}

install_packages() {
  if ! live; then
    return
  fi
  local missing=() package
  for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

ensure_user() {
  if ! live; then
    return
  fi
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    say "creating system user $SERVICE_USER"
    useradd --system --user-group --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin --comment "WBS drop box" "$SERVICE_USER"
  fi
  passwd --lock "$SERVICE_USER" >/dev/null 2>&1 || true
}

# install_file SOURCE DEST MODE: copies only when the content or mode differs; returns 0 if it
# changed something, 1 if DEST was already right.
install_file() {
  local source=$1 dest=$2 mode=$3
  if [ -f "$dest" ] && cmp -s "$source" "$dest" &&
    [ "$(stat -c %a "$dest")" = "${mode#0}" ]; then
    return 1
  fi
  mkdir -p -- "$(dirname "$dest")"
  install -m "$mode" -- "$source" "$dest"
  return 0
}

install_source() {
  local dest staged item
  dest=$(at "$SRC_DIR")
  mkdir -p -- "$(at "$PREFIX")"
  chmod 0755 "$(at "$PREFIX")"
  staged=$(mktemp -d "$(at "$PREFIX")/src.new.XXXXXX")
  STAGED_SRC=$staged
  for item in "${SOURCE_ITEMS[@]}"; do
    [ -e "$REPO_DIR/$item" ] || die "source tree $REPO_DIR has no $item"
    cp -R -- "$REPO_DIR/$item" "$staged/"
  done
  find "$staged" \( -name __pycache__ -o -name '*.pyc' -o -name '*.egg-info' \) -prune \
    -exec rm -rf {} +
  chmod -R u=rwX,go=rX "$staged"
  if [ -d "$dest" ] && diff -r -q -x __pycache__ -x '*.egg-info' -x build \
    "$staged" "$dest" >/dev/null 2>&1; then
    rm -rf -- "$staged"
    STAGED_SRC=""
    return
  fi
  # The proxy reads its configuration and error pages from the source tree.
  if ! diff -r -q "$staged/deploy/haproxy.cfg" "$dest/deploy/haproxy.cfg" >/dev/null 2>&1 ||
    ! diff -r -q "$staged/deploy/haproxy-errors" "$dest/deploy/haproxy-errors" >/dev/null 2>&1; then
    CHANGED_PROXY=1
  fi
  say "installing the source tree in $SRC_DIR"
  rm -rf -- "$dest"
  mv -- "$staged" "$dest"
  STAGED_SRC=""
  CHANGED_SITE=1
}

dropbox_bin() {
  if [ -n "$VENV_OVERRIDE" ]; then
    printf '%s/bin/dropbox' "$VENV_OVERRIDE"
  else
    printf '%s/bin/dropbox' "$(at "$VENV_DIR")"
  fi
}

venv_python() {
  if [ -n "$VENV_OVERRIDE" ]; then
    printf '%s/bin/python' "$VENV_OVERRIDE"
  else
    printf '%s/bin/python' "$(at "$VENV_DIR")"
  fi
}

install_venv() {
  if [ -n "$VENV_OVERRIDE" ]; then
    say "using the existing virtualenv $VENV_OVERRIDE (test install)"
    return
  fi
  local venv python
  venv=$(at "$VENV_DIR")
  python=$venv/bin/python
  # A Debian release upgrade replaces the Python the venv was built on: rebuild it then.
  if [ -d "$venv" ]; then
    local built_for current
    built_for=$(sed -n 's/^version *= *\([0-9]*\.[0-9]*\).*/\1/p' "$venv/pyvenv.cfg" 2>/dev/null || true)
    current=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if [ "$built_for" != "$current" ] || ! "$python" -c 'import sys' >/dev/null 2>&1; then
      warn "the virtualenv $VENV_DIR was built for Python ${built_for:-?}, not $current; rebuilding it"
      rm -rf -- "$venv"
    fi
  fi
  if [ ! -d "$venv" ]; then
    say "creating the virtualenv $VENV_DIR"
    python3 -m venv "$venv"
    CHANGED_SITE=1
  fi
  local pip_args=(--quiet --no-input --disable-pip-version-check --require-virtualenv)
  if [ -n "$WHEELHOUSE" ]; then
    pip_args+=(--no-index --find-links "$WHEELHOUSE")
  fi
  if [ "$CHANGED_SITE" -eq 1 ] || ! "$python" -c 'import dropbox.cli' >/dev/null 2>&1; then
    say "installing the drop box into $VENV_DIR"
    "$python" -m pip install "${pip_args[@]}" --editable "$(at "$SRC_DIR")"
    # The service's file system is read-only: compile now, not at every start.
    "$python" -m compileall -q "$(at "$SRC_DIR")" >/dev/null || true
    CHANGED_SITE=1
  fi
  chmod -R u=rwX,go=rX "$venv"
}

# Runs a command as the service user (live) or as the invoking user (scratch root).
as_service() {
  if live; then
    runuser -u "$SERVICE_USER" -- "$@"
  else
    "$@"
  fi
}

ensure_data_dir() {
  local data
  data=$(at "$DATA_DIR")
  if [ ! -d "$data" ]; then
    say "creating $DATA_DIR"
    mkdir -p -- "$(dirname "$data")"
    mkdir -m 0700 -- "$data"
  fi
  chmod 0700 "$data"
  if live; then
    # Anything a root shell left inside must still be readable by the service only.
    chown -R "$SERVICE_USER:$SERVICE_USER" "$data"
    chmod -R go-rwx "$data"
  fi
}

init_instance() {
  local data bin
  data=$(at "$DATA_DIR")
  bin=$(dropbox_bin)
  if [ -e "$data/config.json" ]; then
    if [ ${#RECIPIENTS[@]} -gt 0 ] || [ ${#CONSOLE_KEYS[@]} -gt 0 ]; then
      warn "$DATA_DIR already holds an instance: its keys are kept and the key files given" \
        "are ignored (to add a recipient key, see docs/operator.md, \"Key rotation\")"
    fi
    return
  fi
  if [ ${#RECIPIENTS[@]} -eq 0 ] || [ ${#CONSOLE_KEYS[@]} -eq 0 ]; then
    die "no instance in $DATA_DIR yet: give the inspectorate's keys with" \
      "--recipient inspectorate.pub --console-key console.pub (docs/operator.md, key ceremony)"
  fi
  # The key files may sit where the service user cannot read them (a USB stick, /root): hand it
  # private copies.
  WORK_DIR=$(mktemp -d)
  local args=(init --data "$data") file index=0
  for file in "${RECIPIENTS[@]}"; do
    index=$((index + 1))
    install -m 0600 -- "$file" "$WORK_DIR/recipient-$index.pub"
    args+=(--recipient "$WORK_DIR/recipient-$index.pub")
  done
  for file in "${CONSOLE_KEYS[@]}"; do
    index=$((index + 1))
    install -m 0600 -- "$file" "$WORK_DIR/console-$index.pub"
    args+=(--console-key "$WORK_DIR/console-$index.pub")
  done
  if [ -n "$UPLOAD_LIMIT_MIB" ]; then
    args+=(--upload-limit-mib "$UPLOAD_LIMIT_MIB")
  fi
  if live; then
    chown -R "$SERVICE_USER:$SERVICE_USER" "$WORK_DIR"
  fi
  say "creating the instance in $DATA_DIR"
  (
    umask 077
    as_service "$bin" "${args[@]}"
  )
  chmod -R go-rwx "$data"
  CHANGED_SITE=1
}

upload_limit_mib() {
  local config
  config=$(at "$DATA_DIR")/config.json
  "$(venv_python)" -c 'import json, sys
print(int(json.load(open(sys.argv[1]))["upload_limit"]) // (1024 * 1024))' "$config"
}

install_units() {
  local unit units_dir
  units_dir=$(at "$UNIT_DIR")
  for unit in wbs-dropbox.service wbs-dropbox-maintain.service wbs-dropbox-maintain.timer; do
    if install_file "$DEPLOY_DIR/systemd/$unit" "$units_dir/$unit" 0644; then
      say "installed $UNIT_DIR/$unit"
      CHANGED_SITE=1
    fi
  done
  if install_file "$DEPLOY_DIR/systemd/wbs-dropbox-proxy.service" \
    "$units_dir/wbs-dropbox-proxy.service" 0644; then
    say "installed $UNIT_DIR/wbs-dropbox-proxy.service"
    CHANGED_PROXY=1
  fi

  # The spill tmpfs: waitress holds each request body of more than 1 MiB in a file there until the
  # application has read it, so it must hold the uploads that may arrive at once. It is private to
  # the service (TemporaryFileSystem=), capped, and its pages count against the service's memory
  # cgroup: MemoryMax is raised by the same amount so that a full spill gives "no space" to the
  # upload that overflows it instead of the kernel killing the whole site.
  local limit spill memory uid gid ram_mib
  limit=$(upload_limit_mib)
  spill=${SPILL_MIB:-$((2 * (limit + 2) + 64))}
  memory=$((spill + 768))
  ram_mib=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024))
  if [ $((memory * 2)) -gt "$ram_mib" ]; then
    warn "the spill tmpfs (${spill} MiB) and the site need ${memory} MiB, more than half of this" \
      "machine's ${ram_mib} MiB of RAM: lower the upload limit or add memory (docs/operator.md)"
  fi
  if live; then
    uid=$(id -u "$SERVICE_USER")
    gid=$(id -g "$SERVICE_USER")
  else
    uid=$(id -u)
    gid=$(id -g)
  fi
  if install_file "$DEPLOY_DIR/journald/journald@wbs-dropbox.conf" \
    "$(at /etc/systemd/journald@wbs-dropbox.conf)" 0644; then
    say "installed /etc/systemd/journald@wbs-dropbox.conf"
    CHANGED_JOURNAL=1
  fi

  local dropin
  dropin=$(mktemp)
  cat >"$dropin" <<EOF
# Generated by deploy/install.sh for an upload limit of ${limit} MiB; re-run it to change.
# The upload spill directory gets its own RAM-backed tmpfs, private to the service and capped at
# ${spill} MiB; MemoryMax covers it, since its pages are charged to the service.
[Service]
TemporaryFileSystem=/run/wbs-dropbox/spill:size=${spill}M,mode=0700,uid=${uid},gid=${gid},nosuid,nodev,noexec
MemoryMax=$((memory))M
EOF
  if install_file "$dropin" "$units_dir/wbs-dropbox.service.d/50-spill.conf" 0644; then
    say "installed $UNIT_DIR/wbs-dropbox.service.d/50-spill.conf (spill ${spill} MiB)"
    CHANGED_SITE=1
  fi
  rm -f -- "$dropin"
}

# Before anything changes: an /etc/tor/torrc that is neither ours nor Debian's all-comments
# default means someone configured this tor for something else.
check_torrc_ownership() {
  local dest
  dest=$(at "$TORRC")
  if [ -f "$dest" ] && ! grep -qF "$TORRC_MARKER" "$dest" &&
    grep -qvE '^[[:space:]]*(#|$)' "$dest" && [ "$REPLACE_TORRC" -eq 0 ]; then
    die "$TORRC has settings of its own. This tor must serve the drop box only (a relay or" \
      "client on the same tor can deanonymise the service). Move them away, or re-run with" \
      "--replace-torrc to replace the file (a copy is kept as $TORRC.before-wbs-dropbox)"
  fi
}

install_torrc() {
  local dest
  dest=$(at "$TORRC")
  if [ -f "$dest" ] && ! grep -qF "$TORRC_MARKER" "$dest" &&
    grep -qvE '^[[:space:]]*(#|$)' "$dest" && [ ! -e "$dest.before-wbs-dropbox" ]; then
    cp -p -- "$dest" "$dest.before-wbs-dropbox"
  fi
  if install_file "$DEPLOY_DIR/torrc" "$dest" 0644; then
    say "installed $TORRC"
    CHANGED_TOR=1
  fi
  if live; then
    tor --defaults-torrc "$TOR_DEFAULTS" -f "$TORRC" --verify-config --quiet ||
      die "tor rejects $TORRC (see the message above)"
  fi
}

install_admin_tool() {
  if install_file "$DEPLOY_DIR/wbs-dropbox.sh" "$(at "$ADMIN_TOOL")" 0755; then
    say "installed $ADMIN_TOOL"
  fi
}

# Debian's haproxy package enables its own haproxy.service (/etc/haproxy/haproxy.cfg, which logs to
# syslog). The drop box's HAProxy is wbs-dropbox-proxy.service; the other one must not run.
disable_debian_haproxy() {
  local now=()
  [ "$START" -eq 1 ] && now=(--now)
  if systemctl is-enabled --quiet haproxy.service 2>/dev/null ||
    { [ "$START" -eq 1 ] && systemctl is-active --quiet haproxy.service; }; then
    say "disabling Debian's haproxy.service (the drop box runs wbs-dropbox-proxy.service)"
    systemctl disable --quiet "${now[@]}" haproxy.service
  fi
}

start_services() {
  if ! live; then
    return
  fi
  systemctl daemon-reload
  disable_debian_haproxy
  if [ "$START" -eq 0 ]; then
    return
  fi
  if [ "$CHANGED_JOURNAL" -eq 1 ]; then
    systemctl try-restart systemd-journald@wbs-dropbox.service
  fi
  systemctl enable --quiet tor.service wbs-dropbox.service wbs-dropbox-proxy.service \
    wbs-dropbox-maintain.timer
  if [ "$CHANGED_TOR" -eq 1 ]; then
    say "restarting tor"
    systemctl restart tor.service
  else
    systemctl start tor.service
  fi
  if [ "$CHANGED_SITE" -eq 1 ]; then
    say "restarting the site (active sessions end)"
    systemctl restart wbs-dropbox.service
  else
    systemctl start wbs-dropbox.service
  fi
  if [ "$CHANGED_PROXY" -eq 1 ]; then
    say "restarting the proxy"
    systemctl restart wbs-dropbox-proxy.service
  else
    systemctl start wbs-dropbox-proxy.service
  fi
  systemctl start wbs-dropbox-maintain.timer
}

# The whole path behind tor: HAProxy on 127.0.0.1:8080, given a PROXY line as tor sends it, and the
# site behind it on 127.0.0.1:8090.
wait_for_site() {
  local python
  python=$(venv_python)
  "$python" - <<'EOF' || die "the site does not answer through the proxy on 127.0.0.1:8080" \
    "(journalctl --namespace=wbs-dropbox -u wbs-dropbox -u wbs-dropbox-proxy)"
import socket, sys, time
request = (b"PROXY TCP6 fc00:dead:beef:4dad::ffff:ffff ::1 65535 80\r\n"
           b"GET /robots.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
for _ in range(60):
    try:
        with socket.create_connection(("127.0.0.1", 8080), timeout=5) as stream:
            stream.sendall(request)
            if stream.recv(64).startswith(b"HTTP/1.1 200"):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(1)
sys.exit(1)
EOF
}

wait_for_onion() {
  local waited=0 hostname=$HS_DIR/hostname
  while [ ! -s "$hostname" ]; do
    [ "$waited" -lt 120 ] || die "tor wrote no onion address to $hostname (journalctl -u tor@default)"
    sleep 1
    waited=$((waited + 1))
  done
  cat "$hostname"
}

# The site answers only to its own onion address (and the loopback): a relay that shows it under
# another name is refused. Tell it the address tor made, once; the site reads it at start.
ensure_onion_name() {
  local onion=$1 data
  data=$(at "$DATA_DIR")
  if ! as_service "$(dropbox_bin)" onion --data "$data" | grep -qF "$onion"; then
    say "setting the site's onion address"
    as_service "$(dropbox_bin)" onion --data "$data" --add "$onion" >/dev/null
    systemctl restart wbs-dropbox.service
    wait_for_site
  fi
}

report() {
  local data torrc check_output check_status=0
  data=$(at "$DATA_DIR")
  torrc=$(at "$TORRC")
  if live && [ "$START" -eq 1 ]; then
    wait_for_site
    local onion
    onion=$(wait_for_onion)
    ensure_onion_name "$onion"
    check_output=$(as_service "$(dropbox_bin)" check --data "$data" --torrc "$torrc" 2>&1) ||
      check_status=$?
    printf '\n'
    say "onion address:  http://$onion/"
    say "server key:     $(printf '%s\n' "$check_output" | sed -n 's/^ *server key *//p')"
    say "                (copy $DATA_DIR/server.pub to the console's USB stick and compare this"
    say "                 fingerprint aloud: docs/operator.md, key ceremony)"
    printf '\n'
    say "dropbox check:"
    printf '%s\n' "$check_output"
  elif live; then
    say "installed; nothing was started (--no-start). Start with:"
    say "  systemctl restart tor.service wbs-dropbox.service wbs-dropbox-proxy.service"
    say "  systemctl start wbs-dropbox-maintain.timer"
    return 0
  else
    say "scratch install in $ROOT complete (nothing started); check it with:"
    say "  $(dropbox_bin) check --data $data --torrc $torrc"
    return 0
  fi
  if [ "$check_status" -ne 0 ]; then
    die "dropbox check found problems (above)"
  fi
}

main() {
  parse_args "$@"
  check_system
  check_torrc_ownership
  install_packages
  ensure_user
  install_source
  install_venv
  ensure_data_dir
  init_instance
  install_units
  install_torrc
  install_admin_tool
  start_services
  report
}

main "$@"
