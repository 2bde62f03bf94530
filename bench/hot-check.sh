#!/usr/bin/env bash
# bench/hot-check.sh [BINARY]: fail when bench/hot-functions.txt no longer
# matches the release binary. Its names carry Rust's symbol hashes, which
# change with the compiler, dependency versions or the profile; lld then
# skips the names it does not find and peak RSS drifts back up with no
# error anywhere. `make check-hot` (and so `make bench`) runs this after the
# release build. It cannot see hot code that is missing from the list (new
# functions): only bench/hot-functions.sh's profile finds that.
# LTO's local copies carry a numeric suffix (`name.1735`) that moves with
# any code change, so a few missing names are normal between regenerations:
# it fails above HOT_CHECK_MAX_PERCENT (5) missing, and warns below.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-$(make -s --no-print-directory release-dir)/cellos-runtime}
LIST=bench/hot-functions.txt
listed=$(sort -u "$LIST" | wc -l)
missing=$(nm --defined-only "$BIN" | awk '{print $3}' | sort -u | comm -13 - <(sort -u "$LIST"))
n=$(printf '%s' "$missing" | grep -c . || true)
if [ "$n" != 0 ]; then
  echo "hot-check: $n of $listed names in $LIST are not in $BIN, e.g.:" >&2
  head -n 3 <<<"$missing" >&2 # not a pipe: head's early exit would fail printf (pipefail)
  echo "hot-check: regenerate the list with bench/hot-functions.sh" >&2
  [ $((n * 100)) -le $((listed * ${HOT_CHECK_MAX_PERCENT:-5})) ] || exit 1
  exit 0
fi
echo "hot-check: all $listed names of $LIST are in $BIN"
