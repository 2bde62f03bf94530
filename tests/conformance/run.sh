#!/usr/bin/env bash
# The OCI runtime-tools validation suite against a runtime.
#
#   tests/conformance/run.sh RUNTIME_PATH
#
# Builds the suite once from the source snapshot in ../shared/conformance
# (offline: Go modules vendored, GOFLAGS=-mod=vendor, Debian's Go) into
# target/runtime-tools/<sha256 of the snapshot>/, then runs each of its
# programs with RUNTIME=RUNTIME_PATH from the tree's root, every one in a
# private mount namespace with /sys/fs/cgroup/unified unmounted, as on the
# host where the expectations were measured (crun refuses hybrid cgroups).
#
# Prints one line per program: `PASS name`, `FAIL name: why`, or `SKIP name:
# why`, then `N passed, M failed, K skipped`. A program passes when it exits
# 0, prints no `not ok`, and, if it printed no test point, no diagnostic
# either (the *_fail programs and some hook programs report only failures).
#
# Programs that check the container from inside need the suite's own
# `runtimetest`. The snapshot in ../shared lacks its source (cmd/ is empty);
# RUNTIMETEST=/path/to/runtimetest supplies a binary, otherwise those
# programs are skipped, each saying so.
#
# Knobs: RUNTIME_TOOLS_TARBALL (the snapshot), RUNTIMETEST, CONFORMANCE_ONLY
# (space-separated program names), CONFORMANCE_TIMEOUT (s per program, 120).
set -u -o pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
die() { echo "conformance: $*" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 2; }

[ $# -eq 1 ] || die "usage: $0 RUNTIME_PATH"
RUNTIME=$1
[[ $RUNTIME == /* ]] || RUNTIME=$PWD/$RUNTIME
[ -x "$RUNTIME" ] || die "$RUNTIME: not an executable file"
[ "$(id -u)" = 0 ] || die "needs root"
TARBALL=${RUNTIME_TOOLS_TARBALL:-$REPO/../shared/conformance/runtime-tools-260e151.tar.gz}
[ -f "$TARBALL" ] || die "$TARBALL: the runtime-tools snapshot is missing"
command -v go >/dev/null || die "go is not installed (Debian: golang-go)"
TIMEOUT=${CONFORMANCE_TIMEOUT:-120}

SUM=$(sha256sum "$TARBALL" | cut -c1-16)
TREE=$REPO/target/runtime-tools/$SUM
if [ ! -f "$TREE/.built" ]; then
  rm -rf "$TREE" && mkdir -p "$TREE" || die "cannot make $TREE"
  tar xzf "$TARBALL" -C "$TREE" || die "cannot unpack $TARBALL"
  ( cd "$TREE" && GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=0 GOCACHE=$TREE/.gocache \
      make validation-executables >"$TREE/build.log" 2>&1 ) || die "build failed: see $TREE/build.log"
  touch "$TREE/.built"
fi
cd "$TREE" || die "cannot enter $TREE"
rm -f runtimetest
if [ -n "${RUNTIMETEST:-}" ]; then
  cp "$RUNTIMETEST" runtimetest || die "cannot copy $RUNTIMETEST"
fi

passed=0; failed=0; skipped=0
OUT=$(mktemp -d /tmp/cellos-conformance.XXXXXX) || die "mktemp failed"
# The suite calls $RUNTIME with no --root: give it one of its own, so that
# nothing it leaves mixes with other runs or with the default root.
ROOT=$OUT/root
printf '#!/bin/sh\nexec "%s" --root "%s" "$@"\n' "$RUNTIME" "$ROOT" >"$OUT/runtime"
chmod +x "$OUT/runtime"
cleanup() {
  # Containers a failing program left behind, then the cgroup parents the
  # relative-cgroup programs make (testdir/cgrouptest/...) and no runtime
  # removes, deepest first; rmdir leaves anything still in use.
  for d in "$ROOT"/*; do
    [ -d "$d" ] && [ "${d##*/}" != "@bundles" ] && "$RUNTIME" --root "$ROOT" delete --force "${d##*/}" >/dev/null 2>&1
  done
  for top in /sys/fs/cgroup/*/testdir /sys/fs/cgroup/*/cgrouptest /sys/fs/cgroup/testdir /sys/fs/cgroup/cgrouptest; do
    [ -d "$top" ] && find "$top" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  rm -rf "$OUT"
}
trap cleanup EXIT
for t in validation/*/*.t; do
  name=$(basename "$t" .t)
  if [ -n "${CONFORMANCE_ONLY:-}" ] && [[ " $CONFORMANCE_ONLY " != *" $name "* ]]; then continue; fi
  # It runs runtimetest if it names it, validates from inside or outside
  # (both run it), or keeps the default process args (/runtimetest).
  src=validation/$name/$name.go
  if [ ! -e runtimetest ] && { grep -qE 'runtimetest|Runtime(Inside|Outside)Validate' "$src" ||
      ! grep -q SetProcessArgs "$src"; }; then
    echo "SKIP $name: needs the suite's runtimetest, whose source the snapshot lacks (set RUNTIMETEST)"
    skipped=$((skipped + 1)); continue
  fi
  log=$OUT/$name.tap
  timeout "$TIMEOUT" unshare -m sh -c \
    'umount /sys/fs/cgroup/unified 2>/dev/null; exec env RUNTIME="$1" "$2"' sh "$OUT/runtime" "$t" >"$log" 2>&1
  rc=$?
  ok=$(grep -c '^ok' "$log"); nok=$(grep -c '^not ok' "$log"); diag=$(grep -c '^  ---' "$log")
  if [ "$rc" = 0 ] && [ "$nok" = 0 ] && { [ "$ok" -gt 0 ] || [ "$diag" = 0 ]; }; then
    echo "PASS $name"; passed=$((passed + 1))
  else
    why=$(grep -m1 -E '^not ok|"error"|cellos-runtime:|^[a-z].*error' "$log" | tr -s ' ' | cut -c1-200)
    echo "FAIL $name: exit $rc, $ok ok, $nok not ok; ${why:-no output}"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed, $skipped skipped"
