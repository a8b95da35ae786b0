#!/usr/bin/env bash
# Install what Stratus needs on a Debian 12 host: Debian packages listed in tools/apt/*.txt,
# a virtualenv (.venv) with Stratus and the openstack client, and (with --link) the
# `stratus`, `openstack` and `zun` commands on the PATH. Idempotent: what is already
# there is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOG_DIR=${STRATUS_INSTALL_LOG_DIR:-/var/log/stratus}
mkdir -p "$LOG_DIR"
LOG="$LOG_DIR/install.log"

step() { printf '==> %s\n' "$*"; }
fail() { printf 'install: FAILED at step "%s"; the last lines of %s:\n' "$1" "$LOG" >&2; tail -n 30 "$LOG" >&2; exit 1; }

# Debian packages: every non-comment line of tools/apt/*.txt that is not installed yet.
wanted=$(cat tools/apt/*.txt | sed -e 's/#.*//' -e '/^\s*$/d' | sort -u)
missing=()
for pkg in $wanted; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >>"$LOG" 2>&1 || fail "apt-get update"
  apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1 || fail "apt-get install"
else
  step "Debian packages: all present"
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  step "creating the virtualenv in .venv"
  "$PYTHON" -m venv .venv >>"$LOG" 2>&1 || fail "python3 -m venv"
fi
stamp=.venv/.stratus-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  step "installing Stratus and the openstack client into .venv (a few minutes the first time)"
  .venv/bin/pip install --progress-bar off -q --upgrade pip >>"$LOG" 2>&1 || fail "pip upgrade"
  .venv/bin/pip install --progress-bar off -e ".[test]" >>"$LOG" 2>&1 || fail "pip install"
  touch "$stamp"
else
  step "Python packages: up to date"
fi

# `make run` puts the commands on the PATH (`make test` leaves the PATH alone).
if [ "${1:-}" = "--link" ]; then
  for cmd in stratus openstack zun; do
    link="/usr/local/bin/$cmd"
    # Replace a link (ours or an older one), never a real file someone installed.
    if [ -x ".venv/bin/$cmd" ] && { [ ! -e "$link" ] || [ -L "$link" ]; }; then
      ln -sfn "$ROOT/.venv/bin/$cmd" "$link"
    fi
  done
fi
step "installed: $(.venv/bin/stratus --help >/dev/null && echo stratus) $(.venv/bin/openstack --version 2>&1)"
