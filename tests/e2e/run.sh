#!/usr/bin/env bash
# End-to-end suite: real engines (containerd's runc v2 shim, podman/conmon,
# containerd's CRI plugin) drive a runc-compatible runtime.
#
#   tests/e2e/run.sh RUNTIME_PATH      e.g. target/debug/cellos-runtime or /usr/sbin/runc
#
# Needs root, containerd, podman, conmon, catatonit, jq, script (util-linux)
# and, for the CRI checks, python3-grpcio. Prints `PASS name` or
# `FAIL name: reason` per check and `N passed, M failed` at the end; exits
# non-zero on any failure. Everything lives in a scratch dir that is removed
# on exit, together with the daemons, containers and cgroups it made.
#
# E2E_SUITES=containerd,podman,k8s picks suites (default: all three).
# E2E_CGROUP_MANAGER=systemd (needs systemd as PID 1 and cgroup v2) drives the
# engines with their systemd cgroup drivers: ctr --runc-systemd-cgroup,
# podman's cgroup_manager = "systemd", the CRI handler's SystemdCgroup = true;
# the default, cgroupfs, writes cgroups directly.

set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
  echo "e2e: $*" >&2
  echo "0 passed, 1 failed"
  exit 2
}

[ $# -eq 1 ] || die "usage: $0 RUNTIME_PATH"
RUNTIME=$1
[[ $RUNTIME == /* ]] || RUNTIME=$PWD/$RUNTIME
if [ ! -f "$RUNTIME" ] || [ ! -x "$RUNTIME" ]; then die "$RUNTIME: not an executable file"; fi
RT_NAME=$(basename "$RUNTIME")
[ "$(id -u)" = 0 ] || die "needs root"
for tool in containerd ctr containerd-shim-runc-v2 podman conmon jq python3 sha256sum timeout tar; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

SUITES=${E2E_SUITES:-containerd,podman,k8s}
# Debian's python3 (it has python3-grpcio for the CRI checks).
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
# A tag unique to this run: containerd namespace, cgroup parents, names.
TAG=cellos-e2e-$$
CGROUP_MANAGER=${E2E_CGROUP_MANAGER:-cgroupfs}
# The cgroup each suite puts its containers under, by its name in
# /sys/fs/cgroup (cgroupfs: a directory; systemd: a top-level slice, named
# without '-', which systemd would read as nesting).
case $CGROUP_MANAGER in
  cgroupfs) CG_CTR=$TAG CG_PODMAN=$TAG-podman CG_K8S=$TAG-k8s ;;
  systemd)
    CG_CTR=${TAG//-/}.slice CG_PODMAN=${TAG//-/}podman.slice CG_K8S=${TAG//-/}k8s.slice
    [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && [ -d /run/systemd/system ] ||
      die "E2E_CGROUP_MANAGER=systemd needs systemd as PID 1 and cgroup v2" ;;
  *) die "E2E_CGROUP_MANAGER=$CGROUP_MANAGER: cgroupfs or systemd" ;;
esac
S=$(mktemp -d /tmp/cellos-e2e.XXXXXX) || die "mktemp failed"
chmod 0755 "$S"

# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=containerd.sh
. "$HERE/containerd.sh"
# shellcheck source=podman.sh
. "$HERE/podman.sh"
# shellcheck source=k8s.sh
. "$HERE/k8s.sh"

# Global places an engine or runtime could write to. Whatever appears there
# during the run must be gone at the end.
GLOBAL_PATHS=(/run/containerd /run/runc "/run/$RT_NAME" /run/libpod /run/containers
  /var/lib/containerd /var/lib/containers /opt/containerd /etc/containerd /etc/containers
  /etc/cni /var/lib/cni /run/netns /dev/shm)

global_snapshot() {
  {
    find "${GLOBAL_PATHS[@]}" -maxdepth 4 2>/dev/null
    ls -d /tmp/runc-process* /tmp/pty* /tmp/conmon-term.* 2>/dev/null
    for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
      ls -d "$h"/cellos-e2e-* "$h"/cellose2e* 2>/dev/null
    done
  } | sort
}

# Unmount whatever is still mounted under the scratch dir, deepest first.
umount_scratch() {
  awk -v p="$S/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
}

no_run_processes() {
  ! pgrep -f "$S/" >/dev/null
}

CLEANED=0
cleanup_all() {
  [ "$CLEANED" = 1 ] && return
  CLEANED=1
  containerd_cleanup
  podman_cleanup
  k8s_cleanup
  for pid in "${CTRD_PIDS[@]}"; do containerd_stop "$pid"; done
  # Shims and conmons of this run (their command lines name the scratch dir)
  # exit once their containers are gone; give them time, then end them.
  local pids pid
  if ! wait_for 10 no_run_processes; then
    pids=$(pgrep -f "$S/")
    fail "no processes left behind" "still running after 10 s: $(for pid in $pids; do
      tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null; echo; done)"
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
  fi
  local cg
  for cg in "$CG_CTR" "$CG_PODMAN" "$CG_K8S"; do
    # systemd owns the slices: stopping one ends what is left in it.
    [ "$CGROUP_MANAGER" = systemd ] && timeout 60 systemctl stop "$cg" 2>/dev/null
    cgroup_rmdir_tree "$cg"
  done
  # Directories the engines made in global places and left empty (the shim's
  # runtime root of our namespace, ctr's fifo dir, runc's default root...).
  local p
  comm -13 "$S/global.before" <(global_snapshot) | sort -r | while read -r p; do
    case $p in
      # ctr leaves the fifos of a detached exec (`ctr tasks exec -d`) behind.
      /run/containerd/fifo/*) rm -rf "$p" ;;
      # The socket of a shim of this run (all of them have exited by now).
      /run/containerd/s/*) [ -S "$p" ] && rm -f "$p" ;;
      # podman load keeps a blob cache in this fixed place for root; remove
      # it only when this run made it.
      /var/lib/containers/cache/blob-info-cache-v1.boltdb) rm -f "$p" ;;
      *) [ -d "$p" ] && rmdir "$p" 2>/dev/null ;;
    esac
  done
  umount_scratch
}

on_exit() {
  trap - EXIT INT TERM HUP
  cleanup_all
  echo "$PASS_N passed, $FAIL_N failed"
  # E2E_LOG_DIR keeps the engines' and the wrappers' logs (make test-hosts
  # brings them out of its guest).
  if [ -n "${E2E_LOG_DIR:-}" ]; then
    mkdir -p "$E2E_LOG_DIR"
    for f in "$S"/*.log "$S"/*/containerd.log; do
      [ -f "$f" ] && cp "$f" "$E2E_LOG_DIR/$(basename "$(dirname "$f")")-$(basename "$f")"
    done
  fi
  rm -rf "$S"
  if [ "$FAIL_N" != 0 ] || [ "$PASS_N" = 0 ]; then exit 1; fi
  exit 0
}
trap on_exit EXIT
trap 'fail "e2e suite" "interrupted by a signal"; exit 130' INT TERM HUP

global_snapshot >"$S/global.before"
note "runtime under test: $RUNTIME ($("$RUNTIME" --version 2>&1 | head -n 1))"
note "scratch dir: $S"
note "cgroup manager: $CGROUP_MANAGER"

START=$SECONDS
# The image: a busybox rootfs as an OCI archive, for both engines.
build_rootfs "$S/rootfs"
build_image "$S/rootfs" localhost/e2e-busybox:latest '["sh"]' "$S/busybox.tar"
expect "image: busybox OCI archive built" "no $S/busybox.tar" test -s "$S/busybox.tar"

for suite in ${SUITES//,/ }; do
  t0=$SECONDS
  case $suite in
    containerd) containerd_suite; containerd_cleanup ;;
    podman) podman_suite; podman_cleanup ;;
    k8s) k8s_suite; k8s_cleanup ;;
    *) fail "suite $suite" "unknown suite (containerd, podman, k8s)" ;;
  esac
  note "$suite suite: $((SECONDS - t0)) s"
done

cleanup_all
left=$(comm -13 "$S/global.before" <(global_snapshot))
expect "nothing left behind in global places" "left: $left" [ -z "$left" ]
note "total: $((SECONDS - START)) s"
