#!/usr/bin/env bash
# wbs-dropbox: the operator's everyday commands, run as root. Installed by deploy/install.sh as
# /usr/local/sbin/wbs-dropbox. Every `dropbox` command runs as the service user wbs-dropbox, so
# nothing in /var/lib/wbs-dropbox ever becomes owned by root; bundles pass through a private
# staging directory, because the service user cannot (and should not) write to a USB stick.
#
#   wbs-dropbox export DEST [--all]   signed bundle for the console (DEST: a file or a directory)
#   wbs-dropbox import FILE           apply the console's response bundle
#   wbs-dropbox check                 the health check (permissions, keys, disk, tor, spill)
#   wbs-dropbox maintain              run the daily retention job now (sandboxed, via systemd)
#   wbs-dropbox onion                 print the onion address
#   wbs-dropbox server-key DEST       copy server.pub (for the console's first import) to DEST
#   wbs-dropbox status                state of the site, its proxy, tor and the daily timer
#   wbs-dropbox logs [ARGS]           site and proxy journal (RAM only; ARGS go to journalctl)
set -euo pipefail

readonly SERVICE_USER=wbs-dropbox
readonly DATA_DIR=/var/lib/wbs-dropbox
readonly DROPBOX=/opt/wbs-dropbox/venv/bin/dropbox
readonly TORRC=/etc/tor/torrc
readonly HOSTNAME_FILE=/var/lib/tor/wbs-dropbox/hostname

STAGING=""
cleanup() {
  if [ -n "$STAGING" ] && [ -d "$STAGING" ]; then
    rm -rf -- "$STAGING"
  fi
}
trap cleanup EXIT
umask 077

die() {
  printf 'wbs-dropbox: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n 's/^#   wbs-dropbox/wbs-dropbox/p' "$0"
}

as_service() { runuser -u "$SERVICE_USER" -- "$DROPBOX" "$@"; }

staging() {
  STAGING=$(mktemp -d /var/tmp/wbs-dropbox-exchange.XXXXXX)
  chown "$SERVICE_USER:$SERVICE_USER" "$STAGING"
}

cmd_export() {
  local dest=${1:?usage: wbs-dropbox export DEST [--all]}
  shift
  if [ -d "$dest" ]; then
    dest=$dest/wbs-dropbox-export-$(date -u +%Y-%m-%d).bundle
  fi
  [ ! -e "$dest" ] || die "$dest exists; refusing to overwrite it"
  staging
  as_service export --data "$DATA_DIR" --out "$STAGING/export.bundle" "$@"
  # A USB stick's file system (vfat, exfat) may not keep modes: copy the bytes, then sync.
  cp -- "$STAGING/export.bundle" "$dest"
  sync -f "$dest"
  printf 'wrote %s\n' "$dest"
}

cmd_import() {
  local source=${1:?usage: wbs-dropbox import FILE}
  [ -f "$source" ] || die "no such file: $source"
  staging
  cp -- "$source" "$STAGING/import.bundle"
  chown "$SERVICE_USER:$SERVICE_USER" "$STAGING/import.bundle"
  as_service import --data "$DATA_DIR" "$STAGING/import.bundle"
}

cmd_server_key() {
  local dest=${1:?usage: wbs-dropbox server-key DEST}
  if [ -d "$dest" ]; then
    dest=$dest/server.pub
  fi
  cp -- "$DATA_DIR/server.pub" "$dest"
  sync -f "$dest"
  printf 'wrote %s\n' "$dest"
  as_service check --data "$DATA_DIR" --torrc "$TORRC" | grep -E '^ *server key' || true
}

main() {
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo wbs-dropbox ...)"
  local command=${1:-}
  [ $# -eq 0 ] || shift
  case "$command" in
    export) cmd_export "$@" ;;
    import) cmd_import "$@" ;;
    check) as_service check --data "$DATA_DIR" --torrc "$TORRC" "$@" ;;
    maintain)
      systemctl start wbs-dropbox-maintain.service
      journalctl --namespace=wbs-dropbox --identifier wbs-dropbox-maintain --lines 1 \
        --output cat --no-pager
      ;;
    onion) cat -- "$HOSTNAME_FILE" ;;
    server-key) cmd_server_key "$@" ;;
    status)
      systemctl --no-pager status wbs-dropbox.service wbs-dropbox-proxy.service \
        tor@default.service || true
      systemctl --no-pager list-timers wbs-dropbox-maintain.timer
      ;;
    logs) journalctl --namespace=wbs-dropbox --no-pager "$@" ;;
    -h | --help | help | "") usage ;;
    *) usage >&2; die "unknown command: $command" ;;
  esac
}

main "$@"
