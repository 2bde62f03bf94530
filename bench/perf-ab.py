#!/usr/bin/env python3
"""bench/perf-ab.py: A/B timing of runtime binaries, sample by sample.

    bench/perf-ab.py [-n SAMPLES] [-k CALLS] [-g GAP_MS] PATTERN NAME=[VAR=VAL,...@]BINARY...

e.g. `run new=target/.../cellos-runtime warm=CELLOS_WARMUP=1@target/.../cellos-runtime
crun=/usr/bin/crun`: the same binary with and without the warm-up, and crun.

Every sample runs K calls of PATTERN back to back with one runtime; the
runtimes alternate sample by sample (A, B, C, A, B, C, ...), so machine
noise hits all of them alike. Runs (re-executing itself) in a private mount
namespace with the cgroup2 mount hidden and the state roots on a tmpfs, as
bench/run.sh does. -g sleeps GAP_MS (untimed) before each call: the
isolated pattern; 0 (default) is the sustained one.

Patterns (per-call ms; medians over the samples, and each against the first):
  run    foreground `run` of /bin/true
  life   create --pid-file, start, wait for the init (we are its subreaper),
         delete
  exec   `exec` of /bin/true into one running container
  d      K sleep containers made at once (untimed), then all K deleted at
         once with `delete --force` (wall time for the K, not per call)
  rss    peak RSS (KiB, ru_maxrss) of create, start, exec, kill, delete, run
"""
import argparse
import ctypes
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOTFS = os.path.join(REPO, "bundle-fixtures/busybox/rootfs")
BASE = os.path.join(REPO, "bundle-fixtures/busybox/config.json")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("RUST_")}


def bundle(path, args):
    os.makedirs(path, exist_ok=True)
    c = json.load(open(BASE))
    c["process"]["args"] = args
    c["root"]["path"] = ROOTFS
    json.dump(c, open(os.path.join(path, "config.json"), "w"))
    return path


# ru_maxrss carries over exec, so a child of this (big) Python would report
# at least our own RSS: for the rss pattern, GNU time (about 1 MiB) starts
# the runtime and reports its peak.
MEASURE_RSS = False


def call(rt, argv, check=True):
    """Run argv; returns (ns, maxrss KiB)."""
    env = rt.env
    rssf = None
    if MEASURE_RSS:
        rssf = tempfile.NamedTemporaryFile()
        argv = ["/usr/bin/time", "-f", "%M", "-o", rssf.name, *argv]
    t0 = time.perf_counter_ns()
    # stderr to a file: a created init keeps whatever stdio it inherits.
    with tempfile.TemporaryFile() as errf:
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=errf)
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter_ns()
        p.returncode = os.waitstatus_to_exitcode(status)
        if check and p.returncode != 0:
            errf.seek(0)
            err = errf.read().decode(errors="replace")
            sys.exit(f"perf-ab: {' '.join(argv)}: exit {p.returncode}: {err}")
    if rssf:
        with rssf:
            return t1 - t0, int(open(rssf.name).read().split()[-1])
    return t1 - t0, ru.ru_maxrss


class Rt:
    def __init__(self, name, path, scratch, tag):
        # NAME=[VAR=VALUE,...@]BINARY: extra environment for this runtime.
        self.env = dict(ENV)
        if "@" in path:
            extra, path = path.split("@", 1)
            self.env.update(kv.split("=", 1) for kv in extra.split(","))
        self.name, self.path, self.tag = name, path, tag
        self.root = os.path.join(scratch, "state", "root-" + name)
        self.n = 0

    def argv(self, *a):
        return [self.path, "--root", self.root, *a]

    def next_id(self):
        self.n += 1
        return f"{self.tag}-{self.name}-{self.n}"


def gap(ms):
    if ms:
        time.sleep(ms / 1000)


def sample(pattern, rt, k, b_true, b_sleep, gap_ms, scratch):
    """Returns a list of (ns, rss) or, for d, one wall time."""
    out = []
    if pattern == "run":
        for _ in range(k):
            gap(gap_ms)
            out.append(call(rt, rt.argv("run", "--bundle", b_true, rt.next_id())))
    elif pattern == "life":
        for _ in range(k):
            i = rt.next_id()
            pidf = os.path.join(scratch, i + ".pid")
            gap(gap_ms)
            t0 = time.perf_counter_ns()
            call(rt, rt.argv("create", "--bundle", b_true, "--pid-file", pidf, i))
            call(rt, rt.argv("start", i))
            pid = int(open(pidf).read())
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            call(rt, rt.argv("delete", i))
            out.append((time.perf_counter_ns() - t0, 0))
    elif pattern == "exec":
        i = rt.tag + "-" + rt.name + "-exec"
        if not os.path.exists(os.path.join(rt.root, i)):
            call(rt, rt.argv("run", "-d", "--bundle", b_sleep, i))
        for _ in range(k):
            gap(gap_ms)
            out.append(call(rt, rt.argv("exec", i, "/bin/true")))
    elif pattern == "d":
        ids = [rt.next_id() for _ in range(k)]
        ps = [subprocess.Popen(rt.argv("run", "-d", "--bundle", b_sleep, i), env=rt.env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL) for i in ids]
        for p in ps:
            p.wait()
        gap(gap_ms)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter_ns()
        ps = [subprocess.Popen(rt.argv("delete", "--force", i), env=rt.env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL) for i in ids]
        bad = sum(p.wait() != 0 for p in ps)
        t1 = time.perf_counter_ns()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) * 1e9
        if bad:
            sys.exit(f"perf-ab: {bad} of {k} delete --force failed ({rt.name})")
        out.append((t1 - t0, cpu))
    elif pattern == "rss":
        i = rt.next_id()
        pidf = os.path.join(scratch, i + ".pid")
        r = {}
        _, r["create"] = call(rt, rt.argv("create", "--bundle", b_sleep, "--pid-file", pidf, i))
        _, r["start"] = call(rt, rt.argv("start", i))
        _, r["exec"] = call(rt, rt.argv("exec", i, "/bin/true"))
        _, r["state"] = call(rt, rt.argv("state", i))
        _, r["kill"] = call(rt, rt.argv("kill", i, "KILL"))
        pid = int(open(pidf).read())
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        _, r["delete"] = call(rt, rt.argv("delete", i))
        gap(gap_ms)
        _, r["run"] = call(rt, rt.argv("run", "--bundle", b_true, rt.next_id()))
        out.append(r)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10, help="samples per runtime")
    ap.add_argument("-k", type=int, default=20, help="calls per sample")
    ap.add_argument("-g", type=int, default=0, help="untimed gap before each call (ms)")
    ap.add_argument("pattern", choices=["run", "life", "exec", "d", "rss"])
    ap.add_argument("rts", nargs="+", metavar="NAME=BINARY")
    a = ap.parse_args()
    global MEASURE_RSS
    MEASURE_RSS = a.pattern == "rss"
    if os.environ.get("PERF_AB_NS") != "1":
        scratch = tempfile.mkdtemp(prefix="perf-ab.")
        env = dict(os.environ, PERF_AB_NS="1", PERF_AB_SCRATCH=scratch)
        sh = ('umount /sys/fs/cgroup/unified 2>/dev/null; mkdir -p "$1/state" && '
              'mount -t tmpfs -o mode=0700 perf-ab "$1/state" && shift && exec "$@"')
        rc = subprocess.call(["unshare", "-m", "sh", "-c", sh, "sh", scratch,
                              sys.executable, *sys.argv], env=env)
        subprocess.call(["rm", "-rf", scratch])
        sys.exit(rc)
    scratch = os.environ["PERF_AB_SCRATCH"]
    # Reap the inits that `create`/`run -d` leave to us, as a shim does.
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    tag = f"pab{os.getpid()}"
    b_true = bundle(os.path.join(scratch, "b-true"), ["/bin/true"])
    b_sleep = bundle(os.path.join(scratch, "b-sleep"), ["/bin/sleep", "600"])
    rts = [Rt(n, p, scratch, tag) for n, p in (s.split("=", 1) for s in a.rts)]
    res = {rt.name: [] for rt in rts}
    try:
        sample(a.pattern, rts[0], 1, b_true, b_sleep, 0, scratch)  # warm caches
        for s in range(a.n):
            order = rts if s % 2 == 0 else rts[::-1]
            for rt in order:
                res[rt.name].append(sample(a.pattern, rt, a.k, b_true, b_sleep, a.g, scratch))
    finally:
        for rt in rts:
            if os.path.isdir(rt.root):
                for i in os.listdir(rt.root):
                    if i.startswith(tag):
                        call(rt, rt.argv("delete", "--force", i), check=False)
    print(f"pattern {a.pattern}, {a.n} samples x {a.k} calls, gap {a.g} ms, "
          f"load {open('/proc/loadavg').read().split()[0]}")
    first = None
    for rt in rts:
        if a.pattern == "rss":
            verbs = res[rt.name][0][0].keys()
            med = {v: statistics.median(x[0][v] for x in res[rt.name]) for v in verbs}
            print(f"  {rt.name:12} " + " ".join(f"{v} {int(m)}" for v, m in med.items()))
            continue
        per = [statistics.mean(ns for ns, _ in smp) / 1e6 for smp in res[rt.name]]
        extra = ""
        if a.pattern == "d":
            per = [smp[0][0] / 1e6 for smp in res[rt.name]]
            cpu = [smp[0][1] / 1e6 for smp in res[rt.name]]
            extra = f"  cpu median {statistics.median(cpu):.1f} ms"
        m = statistics.median(per)
        first = first or m
        print(f"  {rt.name:12} median {m:8.2f} ms  min {min(per):8.2f}  max {max(per):8.2f}"
              f"  x{m / first:.3f}{extra}  samples {' '.join(f'{x:.1f}' for x in per)}")


if __name__ == "__main__":
    main()
