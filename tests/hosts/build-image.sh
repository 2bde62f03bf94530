#!/usr/bin/env bash
# Build the Debian 12 (bookworm) guest of `make test-hosts`:
#
#   tests/hosts/build-image.sh OUT_DIR
#
# writes OUT_DIR/{disk.img,vmlinuz,initrd.img}. The tree is made with
# debootstrap (minbase) from the mirror that this machine's apt uses, then the
# packages of packages.list are installed with apt from this machine's own
# sources (so the guest gets the same versions as the host), the guest is
# configured (test user with subordinate ids and lingering, the boot hook that
# runs the checks), and mkfs.ext4 -d turns the tree into a disk image. Needs
# root, debootstrap and network; the guest itself never has network.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?usage: $0 OUT_DIR}
SUITE=bookworm

# The first Debian mirror that apt is configured with here: deb822 .sources
# files first, then one-line sources.list entries.
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      /^[ \t]*$/ { if (uri != "" && ok) print uri; uri = ""; ok = 0; next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      END { if (uri != "" && ok) print uri }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI SUITE COMPONENTS...
    awk -v suite="$SUITE" '$1 == "deb" {
      i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      if ($(i + 1) == suite) print $i }' "$f"
  done
}
MIRROR=$(mirror | head -n 1)
[ -n "$MIRROR" ] || { echo "build-image: no $SUITE mirror in /etc/apt/sources.list{,.d}" >&2; exit 1; }
mapfile -t PKGS < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$HERE/packages.list")

mkdir -p "$(dirname "$OUT")"
WORK=$(mktemp -d "$(dirname "$OUT")/build.XXXXXX")
# The tree (about 1 GB) is built in memory when there is room: dpkg's many
# small writes and the final removal are much faster there.
TREE_PARENT=$WORK
if [ "$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')" -gt 4096 ] 2>/dev/null; then
  TREE_PARENT=$(mktemp -d /dev/shm/cellos-hosts-tree.XXXXXX)
fi
R=$TREE_PARENT/rootfs
cleanup() {
  for m in dev/pts dev proc sys; do mountpoint -q "$R/$m" 2>/dev/null && umount -l "$R/$m"; done
  rm -rf "$WORK"
  [ "$TREE_PARENT" = "$WORK" ] || rm -rf "$TREE_PARENT"
}
trap cleanup EXIT

echo "build-image: debootstrap $SUITE from $MIRROR"
t0=$SECONDS
debootstrap --variant=minbase "$SUITE" "$R" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
  { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }
echo "build-image: debootstrap took $((SECONDS - t0)) s"

# apt inside the tree uses this machine's sources (security updates included).
rm -f "$R/etc/apt/sources.list"
cp -a /etc/apt/sources.list.d/. "$R/etc/apt/sources.list.d/"
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$R/etc/apt/sources.list"
find "$R/etc/apt/sources.list.d" -type f ! -name '*.list' ! -name '*.sources' -delete
for k in /usr/share/keyrings/debian-archive-keyring.gpg; do [ -f "$k" ] && cp "$k" "$R$k"; done
# No daemon starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 0755 "$R/usr/sbin/policy-rc.d"
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount --bind /dev "$R/dev"
mount --bind /dev/pts "$R/dev/pts"
t0=$SECONDS
chroot "$R" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-unsafe-io ${PKGS[*]}" \
  >"$WORK/apt.log" 2>&1 || { tail -n 30 "$WORK/apt.log" >&2; exit 1; }
chroot "$R" apt-get clean
rm -rf "$R"/var/lib/apt/lists/*_Packages "$R"/var/lib/apt/lists/*_InRelease
echo "build-image: ${#PKGS[@]} packages installed in $((SECONDS - t0)) s"
for m in dev/pts dev proc sys; do umount -l "$R/$m"; done
rm -f "$R/usr/sbin/policy-rc.d"

# ---- the guest's configuration ---------------------------------------------
echo debian12-hosts >"$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 debian12-hosts\n' >"$R/etc/hosts"
printf '/dev/vda / ext4 rw,relatime 0 1\n' >"$R/etc/fstab"
chroot "$R" systemd-machine-id-setup >/dev/null
# The rootless user: subordinate ids for newuidmap/newgidmap, and lingering,
# so that its systemd user manager (and the user bus podman's systemd cgroup
# manager talks to) runs from boot.
chroot "$R" useradd -m -u 1000 -s /bin/bash tester
echo tester:100000:65536 >"$R/etc/subuid"
echo tester:100000:65536 >"$R/etc/subgid"
mkdir -p "$R/var/lib/systemd/linger"
touch "$R/var/lib/systemd/linger/tester"
# Nothing that the checks do not need runs at boot.
for u in containerd.service apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer \
  fstrim.timer dpkg-db-backup.timer systemd-timesyncd.service podman-auto-update.timer \
  podman-restart.service podman-clean-transient.service; do
  chroot "$R" systemctl disable "$u" >/dev/null 2>&1 || true
done
chroot "$R" systemctl mask getty@tty1.service serial-getty@ttyS0.service >/dev/null 2>&1 || true
# The boot hook: mount the two 9p shares, run the checks, power off.
install -m 0755 "$HERE/guest-boot.sh" "$R/usr/local/sbin/cellos-hosts-boot"
cat >"$R/etc/systemd/system/cellos-hosts.service" <<'UNIT'
[Unit]
Description=cellos-runtime host-matrix checks (tests/hosts)
After=multi-user.target user@1000.service
Wants=user@1000.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/cellos-hosts-boot
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
UNIT
chroot "$R" systemctl enable cellos-hosts.service >/dev/null 2>&1

# ---- kernel, initrd, disk ----------------------------------------------------
kver=$(basename "$(ls -d "$R"/lib/modules/* | sort -V | tail -n 1)")
cp "$R/boot/vmlinuz-$kver" "$WORK/vmlinuz"
cp "$R/boot/initrd.img-$kver" "$WORK/initrd.img"
size_mb=$(($(du -sm "$R" | cut -f1) + 3072))
t0=$SECONDS
mkfs.ext4 -q -F -L root -d "$R" "$WORK/disk.img" "${size_mb}M"
echo "build-image: disk.img (${size_mb} MiB, sparse) in $((SECONDS - t0)) s"
rm -rf "$R"
[ "$TREE_PARENT" = "$WORK" ] || rm -rf "$TREE_PARENT"
rm -rf "$OUT"
mv "$WORK" "$OUT"
trap - EXIT
