#!/usr/bin/env bash
# Runs inside the Debian 12 guest (started by cellos-hosts.service through
# guest-boot.sh, from the read-only share /mnt/cellos-in that run.sh filled):
# lays out the repository's test material at the host's absolute path (so the
# test binaries' CARGO_MANIFEST_DIR and CARGO_BIN_EXE paths hold), then runs
# checks.sh with the systemd cgroup driver and the guest's own checks
# (systemd.sh). Its output is the share's guest.log.
set -u -o pipefail
IN=/mnt/cellos-in
OUT=/mnt/cellos-out
# shellcheck source=/dev/null
. "$IN/env"
echo "# guest: $(uname -r), systemd $(systemctl --version | head -n 1 | cut -d' ' -f2), $(nproc) cpus"
# Boot is done but for this unit; wait for the user manager of the rootless user.
for _ in $(seq 1 300); do
  [ "$(systemctl is-active user@1000.service)" = active ] && [ -S /run/user/1000/bus ] && break
  sleep 0.5
done
echo "# up $(cut -d" " -f1 /proc/uptime) s"

mkdir -p "$HOSTS_REPO"
tar -C "$HOSTS_REPO" -xf "$IN/repo.tar"
install -d "$HOSTS_REPO/$HOSTS_RELEASE_REL" "$HOSTS_REPO/$HOSTS_DEBUG_REL" /opt/cellos-hosts/testbin
install -m 0755 "$IN/bin/cellos-runtime" "$IN/bin/cellos-supervisor" "$HOSTS_REPO/$HOSTS_RELEASE_REL/"
# The test binaries' CARGO_BIN_EXE paths: checks.sh bind-mounts the release
# binaries over these.
install -m 0755 /dev/null "$HOSTS_REPO/$HOSTS_DEBUG_REL/cellos-runtime"
install -m 0755 /dev/null "$HOSTS_REPO/$HOSTS_DEBUG_REL/cellos-supervisor"
cp "$IN"/testbin/* /opt/cellos-hosts/testbin/
deb=$(ls "$IN"/deb/*.deb 2>/dev/null | head -n 1)

cd "$HOSTS_REPO" || exit 1
HOSTS_RELEASE_DIR=$HOSTS_REPO/$HOSTS_RELEASE_REL \
  HOSTS_DEBUG_DIR=$HOSTS_REPO/$HOSTS_DEBUG_REL \
  HOSTS_TESTBIN_DIR=/opt/cellos-hosts/testbin \
  HOSTS_CGROUP_MANAGER=systemd \
  HOSTS_LOG_DIR=$OUT/logs \
  HOSTS_REPO=$HOSTS_REPO \
  HOSTS_DEB=$deb \
  HOSTS_EXTRA=$HOSTS_REPO/tests/hosts/systemd.sh \
  bash tests/hosts/checks.sh "$HOSTS_GUEST_NAME" 2>&1 | tee "$OUT/checks.log"
rc=${PIPESTATUS[0]}
journalctl -b --no-pager -o short-monotonic >"$OUT/journal.log" 2>&1
exit "$rc"
