#!/usr/bin/env bash
# Build the small container image Stratus uses where a registry would serve busybox (no
# registry is reachable): a root filesystem made of Debian's busybox-static (one symlink
# per applet, /etc/passwd, /etc/group, /tmp), imported into Docker as
# stratus/busybox:latest (CMD sh), saved to OUTDIR/busybox.tar, described in
# OUTDIR/busybox.json (name, formats, size, sha256, image id) for the bootstrap code to
# register in the image service (container_format docker).
#
# Idempotent: the root filesystem is built reproducibly and its sha256 is stored as an image
# label. An image that already carries the same label is kept (so its id stays the same);
# failing that, a saved tarball that carries it is loaded; failing that, it is imported.
# The tarball is rewritten only when it does not hold the current image.
#
# usage: tools/build-container-image.sh OUTDIR
# env:   STRATUS_CONTAINER_IMAGE (default stratus/busybox:latest)
set -Eeuo pipefail

IMAGE=${STRATUS_CONTAINER_IMAGE:-stratus/busybox:latest}
LABEL=org.stratus.rootfs-sha256
EPOCH=1700000000
BUSYBOX=/bin/busybox

current_step="start"
step() { current_step=$*; printf '==> %s\n' "$*"; }
die() { printf 'build-container-image: FAILED at step "%s": %s\n' "$current_step" "$*" >&2; exit 1; }
# With -E the trap also runs inside $(...) and subshells: report once, from the main shell.
on_error() { [ "$BASH_SUBSHELL" -eq 0 ] || exit "$1"; die "command failed (exit $1): $2"; }
trap 'on_error $? "$BASH_COMMAND"' ERR

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
TAR=$OUT/busybox.tar

step "checking the tools"
command -v docker >/dev/null 2>&1 || die "docker is not installed (apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "dockerd does not answer (start it: tools/start-daemons.sh)"
if ! { [ -x "$BUSYBOX" ] && dpkg-query -S "$BUSYBOX" 2>/dev/null | grep -q '^busybox-static:'; }
then
  die "$BUSYBOX is not Debian's busybox-static (apt-get install busybox-static)"
fi

step "building in $OUT"
WORK=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root

step "laying out the root filesystem (busybox $($BUSYBOX | head -n 1 | awk '{print $2}'))"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,var,run,home}
install -d -m 1777 "$ROOT/tmp" "$ROOT/var/tmp"
cp "$BUSYBOX" "$ROOT/bin/busybox"
while read -r applet; do
  [ "$applet" = bin/busybox ] && continue
  rel=$(dirname "$applet" | sed -e 's#[^/][^/]*#..#g')
  [ -e "$ROOT/$applet" ] || ln -s "$rel/bin/busybox" "$ROOT/$applet"
done < <("$BUSYBOX" --list-full)
cat >"$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
printf 'hosts: files dns\n' >"$ROOT/etc/nsswitch.conf"
tar -C "$ROOT" --sort=name --format=gnu --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner \
  -cf "$WORK/rootfs.tar" .
HASH=$(sha256sum "$WORK/rootfs.tar" | cut -d' ' -f1)
echo "    rootfs $(du -h --apparent-size "$WORK/rootfs.tar" | cut -f1), sha256 ${HASH:0:16}..."

# The label of an image Docker holds ("" when it holds no such image).
docker_label() {
  docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true
}
# "ID LABEL" of the image in a `docker save` tarball ("" when unreadable).
tarball_image() {
  python3 - "$1" "$LABEL" <<'PY' 2>/dev/null || true
import json, sys, tarfile

with tarfile.open(sys.argv[1]) as tar:
    manifest = json.load(tar.extractfile("manifest.json"))
    config_name = manifest[0]["Config"]
    config = json.load(tar.extractfile(config_name))
labels = (config.get("config") or {}).get("Labels") or {}
print("sha256:" + config_name.split("/")[-1].removesuffix(".json").removeprefix("sha256:"),
      labels.get(sys.argv[2], ""))
PY
}

if [ "$(docker_label)" = "$HASH" ]; then
  step "image $IMAGE: up to date"
elif [ -f "$TAR" ] && [ "$(tarball_image "$TAR" | cut -d' ' -f2)" = "$HASH" ]; then
  step "image $IMAGE: loading it from $TAR (same root filesystem)"
  docker load -q -i "$TAR" >/dev/null
else
  step "image $IMAGE: importing the root filesystem"
  docker import \
    --change 'CMD ["sh"]' \
    --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL $LABEL=$HASH" \
    --message "stratus busybox from Debian busybox-static" \
    "$WORK/rootfs.tar" "$IMAGE" >/dev/null
fi
[ "$(docker_label)" = "$HASH" ] || die "$IMAGE does not carry $LABEL=$HASH after the import"
ID=$(docker image inspect -f '{{.Id}}' "$IMAGE")

if [ -f "$TAR" ] && [ "$(tarball_image "$TAR" | cut -d' ' -f1)" = "$ID" ]; then
  step "tarball $TAR: up to date"
else
  step "saving $IMAGE to $TAR"
  docker save -o "$WORK/busybox.tar" "$IMAGE"
  mv -f "$WORK/busybox.tar" "$TAR"
fi

if [ ! -f "$OUT/busybox.json" ] || [ "$OUT/busybox.json" -ot "$TAR" ] ||
  ! grep -q "\"image_id\": \"$ID\"" "$OUT/busybox.json" ||
  ! grep -q '"image_name": "busybox"' "$OUT/busybox.json"; then
  step "writing $OUT/busybox.json"
  python3 - "$TAR" "$IMAGE" "$ID" >"$WORK/busybox.json" <<'PY'
import hashlib, json, os, sys

tar, image, image_id = sys.argv[1:4]
digest = hashlib.sha256()
with open(tar, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        digest.update(chunk)
repo, _, tag = image.rpartition(":")
entry = {
    "name": repo,
    "image_name": "busybox",  # its name in the image service
    "tag": tag,
    "file": os.path.basename(tar),
    "disk_format": "raw",
    "container_format": "docker",
    "size": os.path.getsize(tar),
    "sha256": digest.hexdigest(),
    "image_id": image_id,
}
json.dump({"name": "busybox", "images": [entry]}, sys.stdout, indent=2)
print()
PY
  mv -f "$WORK/busybox.json" "$OUT/busybox.json"
fi
step "done: $IMAGE ($ID), $TAR $(du -h --apparent-size "$TAR" | cut -f1)"
