#!/usr/bin/env bash
# The host-matrix check list, the same on every host (this machine and the
# Debian 12 guest of tests/hosts/run.sh):
#
#   tests/hosts/checks.sh HOST_NAME
#
# 1. the cargo test targets of tests.list, against the release binaries (the
#    test binaries' CARGO_BIN_EXE paths get the release binaries bind-mounted
#    over them, in a mount namespace of their own), one check per test;
# 2. the end-to-end suite (tests/e2e/run.sh: containerd's runc shim, podman,
#    the CRI path) with the host's cgroup driver;
# 3. the checks of HOSTS_EXTRA, a script sourced here, if set (the guest's
#    systemd-only ones, tests/hosts/systemd.sh).
#
# Environment: HOSTS_RELEASE_DIR (cellos-runtime and cellos-supervisor),
# HOSTS_DEBUG_DIR (where the test binaries expect them), HOSTS_TESTBIN_DIR
# (the test binaries, named by target), HOSTS_CGROUP_MANAGER (cgroupfs or
# systemd), HOSTS_LOG_DIR (full outputs). Prints `PASS name` or
# `FAIL name: reason` per check, then `HOST_NAME: N passed, M failed`; exits
# 1 if any check failed.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOST=${1:?usage: $0 HOST_NAME}
REL=${HOSTS_RELEASE_DIR:?}
DBG=${HOSTS_DEBUG_DIR:?}
BINS=${HOSTS_TESTBIN_DIR:?}
MGR=${HOSTS_CGROUP_MANAGER:-cgroupfs}
LOGS=${HOSTS_LOG_DIR:-$(mktemp -d /tmp/cellos-hosts-logs.XXXXXX)}
mkdir -p "$LOGS"

# pass/fail/note and the counters are the e2e suite's, so both report alike.
# shellcheck source=../e2e/lib.sh
. "$HERE/../e2e/lib.sh"

note "$HOST: $(uname -r), cgroup $(stat -fc %T /sys/fs/cgroup), PID 1 $(cat /proc/1/comm), cgroup driver $MGR"
note "runtime: $("$REL/cellos-runtime" --version 2>&1 | head -n 1)"

# ---- 1. cargo tests -----------------------------------------------------------
mapfile -t TARGETS < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$HERE/tests.list")
for t in "${TARGETS[@]}"; do
  t0=$SECONDS
  log=$LOGS/cargo-$t.log
  if [ ! -x "$BINS/$t" ]; then
    fail "cargo $t" "no test binary $BINS/$t"
    continue
  fi
  # shellcheck disable=SC2016
  timeout -k 10 900 unshare -m --propagation private sh -c '
    mount --bind "$1/cellos-runtime" "$2/cellos-runtime" &&
      mount --bind "$1/cellos-supervisor" "$2/cellos-supervisor" || exit 90
    exec "$3" --test-threads=2' sh "$REL" "$DBG" "$BINS/$t" >"$log" 2>&1
  rc=$?
  n_before=$((PASS_N + FAIL_N))
  while IFS= read -r line; do
    case $line in
      "test "*" ... ok") pass "cargo $t: $(sed 's/^test \(.*\) \.\.\. ok$/\1/' <<<"$line")" ;;
      "test "*" ... FAILED")
        name=$(sed 's/^test \(.*\) \.\.\. FAILED$/\1/' <<<"$line")
        fail "cargo $t: $name" "$(sed -n "/^---- $name stdout ----/,/^----/p" "$log" | head -n 12)" ;;
    esac
  done <"$log"
  if [ "$rc" != 0 ] && [ "$((PASS_N + FAIL_N))" = "$n_before" ]; then
    fail "cargo $t" "exit $rc: $(tail -n 5 "$log")"
  elif [ "$rc" != 0 ] && ! grep -q '\.\.\. FAILED$' "$log"; then
    fail "cargo $t" "exit $rc after its tests: $(tail -n 5 "$log")"
  fi
  note "cargo $t: $((SECONDS - t0)) s"
done

# ---- 2. the end-to-end suite --------------------------------------------------
t0=$SECONDS
# Bounded: a hang must end in failed checks, not in the guest's time limit.
E2E_CGROUP_MANAGER=$MGR E2E_LOG_DIR=$LOGS/e2e-files timeout -k 30 1200 bash "$HERE/../e2e/run.sh" "$REL/cellos-runtime" >"$LOGS/e2e.log" 2>&1
rc=$?
e2e_n=0
while IFS= read -r line; do
  case $line in
    "PASS "*) pass "e2e ${line#PASS }"; e2e_n=$((e2e_n + 1)) ;;
    "FAIL "*) FAIL_N=$((FAIL_N + 1)); echo "FAIL e2e ${line#FAIL }"; e2e_n=$((e2e_n + 1)) ;;
  esac
done <"$LOGS/e2e.log"
[ "$rc" = 0 ] || [ "$e2e_n" != 0 ] || fail "e2e" "exit $rc: $(tail -n 5 "$LOGS/e2e.log")"
[ "$rc" = 0 ] || grep -q '^FAIL ' "$LOGS/e2e.log" || fail "e2e" "exit $rc with no failed check"
note "e2e ($MGR): $((SECONDS - t0)) s"

# ---- 3. the host's own checks -------------------------------------------------
if [ -n "${HOSTS_EXTRA:-}" ]; then
  t0=$SECONDS
  # shellcheck source=systemd.sh
  . "$HOSTS_EXTRA"
  note "$(basename "$HOSTS_EXTRA"): $((SECONDS - t0)) s"
fi

echo "$HOST: $PASS_N passed, $FAIL_N failed"
[ "$FAIL_N" = 0 ] && [ "$PASS_N" != 0 ]
