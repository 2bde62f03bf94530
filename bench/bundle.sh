# bench/bundle.sh (sourced): bench_bundle DIR ARG...
# Writes DIR/config.json: the busybox fixture's config running ARG..., with
# the fixture's rootfs by absolute path (the bundle lives elsewhere).
bench_bundle() {
  local dir=$1
  shift
  mkdir -p "$dir"
  python3 - "$REPO/bundle-fixtures/busybox/config.json" "$dir/config.json" \
    "$REPO/bundle-fixtures/busybox/rootfs" "$@" <<'PY'
import json, sys
base, out, rootfs, *args = sys.argv[1:]
c = json.load(open(base))
c["process"]["args"] = args
c["root"]["path"] = rootfs
json.dump(c, open(out, "w"), indent=1)
PY
}
