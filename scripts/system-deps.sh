#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only those missing, so a clean CI machine
# gets everything from the project's own files. Needs root (CI runs as root); otherwise it says
# what to install and stops.
set -euo pipefail
packages=()
need() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || packages+=("$1"); }
while read -r pkg; do
  [ -n "$pkg" ] && [ "${pkg#\#}" = "$pkg" ] && need "$pkg"
done < "$(dirname "$0")/system-packages.txt"
# Node.js and npm (for the pinned axe-core of the accessibility audit) may come from elsewhere
# than Debian (NodeSource ships npm inside its nodejs package): ask for Debian's only when absent.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
[ ${#packages[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${packages[*]} (run: sudo apt-get install ${packages[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
