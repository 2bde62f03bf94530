#!/usr/bin/env bash
# bench/hot-functions.sh: regenerate bench/hot-functions.txt, the functions a
# container lifecycle runs, which build.rs has lld place first in .text.
#
# It builds the release binary (which keeps its symbol table), attaches a bpftrace uprobe to
# every Rust function (ours, the crates', std's), drives a workload of every
# hot verb through it, and writes the names of the functions that ran.
# glibc's functions are added from page faults (uprobes on glibc's early
# start-up code are not safe). Needs root and bpftrace; about 3 minutes plus
# the build. Re-run it when the list has gone stale (new functions, a new
# compiler or new dependency versions): a stale list only costs RSS.
set -euo pipefail

# The runtimes' default configuration: no backtrace capture on errors.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
OUT=${HOT_OUT:-bench/hot-functions.txt}
# uprobes need tracefs, which a fresh machine may not have mounted.
[ -e /sys/kernel/tracing/uprobe_events ] || mount -t tracefs nodev /sys/kernel/tracing
command -v bpftrace >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftrace
}
[ -x bundle-fixtures/busybox/rootfs/bin/busybox ] || make fixtures

make release
SCRATCH=$(mktemp -d /tmp/cellos-hot.XXXXXX)
BIN=$SCRATCH/cellos-runtime
cp "$(make -s --no-print-directory release-dir)/cellos-runtime" "$BIN"
TAG=hot$$
BT_PID=
cleanup() {
  set +e
  [ -n "$BT_PID" ] && kill -KILL "$BT_PID" 2>/dev/null
  for st in "$SCRATCH"/root/"$TAG"-*; do
    [ -e "$st" ] && "$BIN" --root "$SCRATCH/root" delete --force "${st##*/}" >/dev/null 2>&1
  done
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

. bench/bundle.sh
bench_bundle "$SCRATCH/true" /bin/true
bench_bundle "$SCRATCH/sleep" /bin/sleep 60

# Each invocation first announces its verb with getpgid(MARK + n), a
# syscall bpftrace watches: the profile then knows which verbs ran each
# function, and the list can keep the code of each verb together.
MARK=424200
FINAL=424199
VERBS=(- create state start delete run exec list ps pause resume kill error)
signal() { python3 -c "import os, sys
try: os.getpgid(int(sys.argv[1]))
except OSError: pass" "$1"; }
v() { # VERB ARGS...: run the runtime as verb VERB
  local i
  for i in "${!VERBS[@]}"; do [ "${VERBS[$i]}" = "$1" ] && signal $((MARK + i)); done
  shift
  # Without address randomization every process maps the (static-pie)
  # image at the same base, which the profile subtracts (see @base).
  setarch "$(uname -m)" -R "$BIN" --root "$SCRATCH/root" "$@"
}

workload() {
  local i
  for i in 1 2 3; do
    v create create --bundle "$SCRATCH/true" --pid-file "$SCRATCH/pid" "$TAG-a$i" </dev/null >/dev/null 2>&1
    v state state "$TAG-a$i" >/dev/null
    v start start "$TAG-a$i"
    sleep 0.05
    v delete delete "$TAG-a$i"
    v run run --bundle "$SCRATCH/true" "$TAG-b$i" </dev/null >/dev/null 2>&1
    v run run --detach --bundle "$SCRATCH/sleep" "$TAG-c$i" </dev/null >/dev/null 2>&1
    v exec exec "$TAG-c$i" /bin/true
    v list list >/dev/null
    v ps ps "$TAG-c$i" >/dev/null
    v pause pause "$TAG-c$i"
    v resume resume "$TAG-c$i"
    v kill kill "$TAG-c$i" KILL
    sleep 0.1
    v delete delete "$TAG-c$i"
    v error --log-format json --log "$SCRATCH/log.json" state "$TAG-none" 2>/dev/null || true
  done
}

# 1. Every function: a uprobe on each. Rust's by name; the C ones (glibc,
#    libseccomp) by address, as their local names repeat, and only those
#    with a size in .text (bpftrace resolves no other). The page faults of
#    step 2 alone find about one C function per 64 KiB that the kernel maps
#    around a fault, which left most of the C code that runs spread over
#    its 700 KiB at the end of .text. Not glibc's SIMD string functions
#    (avx, evex, sse, ... variants): with a uprobe on their entry they
#    return wrong results (a `create` then spins in serde_json), so they
#    still come from step 2. The map is printed on getpgid(FINAL),
#    so that we need not wait for bpftrace to detach thousands of uprobes
#    (one RCU grace period each).
C_PROBES=$(python3 - "$BIN" <<'EOF'
import re, subprocess, sys
binary = sys.argv[1]
sec = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True).stdout
text = next(l.split("]", 1)[1].split() for l in sec.splitlines() if " .text " in l)
lo, hi = int(text[2], 16), int(text[2], 16) + int(text[4], 16)
addrs = set()
for line in subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True).stdout.splitlines():
    p = line.split()
    simd = len(p) == 4 and re.search("avx|evex|sse|erms|rtm|mmx", p[3])
    if len(p) == 4 and p[2] in "tTwW" and not p[3].startswith(("_ZN", "_R")) and int(p[1], 16) and not simd:
        if lo <= int(p[0], 16) < hi:
            addrs.add(int(p[0], 16))
print("".join(f"uprobe:{binary}:{a:#x}, " for a in sorted(addrs)))
EOF
)
BPFTRACE_MAX_PROBES=20000 BPFTRACE_MAP_KEYS_MAX=65536 bpftrace -o "$SCRATCH/hits.txt" -e "
tracepoint:syscalls:sys_enter_getpgid /args->pid > $MARK && args->pid < $MARK + 100/ { @verb = args->pid - $MARK; }
uprobe:$BIN:main { @base = reg(\"ip\"); }
$C_PROBES uprobe:$BIN:_ZN*, uprobe:$BIN:_R* { @h[@verb, reg(\"ip\")] = count(); }
tracepoint:syscalls:sys_enter_getpgid /args->pid == $FINAL/ { print(@base); print(@h); }" 2>"$SCRATCH/bt.err" &
BT_PID=$!
# Attached when its open file count stops growing.
prev=-1
while :; do
  sleep 3
  n=$(ls "/proc/$BT_PID/fd" 2>/dev/null | wc -l)
  [ "$n" -gt 100 ] && [ "$n" = "$prev" ] && break
  kill -0 "$BT_PID" 2>/dev/null || { cat "$SCRATCH/bt.err" >&2; exit 1; }
  prev=$n
done
workload
signal $FINAL
sleep 2
kill -KILL "$BT_PID" 2>/dev/null || true
BT_PID=

# 2. glibc functions: where the workload's processes fault on our image
#    (the sealed re-exec and libcontainer's children included; the busybox
#    of the container is left out by name).
BPFTRACE_MAP_KEYS_MAX=65536 bpftrace -o "$SCRATCH/faults.txt" -e "
tracepoint:exceptions:page_fault_user /comm != \"true\" && comm != \"sleep\" && comm != \"bpftrace\" && comm != \"python3\"/ { @[args->ip] = count(); }
tracepoint:syscalls:sys_enter_getpgid /args->pid == $FINAL/ { print(@); exit(); }" 2>/dev/null &
BT_PID=$!
sleep 3
workload
signal $FINAL
wait "$BT_PID" || true
BT_PID=

python3 - "$BIN" "$SCRATCH/hits.txt" "$SCRATCH/faults.txt" "$OUT" <<'EOF'
import bisect, re, subprocess, sys
binary, hits, faults, out = sys.argv[1:]
syms = []
for line in subprocess.run(["nm", "-n", "--defined-only", binary], capture_output=True, text=True).stdout.splitlines():
    p = line.split()
    if len(p) == 3 and p[1] in "tT":
        syms.append((int(p[0], 16), p[2]))
starts = [a for a, _ in syms]
# The image is position-independent: addresses are relative to where main
# was seen (the same base in every process, ASLR being off).
text = open(hits).read()
main_at = dict((n, a) for a, n in syms)["main"]
base = int(re.search(r"@base: (\d+)", text)[1]) - main_at
end = syms[-1][0]
def owner(addr):
    addr -= base
    if not 0 <= addr <= end:
        return None
    i = bisect.bisect_right(starts, addr) - 1
    return syms[i][1] if i >= 0 else None
verbs = {}
c = set()
for m in re.finditer(r"@h\[(\d+), (\d+)\]: \d+", text):
    name = owner(int(m[2]))
    if name and name.startswith(("_ZN", "_R")):
        verbs.setdefault(name, set()).add(int(m[1]))
    elif name:
        c.add(name)
for m in re.finditer(r"@\[(\d+)\]: \d+", open(faults).read()):
    name = owner(int(m[1]))
    if name and not name.startswith(("_ZN", "_R")):
        c.add(name)
# glibc's first (start-up, malloc, string functions: every verb), then the
# Rust functions the most verbs share, and each verb's own code together.
rust = sorted(verbs, key=lambda n: (-len(verbs[n]), sorted(verbs[n]), n))
open(out, "w").write("\n".join(sorted(c) + rust) + "\n")
print(f"hot-functions: {len(rust)} Rust and {len(c)} C functions -> {out}")
EOF
# Link again with the new list.
make release
