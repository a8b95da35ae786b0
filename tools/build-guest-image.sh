#!/usr/bin/env bash
# Build the tiny Stratus guest (the role CirrOS plays in OpenStack) from Debian packages:
#   OUTDIR/stratus-guest.vmlinuz  Debian's cloud kernel, copied from /boot (the host is not
#                                 booted with it; linux-image-cloud-amd64 only provides it)
#   OUTDIR/stratus-guest.initrd   gzip'd cpio: busybox-static, the virtio modules, init
#                                 scripts from tools/guest/rootfs (DHCP, banner, getty)
#   OUTDIR/stratus-guest.qcow2    a small self-booting disk (FAT + SYSLINUX + the same
#                                 kernel and initrd): boots with or without kernel_id
#   OUTDIR/stratus-guest.json     manifest: names, formats, sizes, sha256, boot properties
# Nothing is done when every output is newer than every input. The build is reproducible:
# the same inputs give byte-identical kernel and initrd.
#
# usage: tools/build-guest-image.sh OUTDIR
# env:   STRATUS_GUEST_KERNEL  kernel version to use (default: the one linux-image-cloud-amd64
#                              depends on, else the newest /boot/vmlinuz-*-cloud-amd64)
#        STRATUS_GUEST_FORCE=1 rebuild even when the outputs are up to date
set -Eeuo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOTFS_SRC="$HERE/guest/rootfs"
NAME=stratus-guest
DISK_SIZE=64M
# Fixed timestamps inside the cpio archive, so that the same inputs give the same bytes.
EPOCH=1700000000
CMDLINE="console=tty0 console=ttyS0"

current_step="start"
step() { current_step=$*; printf '==> %s\n' "$*"; }
die() { printf 'build-guest-image: FAILED at step "%s": %s\n' "$current_step" "$*" >&2; exit 1; }
# With -E the trap also runs inside $(...) and subshells: report once, from the main shell.
on_error() { [ "$BASH_SUBSHELL" -eq 0 ] || exit "$1"; die "command failed (exit $1): $2"; }
trap 'on_error $? "$BASH_COMMAND"' ERR

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
mkdir -p "$1"
OUT=$(cd "$1" && pwd)

step "checking the tools"
missing=()
for tool in cpio gzip xz qemu-img python3 mkfs.vfat mcopy syslinux; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] ||
  die "missing commands: ${missing[*]} (tools/install.sh installs tools/apt/compute.txt)"
BUSYBOX=/bin/busybox
if ! { [ -x "$BUSYBOX" ] && dpkg-query -S "$BUSYBOX" 2>/dev/null | grep -q '^busybox-static:'; }
then
  die "$BUSYBOX is not Debian's busybox-static (apt-get install busybox-static)"
fi

step "finding the cloud kernel"
KVER=${STRATUS_GUEST_KERNEL:-}
if [ -z "$KVER" ]; then
  dep=$(dpkg-query -W -f='${Depends}' linux-image-cloud-amd64 2>/dev/null || true)
  KVER=$(printf '%s\n' "$dep" | grep -o 'linux-image-[^ ,]*-cloud-amd64' | head -n 1 |
    sed 's/^linux-image-//' || true)
  if [ -z "$KVER" ] || [ ! -e "/boot/vmlinuz-$KVER" ]; then
    KVER=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' -printf '%f\n' |
      sed 's/^vmlinuz-//' | sort -V | tail -n 1)
  fi
fi
[ -n "$KVER" ] || die "no cloud kernel in /boot (apt-get install linux-image-cloud-amd64)"
VMLINUZ=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER
[ -r "$VMLINUZ" ] || die "$VMLINUZ is missing or unreadable"
[ -r "$MODDIR/modules.dep" ] || die "$MODDIR/modules.dep is missing (is linux-image-$KVER installed?)"
echo "    kernel $KVER"

outputs=("$OUT/$NAME.vmlinuz" "$OUT/$NAME.initrd" "$OUT/$NAME.qcow2" "$OUT/$NAME.json")
inputs=("$0" "$VMLINUZ" "$MODDIR/modules.dep" "$BUSYBOX")
while IFS= read -r -d '' f; do inputs+=("$f"); done < <(find "$ROOTFS_SRC" -print0)

up_to_date() {
  local o i
  for o in "${outputs[@]}"; do
    [ -e "$o" ] || return 1
    for i in "${inputs[@]}"; do [ "$o" -nt "$i" ] || return 1; done
  done
  # The manifest records the kernel it was built with; another kernel means rebuild.
  grep -q "\"kernel_version\": \"$KVER\"" "$OUT/$NAME.json"
}
if [ "${STRATUS_GUEST_FORCE:-0}" != 1 ] && up_to_date; then
  step "up to date: $OUT/$NAME.{vmlinuz,initrd,qcow2,json} are newer than their inputs"
  exit 0
fi

step "building in $OUT"
WORK=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root
mkdir -p "$ROOT"

step "laying out the root filesystem (busybox $($BUSYBOX | head -n 1 | awk '{print $2}'))"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,root,var,etc,lib/modules/stratus}
ln -s ../run "$ROOT/var/run"
ln -s ../tmp "$ROOT/var/tmp"
cp "$BUSYBOX" "$ROOT/bin/busybox"
while read -r applet; do
  [ "$applet" = bin/busybox ] && continue
  dir=$(dirname "$applet")
  rel=$(printf '%s' "$dir" | sed -e 's#[^/][^/]*#..#g')
  [ -e "$ROOT/$applet" ] || ln -s "$rel/bin/busybox" "$ROOT/$applet"
done < <("$BUSYBOX" --list-full)
# The kernel opens /dev/console for /init before anything is mounted.
mknod -m 600 "$ROOT/dev/console" c 5 1
cp -a "$ROOTFS_SRC/." "$ROOT/"
printf '%s\n' "1 (kernel $KVER)" >"$ROOT/etc/stratus-guest-release"
ln -sf /proc/mounts "$ROOT/etc/mtab"

step "copying the kernel modules listed in tools/guest/rootfs/etc/modules"
optional=0
loaded=()
while read -r line; do
  case $line in
    '# optional'*) optional=1; continue ;;
    '' | '#'*) continue ;;
  esac
  mod=$line
  # modules.dep names files with - or _ as the source had it; modprobe treats them alike.
  pattern=$(printf '%s' "$mod" | sed 's/[-_]/[-_]/g')
  if grep -Eq "/${pattern}\.ko(\.[a-z]+)?\$" "$MODDIR/modules.builtin" 2>/dev/null; then
    echo "    $mod: built into the kernel"
    continue
  fi
  rel=$(grep -Eo "^[^:]*/${pattern}\.ko(\.(xz|zst|gz))?:" "$MODDIR/modules.dep" | head -n 1 |
    sed 's/:$//' || true)
  if [ -z "$rel" ]; then
    [ $optional = 1 ] && { echo "    $mod: not in this kernel (optional, skipped)"; continue; }
    die "module $mod is neither in $MODDIR/modules.dep nor built in"
  fi
  dest="$ROOT/lib/modules/stratus/$mod.ko"
  case $rel in
    *.ko) cp "$MODDIR/$rel" "$dest" ;;
    *.ko.xz) xz -dc "$MODDIR/$rel" >"$dest" ;;
    *.ko.gz) gzip -dc "$MODDIR/$rel" >"$dest" ;;
    *.ko.zst)
      command -v zstd >/dev/null || die "$rel is zstd-compressed and zstd is not installed"
      zstd -qdc "$MODDIR/$rel" >"$dest"
      ;;
  esac
  loaded+=("$mod")
done <"$ROOTFS_SRC/etc/modules"
echo "    ${loaded[*]}"

step "packing the initramfs"
find "$ROOT" -exec touch -h -d "@$EPOCH" {} +
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
  cpio --quiet -o -H newc --owner=0:0 --reproducible) | gzip -9n >"$WORK/$NAME.initrd"

step "copying the kernel"
cp "$VMLINUZ" "$WORK/$NAME.vmlinuz"

step "creating the self-booting disk image ($DISK_SIZE FAT, SYSLINUX, kernel and initrd)"
# A whole-disk FAT filesystem (no partition table) with SYSLINUX in its boot sector boots
# under SeaBIOS. mtools and syslinux's mtools installer write into the image file: no loop
# device, no mount. Booted with kernel_id/ramdisk_id instead, the guest ignores this disk.
cat >"$WORK/syslinux.cfg" <<CFG
SERIAL 0 115200
DEFAULT stratus
PROMPT 0
TIMEOUT 0
LABEL stratus
  LINUX /vmlinuz
  INITRD /initrd
  APPEND $CMDLINE
CFG
export MTOOLS_SKIP_CHECK=1
truncate -s "$DISK_SIZE" "$WORK/disk.raw"
mkfs.vfat -n STRATUS -i 5354524b "$WORK/disk.raw" >/dev/null
mcopy -m -i "$WORK/disk.raw" "$WORK/$NAME.vmlinuz" ::/vmlinuz
mcopy -m -i "$WORK/disk.raw" "$WORK/$NAME.initrd" ::/initrd
mcopy -m -i "$WORK/disk.raw" "$WORK/syslinux.cfg" ::/syslinux.cfg
syslinux --install "$WORK/disk.raw"
qemu-img convert -c -O qcow2 "$WORK/disk.raw" "$WORK/$NAME.qcow2"
rm -f "$WORK/disk.raw" "$WORK/syslinux.cfg"

step "writing the manifest"
python3 - "$WORK" "$NAME" "$KVER" "$CMDLINE" <<'PY'
import hashlib, json, os, subprocess, sys

work, name, kver, cmdline = sys.argv[1:5]


def describe(image_name, fname, disk_format, container_format, **extra):
    path = os.path.join(work, fname)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    entry = {
        "name": image_name,
        "file": fname,
        "disk_format": disk_format,
        "container_format": container_format,
        "size": os.path.getsize(path),
        "sha256": digest.hexdigest(),
    }
    entry.update(extra)
    return entry


kernel = describe(f"{name}-kernel", f"{name}.vmlinuz", "aki", "aki")
ramdisk = describe(f"{name}-ramdisk", f"{name}.initrd", "ari", "ari")
info = json.loads(
    subprocess.check_output(["qemu-img", "info", "--output=json", os.path.join(work, f"{name}.qcow2")])
)
disk = describe(
    name,
    f"{name}.qcow2",
    "qcow2",
    "bare",
    virtual_size=info["virtual-size"],
    min_disk=1,
    # The cloud kernel stops before its first line in 64 MiB (96 boots): the API refuses
    # smaller flavors (m1.nano) with a message instead of a guest that never speaks.
    min_ram=128,
    # Boot like an AMI (direct kernel boot, about a second faster under TCG): these name the
    # two images above; the bootstrap code replaces the names with the image ids once it
    # has registered them. Without them the disk boots by itself through SYSLINUX.
    properties={
        "kernel_id": kernel["name"],
        "ramdisk_id": ramdisk["name"],
        "os_command_line": cmdline,
        "hw_vif_model": "virtio",
        "hw_disk_bus": "virtio",
        "os_distro": "stratus-guest",
        "os_type": "linux",
        "architecture": "x86_64",
    },
)
manifest = {
    "name": name,
    "kernel_version": kver,
    "login": "root on the serial console, no password",
    "images": [kernel, ramdisk, disk],
}
with open(os.path.join(work, f"{name}.json"), "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
PY

step "installing the outputs into $OUT"
# The manifest goes last: its presence and date vouch for the three files before it.
for f in vmlinuz initrd qcow2 json; do mv -f "$WORK/$NAME.$f" "$OUT/$NAME.$f"; done
for f in vmlinuz initrd qcow2 json; do
  printf '    %-28s %s\n' "$NAME.$f" "$(du -h --apparent-size "$OUT/$NAME.$f" | cut -f1)"
done
step "done"
