#!/usr/bin/env bash
# bench/run.sh: container lifecycle benchmark, cellos-runtime vs crun vs runc
# (and an ExecutionCell vs bubblewrap). Run through `make bench`, which
# builds the release binaries and the busybox fixture first.
#
# Every runtime runs inside ONE private mount namespace in which
# /sys/fs/cgroup/unified is unmounted (crun refuses hybrid cgroups), so all
# of them see the same cgroup v1 host. The timing itself is done by
# bench/lifecycle.c (compiled here); bench/report.py prints the table and
# writes bench/results/latest.json.
#
# The state roots (and the cell's state dir) are on a tmpfs mounted inside
# that namespace, as /run is on a normal host (here /run is on ext4, whose
# inode creation costs the runtime that writes the most files); it vanishes
# with the namespace. BENCH_TMPFS=0 keeps them on disk instead.
#
# Knobs (environment): BENCH_ITERS (30), BENCH_CONC (50), BENCH_CONC_ROUNDS (3),
# BENCH_GAP_MS (50: untimed pause before each cgroup join, see lifecycle.c),
# BENCH_WARM=1 (keep the cgroup lock warm for every runtime, see lifecycle.c),
# BENCH_OUT (bench/results/latest.json), BENCH_KEEP=1 keeps the scratch dir,
# BENCH_HYPERFINE=1 adds a hyperfine cross-check of (b).
set -euo pipefail

# The runtimes' default configuration: no backtrace capture on errors.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
ITERS=${BENCH_ITERS:-30}
GAP_MS=${BENCH_GAP_MS:-50}
WARM=()
[ "${BENCH_WARM:-0}" = 1 ] && WARM=(-W)
TMPFS=${BENCH_TMPFS:-1}
CONC=${BENCH_CONC:-50}
CONC_ROUNDS=${BENCH_CONC_ROUNDS:-3}
OUT=${BENCH_OUT:-bench/results/latest.json}
ROOTFS=$REPO/bundle-fixtures/busybox/rootfs
BASE_CONFIG=$REPO/bundle-fixtures/busybox/config.json
# `make release`'s binaries (target/<host triple>/release).
RELEASE_DIR=${CELLOS_RELEASE_DIR:-$(make -s --no-print-directory -C "$REPO" release-dir)}
CELLOS=$RELEASE_DIR/cellos-runtime
SUPERVISOR=$RELEASE_DIR/cellos-supervisor
RUNC=$(command -v runc)
CRUN=$(command -v crun)
BWRAP=$(command -v bwrap)
TAG=cb$$ # every container ID, pid file and cgroup of this run has it

for f in "$CELLOS" "$SUPERVISOR" "$ROOTFS/bin/busybox" "$BASE_CONFIG" "$RUNC" "$CRUN" "$BWRAP"; do
  [ -e "$f" ] || { echo "bench: missing $f (run it through 'make bench')" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }

SCRATCH=$(mktemp -d /tmp/cellos-bench.XXXXXX)
STATE=$SCRATCH/state
mkdir -m 0700 "$STATE"

# Delete whatever this run may have left: containers in our state roots,
# cgroups named after our tag, the scratch dir. Runs on every exit. In the
# private namespace crun also treats the bare /sys/fs/cgroup/unified dir
# (tmpfs there) as a hierarchy and leaves DIR/cgroup.procs files in it that
# no delete removes; they are ours to remove (hidden from the host by the
# cgroup2 mount).
cleanup() {
  local rc=$?
  set +e
  # Processes still in one of our containers' cgroups (only after a failure).
  for d in $(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -name "*$TAG-*" 2>/dev/null); do
    for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  if [ -d "$SCRATCH" ]; then
    unshare -m sh -c '
      umount /sys/fs/cgroup/unified 2>/dev/null
      scratch=$1 tag=$2; shift 2
      for rt in "$@"; do
        for root in "$scratch"/state/root-* "$scratch"/state/hf-*; do
          for st in "$root/$tag"-*; do
            [ -e "$st" ] && "$rt" --root "$root" delete --force "${st##*/}" >/dev/null 2>&1
          done
        done
      done
      if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = tmpfs ]; then
        for d in /sys/fs/cgroup/unified/"$tag"-*; do
          [ -d "$d" ] && rm -f "$d/cgroup.procs" && rmdir "$d"
        done
      fi
    ' sh "$SCRATCH" "$TAG" "$CELLOS" "$RUNC" "$CRUN"
    for _ in 1 2 3 4 5; do
      find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -depth -type d -name "*$TAG-*" \
        -exec rmdir {} + 2>/dev/null && break
      sleep 0.2
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
      echo "bench: scratch kept in $SCRATCH" >&2
    else
      rm -rf "$SCRATCH"
    fi
  fi
  left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -name "*$TAG-*" 2>/dev/null | head -3)
  [ -z "$left" ] || echo "bench: WARNING: cgroups left behind: $left" >&2
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -Wall -Wextra -Wno-unused-parameter -pthread -o "$SCRATCH/lifecycle" bench/lifecycle.c

# Bundles: the fixture's config with another process.
. bench/bundle.sh
bench_bundle "$SCRATCH/bundle-true" /bin/true
bench_bundle "$SCRATCH/bundle-sleep" /bin/sleep 600
cat >"$SCRATCH/cell.json" <<EOF
{"apiVersion": "cellos.io/v1", "kind": "ExecutionCell",
 "spec": {"id": "$TAG-cell", "run": {"argv": ["/bin/true"], "workingDirectory": "/work"}}}
EOF

RTS=(
  -R "cellos|abcd|-|$CELLOS"
  -R "crun|abcd|-|$CRUN"
  -R "runc|abcd|-|$RUNC"
  # The same binary with phase marks on stderr: its own row, so the marks
  # cost nothing in the "cellos" row.
  -R "cellos-trace|ab|CELLOS_TRACE=1|$CELLOS"
)
# The cost of sealing: the same binary on a read-only bind mount is sealed
# as it is (a write through /proc/<pid>/exe fails with EROFS), so it skips
# the re-exec. The mount exists only inside the benchmark's namespace.
mkdir -p "$SCRATCH/ro"
cp "$CELLOS" "$SCRATCH/ro/cellos-runtime"
RTS+=(-R "cellos-presealed|ab|-|$SCRATCH/ro/cellos-runtime")
CMDS=(
  -E "cellos-cell|CELL_OS_USE_NOOP_SINK=1,CELLOS_STATE_DIR=$STATE/cell-state|$SUPERVISOR $SCRATCH/cell.json"
  -E "bwrap|-|$BWRAP --ro-bind / / --tmpfs /work --chdir /work /bin/true"
  -E "bwrap-unshare-all|-|$BWRAP --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /work --chdir /work /bin/true"
  -E "host-true|-|/bin/true"
)

# A stale hot-function list (new compiler or dependencies) silently costs
# RSS: say how much of it this build still matches.
if [ -s bench/hot-functions.txt ]; then
  listed=$(wc -l <bench/hot-functions.txt)
  found=$(nm --defined-only "$CELLOS" 2>/dev/null | awk '{print $3}' | sort -u |
    comm -12 - <(sort -u bench/hot-functions.txt) | wc -l)
  echo "bench: bench/hot-functions.txt: $found of $listed names in this build" >&2
  # Even a few missing names move the layout enough to show in peak RSS.
  [ "$found" = "$listed" ] ||
    echo "bench: WARNING: $((listed - found)) names are stale; run bench/hot-functions.sh" >&2
fi
echo "bench: $ITERS iterations, $CONC concurrent x $CONC_ROUNDS rounds, gap ${GAP_MS}ms, state on $([ "$TMPFS" = 1 ] && echo tmpfs || echo disk), scratch $SCRATCH, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
CPU_BEFORE=$(head -1 /proc/stat)
set +e
unshare -m sh -c '
  umount /sys/fs/cgroup/unified 2>/dev/null
  mount --bind "$3" "$3" && mount -o remount,bind,ro "$3" || exit 1
  if [ "$1" = 1 ]; then mount -t tmpfs -o mode=0700,size=256m cellos-bench "$2" || exit 1; fi
  shift 3
  exec "$@"' sh "$TMPFS" "$STATE" "$SCRATCH/ro" \
  "$SCRATCH/lifecycle" -o "$SCRATCH/samples.tsv" -s "$SCRATCH" -d "$STATE" -t "$TAG" \
  -b "$SCRATCH/bundle-true" -S "$SCRATCH/bundle-sleep" -g "$GAP_MS" "${WARM[@]}" \
  -n "$ITERS" -c "$CONC" -r "$CONC_ROUNDS" "${RTS[@]}" "${CMDS[@]}"
harness_rc=$?
CPU_AFTER=$(head -1 /proc/stat)
set -e

mkdir -p "$(dirname "$OUT")"
BENCH_LOAD="$LOAD_BEFORE $(cut -d' ' -f1 /proc/loadavg)" BENCH_CPU_STAT="$CPU_BEFORE|$CPU_AFTER" BENCH_STATE_FS=$([ "$TMPFS" = 1 ] && echo tmpfs || echo disk) \
python3 bench/report.py "$SCRATCH/samples.tsv" "$OUT" \
  "cellos=$CELLOS" "crun=$CRUN" "runc=$RUNC" "cellos-supervisor=$SUPERVISOR" "bwrap=$BWRAP"
# Optional cross-check of (b) with hyperfine (same namespace set-up, back to
# back: no gap, so see the cgroup note in lifecycle.c before comparing).
if [ "${BENCH_HYPERFINE:-0}" = 1 ]; then
  unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"' sh \
    hyperfine -N --warmup 3 --runs "$ITERS" --style basic \
    -n cellos "$CELLOS --root $STATE/hf-cellos run --bundle $SCRATCH/bundle-true $TAG-hf" \
    -n crun "$CRUN --root $STATE/hf-crun run --bundle $SCRATCH/bundle-true $TAG-hf" \
    -n runc "$RUNC --root $STATE/hf-runc run --bundle $SCRATCH/bundle-true $TAG-hf"
fi
if [ "$harness_rc" != 0 ]; then
  echo "bench: the harness reported failures (exit $harness_rc)" >&2
  exit "$harness_rc"
fi
