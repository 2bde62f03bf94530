#!/usr/bin/env bash
# `make test-hosts`: the host-matrix stage. Runs the same check list
# (checks.sh) on this machine and in a Debian 12 guest with systemd as PID 1
# and pure cgroup v2, against this commit's release binaries, and prints
#
#   <this host>: N passed, M failed
#   debian12-systemd-cgroupv2: N passed, M failed
#
# Exits non-zero if any check fails (or the guest does not finish in time).
#
# The guest image (build-image.sh) is cached under target/hosts/debian12-KEY,
# KEY being a hash of build-image.sh, packages.list and guest-boot.sh; it is
# booted with QEMU's TCG (-accel tcg: /dev/kvm may be one that cannot boot a
# stock kernel), 2 cpus, no network, its kernel and initrd given directly, and
# its disk in snapshot mode (the cached image never changes). Two 9p shares:
# target/hosts/run/in (read-only: guest.sh, the binaries, the test binaries,
# the .deb, the test material) and target/hosts/run/out (results, logs).
#
# Environment (the Makefile sets them): HOSTS_RELEASE_BIN (the release
# cellos-runtime; cellos-supervisor beside it), HOSTS_DEB, HOSTS_DEBUG_DIR
# (where the test binaries' CARGO_BIN_EXE paths point). Optional:
# HOSTS_TIMEOUT (seconds for the guest, default 2400), HOSTS_ONLY=host|guest.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO" || exit 1
REL_BIN=$(realpath "${HOSTS_RELEASE_BIN:?}")
REL_DIR=$(dirname "$REL_BIN")
DEB=${HOSTS_DEB:?}
DBG_DIR=$(realpath "${HOSTS_DEBUG_DIR:?}")
TIMEOUT=${HOSTS_TIMEOUT:-2400}
ONLY=${HOSTS_ONLY:-}
GUEST_NAME=debian12-systemd-cgroupv2
HOST_NAME=$(. /etc/os-release && echo "${ID}${VERSION_ID}")-$( [ -d /run/systemd/system ] && echo systemd || echo nosystemd)-cgroup$( [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && echo v2 || echo v1-hybrid)
H=$REPO/target/hosts
mkdir -p "$H"
START=$SECONDS

for f in "$REL_BIN" "$REL_DIR/cellos-supervisor" "$DEB"; do
  [ -f "$f" ] || { echo "test-hosts: $f is missing (make release deb)" >&2; exit 1; }
done

# ---- the test binaries ---------------------------------------------------------
mapfile -t TARGETS < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$HERE/tests.list")
targs=()
for t in "${TARGETS[@]}"; do targs+=(--test "$t"); done
RUN=$H/run
rm -rf "$RUN"
mkdir -p "$RUN/in/bin" "$RUN/in/testbin" "$RUN/in/deb" "$RUN/out" "$RUN/host"
chmod 0777 "$RUN/out"
cargo test --no-run --message-format=json "${targs[@]}" 2>"$RUN/cargo.log" |
  jq -r 'select(.reason == "compiler-artifact" and .executable != null and .target.kind == ["test"]) | "\(.target.name) \(.executable)"' |
  while read -r name exe; do cp "$exe" "$RUN/in/testbin/$name"; done
for t in "${TARGETS[@]}"; do
  [ -x "$RUN/in/testbin/$t" ] || { echo "test-hosts: no test binary for $t:"; tail -n 20 "$RUN/cargo.log"; exit 1; } >&2
done

# ---- the guest image -----------------------------------------------------------
KEY=$(cat "$HERE/build-image.sh" "$HERE/packages.list" "$HERE/guest-boot.sh" | sha256sum | cut -c1-16)
IMG=$H/debian12-$KEY
if [ "$ONLY" != host ] && [ ! -f "$IMG/disk.img" ]; then
  # Older images (another package list) go: each is about 1 GB.
  rm -rf "$H"/debian12-*
  echo "test-hosts: building the guest image $IMG"
  t0=$SECONDS
  bash "$HERE/build-image.sh" "$IMG" || { echo "test-hosts: the guest image could not be built" >&2; exit 1; }
  echo "test-hosts: guest image built in $((SECONDS - t0)) s"
fi

# ---- the shares ------------------------------------------------------------------
cp "$HERE/guest.sh" "$RUN/in/guest.sh"
cp "$REL_BIN" "$RUN/in/bin/cellos-runtime"
cp "$REL_DIR/cellos-supervisor" "$RUN/in/bin/cellos-supervisor"
cp "$DEB" "$RUN/in/deb/"
tar -C "$REPO" -cf "$RUN/in/repo.tar" bundle-fixtures/busybox bundle-fixtures/cells tests/e2e tests/hosts
cat >"$RUN/in/env" <<EOF
HOSTS_REPO='$REPO'
HOSTS_RELEASE_REL='${REL_DIR#"$REPO"/}'
HOSTS_DEBUG_REL='${DBG_DIR#"$REPO"/}'
HOSTS_GUEST_NAME='$GUEST_NAME'
EOF

# ---- this host, first ------------------------------------------------------------------
# Not beside the guest: QEMU's TCG takes both cores, and timing-sensitive
# checks on a loaded host then fail for the load, not for the runtime.
host_rc=0
if [ "$ONLY" != guest ]; then
  echo "test-hosts: running the checks on this host ($HOST_NAME)"
  t0=$SECONDS
  HOSTS_RELEASE_DIR=$REL_DIR HOSTS_DEBUG_DIR=$DBG_DIR HOSTS_TESTBIN_DIR=$RUN/in/testbin \
    HOSTS_CGROUP_MANAGER=cgroupfs HOSTS_LOG_DIR=$RUN/host/logs \
    bash "$HERE/checks.sh" "$HOST_NAME" >"$RUN/host/checks.log" 2>&1
  host_rc=$?
  grep -E '^(FAIL|# )' "$RUN/host/checks.log"
  echo "test-hosts: this host's checks took $((SECONDS - t0)) s"
fi

# ---- boot the guest ---------------------------------------------------------------------
QEMU_PID=
if [ "$ONLY" != host ]; then
  echo "test-hosts: booting $GUEST_NAME (QEMU TCG, 2 cpus; at most $TIMEOUT s)"
  GUEST_T0=$SECONDS
  timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 3072 \
    -nographic -no-reboot -nic none -display none -monitor none \
    -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 systemd.unified_cgroup_hierarchy=1 quiet panic=-1" \
    -drive "file=$IMG/disk.img,format=raw,if=virtio,snapshot=on" \
    -virtfs "local,path=$RUN/in,mount_tag=cellos-in,security_model=none,readonly=on" \
    -virtfs "local,path=$RUN/out,mount_tag=cellos-out,security_model=none" \
    -serial "file:$RUN/serial.log" </dev/null >"$RUN/qemu.log" 2>&1 &
  QEMU_PID=$!
fi
trap '[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null' EXIT

# ---- the guest's results ---------------------------------------------------------------
guest_rc=0
if [ -n "$QEMU_PID" ]; then
  wait "$QEMU_PID"
  qrc=$?
  QEMU_PID=
  echo "test-hosts: the guest ran $((SECONDS - GUEST_T0)) s (QEMU exit $qrc)"
  if [ -f "$RUN/out/guest.rc" ] && grep -q "^$GUEST_NAME: [0-9]* passed, [0-9]* failed$" "$RUN/out/guest.log"; then
    guest_rc=$(cat "$RUN/out/guest.rc")
    grep -E '^(FAIL|# )' "$RUN/out/guest.log"
  else
    guest_rc=1
    [ "$qrc" = 124 ] && echo "test-hosts: the guest did not finish in $TIMEOUT s (HOSTS_TIMEOUT)"
    echo "---- guest log ($RUN/out/guest.log) ----"
    tail -n 80 "$RUN/out/guest.log" 2>/dev/null
    echo "---- guest console ($RUN/serial.log) ----"
    tail -n 60 "$RUN/serial.log" 2>/dev/null | tr -d '\r'
    cat "$RUN/qemu.log"
  fi
fi

echo "test-hosts: $((SECONDS - START)) s; logs in $RUN"
[ "$ONLY" != guest ] && { grep -E "^$HOST_NAME: [0-9]+ passed, [0-9]+ failed$" "$RUN/host/checks.log" || echo "$HOST_NAME: 0 passed, 1 failed (no summary)"; }
[ "$ONLY" != host ] && { grep -E "^$GUEST_NAME: [0-9]+ passed, [0-9]+ failed$" "$RUN/out/guest.log" 2>/dev/null || echo "$GUEST_NAME: 0 passed, 1 failed (the guest gave no summary)"; }
[ "$host_rc" = 0 ] && [ "$guest_rc" = 0 ]
