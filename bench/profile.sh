#!/usr/bin/env bash
# bench/profile.sh: where a container's lifecycle time goes, cellos-runtime
# vs crun (and runc). Same set-up as bench/bench.py: one private mount
# namespace without /sys/fs/cgroup/unified, state roots on a tmpfs.
#
#  1. milestones of `RT run` (/bin/true), ms since exec, median of
#     PROFILE_RUNS (9) runs each, from tracepoints (bpftrace: near-native
#     timing, unlike strace);
#  2. syscalls per invocation of create / start / delete (strace -f);
#  3. CPU time, page faults and context switches per `run` (perf stat).
#
# Needs root, the release build and the busybox fixture (make bench does
# both). Leaves nothing behind.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
RUNS=${PROFILE_RUNS:-9}
# `make release`'s binary (target/<host triple>/release).
CELLOS=$(make -s --no-print-directory -C "$REPO" release-dir)/cellos-runtime
CRUN=$(command -v crun)
RUNC=$(command -v runc)
ROOTFS=$REPO/bundle-fixtures/busybox/rootfs
TAG=cp$$
for p in bpftrace strace perf; do
  command -v $p >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftrace strace linux-perf
    break
  }
done
for f in "$CELLOS" "$ROOTFS/bin/busybox" "$CRUN" "$RUNC"; do
  [ -e "$f" ] || { echo "profile: missing $f (run 'make bench' first)" >&2; exit 1; }
done

SCRATCH=$(mktemp -d /tmp/cellos-profile.XXXXXX)
cleanup() {
  local rc=$?
  set +e
  for d in $(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -name "*$TAG-*" 2>/dev/null); do
    for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  unshare -m sh -c '
    umount /sys/fs/cgroup/unified 2>/dev/null
    if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = tmpfs ]; then
      for d in /sys/fs/cgroup/unified/"$1"-*; do
        [ -d "$d" ] && rm -f "$d/cgroup.procs" && rmdir "$d"
      done
    fi' sh "$TAG"
  for _ in 1 2 3 4 5; do
    find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -depth -type d -name "*$TAG-*" \
      -exec rmdir {} + 2>/dev/null && break
    sleep 0.2
  done
  if [ "${PROFILE_KEEP:-0}" = 1 ]; then echo "profile: kept $SCRATCH" >&2; else rm -rf "$SCRATCH"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$SCRATCH/state"
. bench/bundle.sh
bench_bundle "$SCRATCH/bundle" /bin/true

# Everything below runs inside the private namespace.
cat >"$SCRATCH/inside.sh" <<'EOF'
#!/bin/sh
# inside.sh SCRATCH TAG RUNS CELLOS CRUN RUNC
S=$1 TAG=$2 RUNS=$3; shift 3
umount /sys/fs/cgroup/unified 2>/dev/null
mount -t tmpfs -o mode=0700 cellos-profile "$S/state" || exit 1
B=$S/bundle
name() { case $1 in */cellos-runtime) echo cellos;; */crun) echo crun;; *) echo runc;; esac; }

# 1. milestones: one bpftrace session over every run (50 ms apart, so that
#    each run starts from a cold cgroup, as in bench/bench.py's isolated pattern).
cat >"$S/driver.sh" <<EOD
#!/bin/sh
for i in \$(seq $RUNS); do
  for rt in $*; do
    sleep 0.05
    \$rt --root $S/state/root-pt run --bundle $B $TAG-pt-\$i </dev/null >/dev/null 2>>$S/err
  done
done
EOD
chmod +x "$S/driver.sh"
bpftrace "$(dirname "$0")/phases.bt" -c "/bin/sh $S/driver.sh" >"$S/phases.txt" 2>"$S/bpftrace.err" ||
  { echo "profile: bpftrace failed:" >&2; tail -3 "$S/bpftrace.err" >&2; }

# 2. syscalls of create / start / delete, followed into every child.
for rt in "$@"; do
  n=$(name "$rt") id=$TAG-st-$n
  strace -f -o "$S/strace-create-$n" "$rt" --root "$S/state/root-st" create --bundle "$B" \
    --pid-file "$S/state/pid-$n" "$id" </dev/null >/dev/null 2>>"$S/err" &
  st=$!
  i=0; while [ ! -s "$S/state/pid-$n" ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i + 1)); done
  sleep 0.2 # the create process exits after writing the pid file
  strace -f -o "$S/strace-start-$n" "$rt" --root "$S/state/root-st" start "$id" 2>>"$S/err"
  wait $st # the container's /bin/true is traced too: strace ends when it does
  strace -f -o "$S/strace-delete-$n" "$rt" --root "$S/state/root-st" delete "$id" 2>>"$S/err"
done

# 3. CPU per run.
for rt in "$@"; do
  n=$(name "$rt")
  cat >"$S/loop-$n.sh" <<EOD
#!/bin/sh
for i in \$(seq $RUNS); do $rt --root $S/state/root-perf run --bundle $B $TAG-pf-$n-\$i </dev/null >/dev/null; done
EOD
  chmod +x "$S/loop-$n.sh"
  perf stat -x, -e task-clock,page-faults,context-switches -o "$S/perf-$n" "$S/loop-$n.sh" 2>>"$S/err"
done
EOF
chmod +x "$SCRATCH/inside.sh"
cp bench/profile/phases.bt "$SCRATCH/phases.bt"
unshare -m "$SCRATCH/inside.sh" "$SCRATCH" "$TAG" "$RUNS" "$CELLOS" "$CRUN" "$RUNC"
[ -s "$SCRATCH/err" ] && { echo "profile: runtime errors:" >&2; head -5 "$SCRATCH/err" >&2; }

echo "== 1. \`run /bin/true\` milestones (bpftrace tracepoints)"
python3 bench/profile/phases.py "$SCRATCH/phases.txt" "cellos=$CELLOS" "crun=$CRUN" "runc=$RUNC"
echo
echo "== 2. syscalls per invocation (strace -f; create includes the container's init up to its exit)"
python3 - "$SCRATCH" <<'EOF'
import collections, re, sys
s = sys.argv[1]
print(f"{'':<16}{'syscalls':>9}{'procs':>6}{'execs':>6}{'mountinfo':>10}{'/proc opens':>12}{'fstatfs':>8}{'readlink':>9}{'statx':>6}  top")
for step in ("create", "start", "delete"):
    for n in ("cellos", "crun", "runc"):
        try:
            lines = open(f"{s}/strace-{step}-{n}").read().splitlines()
        except OSError:
            continue
        calls = collections.Counter()
        pids = set()
        for l in lines:
            m = re.match(r"(\d+)\s+(\w+)\(", l)
            if m:
                pids.add(m[1]); calls[m[2]] += 1
        text = "\n".join(lines)
        mi = len(re.findall(r'open\w*\([^)]*mountinfo"', text))
        procfs = len(re.findall(r'open\w*\((?:AT_FDCWD, |-?\d+, )?"/proc', text))
        top = ", ".join(f"{k} {v}" for k, v in calls.most_common(5))
        print(f"{step + ' ' + n:<16}{sum(calls.values()):>9}{len(pids):>6}{calls['execve'] + calls['execveat']:>6}"
              f"{mi:>10}{procfs:>12}{calls['fstatfs']:>8}{calls['readlink'] + calls['readlinkat']:>9}{calls['statx']:>6}  {top}")
EOF
echo
echo "== 3. per \`run\` (perf stat over $RUNS runs, back to back)"
for n in cellos crun runc; do
  [ -f "$SCRATCH/perf-$n" ] || continue
  awk -F, -v n=$n -v r="$RUNS" '/task-clock/ {c=$1} /page-faults/ {f=$1} /context-switches/ {x=$1}
    END {printf "%-8s %6.2f ms CPU  %6.0f page faults  %5.1f context switches\n", n, c/r, f/r, x/r}' "$SCRATCH/perf-$n"
done
