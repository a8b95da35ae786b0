#!/usr/bin/env bash
# Start the host daemons a compute host needs, on a machine without systemd: dockerd,
# virtlogd and libvirtd. A daemon that already answers is left alone; one whose process
# exists but does not answer yet is waited for, never started twice and never killed.
# Each daemon logs to /var/log/stratus/<daemon>.log. Exits non-zero, naming the daemon and
# showing the end of its log, when one does not come up in time.
#
# usage: tools/start-daemons.sh [dockerd|virtlogd|libvirtd ...]   (default: all three)
# env:   STRATUS_LOG_DIR (default /var/log/stratus), STRATUS_DAEMON_TIMEOUT (seconds, default 60)
set -euo pipefail

LOG_DIR=${STRATUS_LOG_DIR:-/var/log/stratus}
TIMEOUT=${STRATUS_DAEMON_TIMEOUT:-60}

step() { printf '==> %s\n' "$*"; }
fail() {
  # fail DAEMON MESSAGE: say which daemon failed and why, with the end of its log.
  local log="$LOG_DIR/$1.log"
  printf 'start-daemons: FAILED to start %s: %s\n' "$1" "$2" >&2
  if [ -s "$log" ]; then
    printf 'start-daemons: the last lines of %s:\n' "$log" >&2
    tail -n 25 "$log" | sed 's/^/    /' >&2
  fi
  exit 1
}

# Whether DAEMON answers its client, quietly.
answers() {
  case $1 in
    dockerd) docker info >/dev/null 2>&1 ;;
    libvirtd) virsh -c qemu:///system version >/dev/null 2>&1 ;;
    # virtlogd has no client of its own; it answers once its socket accepts connections.
    virtlogd) [ -S /run/libvirt/virtlogd-sock ] && pgrep -x virtlogd >/dev/null ;;
    *) return 1 ;;
  esac
}

# Start DAEMON in the background, detached from this shell, its output in its log.
launch() {
  local log="$LOG_DIR/$1.log"
  printf '\n=== %s: starting %s\n' "$(date -Is)" "$1" >>"$log"
  case $1 in
    dockerd)
      setsid dockerd >>"$log" 2>&1 </dev/null &
      ;;
    virtlogd | libvirtd)
      # -d daemonizes; the env var sends libvirt's own log (level: warning) to the same file.
      mkdir -p /run/libvirt
      LIBVIRT_LOG_OUTPUTS="3:file:$log" setsid "$1" -d >>"$log" 2>&1 </dev/null ||
        fail "$1" "'$1 -d' exited with status $?"
      ;;
  esac
}

start() {
  local daemon=$1 binary=$1 waited=0
  if ! command -v "$binary" >/dev/null 2>&1; then
    printf 'start-daemons: FAILED to start %s: %s is not installed (tools/install.sh installs it; see tools/apt/)\n' "$daemon" "$binary" >&2
    exit 1
  fi
  if answers "$daemon"; then
    step "$daemon: already running"
    return 0
  fi
  if pgrep -x "$daemon" >/dev/null; then
    step "$daemon: a $daemon process exists (pid $(pgrep -x "$daemon" | tr '\n' ' ' | sed 's/ $//')) but does not answer yet; waiting for it"
  else
    step "$daemon: starting (log: $LOG_DIR/$daemon.log)"
    launch "$daemon"
  fi
  while ! answers "$daemon"; do
    if [ "$waited" -ge "$TIMEOUT" ]; then
      if pgrep -x "$daemon" >/dev/null; then
        fail "$daemon" "it runs but did not answer within ${TIMEOUT}s"
      fi
      fail "$daemon" "it exited (or never started) and did not answer within ${TIMEOUT}s"
    fi
    if [ "$waited" -ge 5 ] && ! pgrep -x "$daemon" >/dev/null; then
      fail "$daemon" "the process exited"
    fi
    sleep 1
    waited=$((waited + 1))
    if [ $((waited % 5)) -eq 0 ]; then step "$daemon: still waiting (${waited}s)"; fi
  done
  step "$daemon: running (pid $(pgrep -x "$daemon" | head -n 1), ready after ${waited}s)"
}

[ "$(id -u)" -eq 0 ] || { echo "start-daemons: must run as root" >&2; exit 1; }
mkdir -p "$LOG_DIR"
daemons=("$@")
[ ${#daemons[@]} -gt 0 ] || daemons=(dockerd virtlogd libvirtd)
for d in "${daemons[@]}"; do
  case $d in
    dockerd | virtlogd | libvirtd) start "$d" ;;
    *) echo "start-daemons: unknown daemon '$d' (known: dockerd virtlogd libvirtd)" >&2; exit 2 ;;
  esac
done
