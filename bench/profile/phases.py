#!/usr/bin/env python3
"""bench/profile/phases.py TRACE NAME=BINARY...

Turn the output of phases.bt (one bpftrace session over many sequential
`RT run` invocations) into a table of milestones, in ms since the runtime
was exec'd, median over the invocations of each runtime.
"""
import re
import statistics
import sys

MILESTONES = [
    ("sealed", "in place (PR_SET_MM) or by a re-exec (execveat)"),
    ("config read", "first open of a config.json"),
    ("clone", "first child process"),
    ("cgroup first mkdir", ""),
    ("cgroup last mkdir", ""),
    ("cgroup.procs GP wait", "ms spent in slow (>1 ms) writes"),
    ("namespaces done", "last unshare (or clone with CLONE_NEW*)"),
    ("first mount", "in the container's mount namespace"),
    ("pivot_root", ""),
    ("exec /bin/true", ""),
    ("container exit", ""),
    ("cleanup: first rmdir", "cgroup removal"),
    ("runtime exit", ""),
]


def segments(path, binaries):
    """Split the trace at each exec of a runtime binary by the driver shell."""
    by_path = {v: k for k, v in binaries.items()}
    cur = None
    for line in open(path, errors="replace"):
        m = re.match(r"(\d+) (\d+) (.+?) (\w+) (.*)$", line.rstrip("\n"))
        if not m:
            continue
        t, pid, comm, ev, arg = int(m[1]) / 1000.0, int(m[2]), m[3], m[4], m[5]
        # bpftrace cuts strings at 63 bytes: a long path arrives truncated.
        exe = next((k for k in by_path if k == arg or (len(arg) >= 63 and k.startswith(arg))), None)
        if ev == "execve" and comm == "sh" and exe:
            if cur:
                yield cur
            cur = {"name": by_path[exe], "t0": t, "main": pid, "events": []}
            continue
        if cur:
            cur["events"].append((t - cur["t0"], pid, comm, ev, arg))
    if cur:
        yield cur


def milestones(seg):
    ev, main = seg["events"], seg["main"]
    out = {}

    def first(pred):
        return next((t for t, *e in ev if pred(*e)), None)

    def last(pred):
        return next((t for t, *e in reversed(ev) if pred(*e)), None)

    out["sealed"] = first(lambda p, c, e, a: p == main and e in ("setmm", "execveat"))
    out["config read"] = first(lambda p, c, e, a: e == "open" and a.endswith("config.json"))
    out["clone"] = first(lambda p, c, e, a: p == main and e == "fork")
    cg = lambda p, c, e, a: e == "mkdir" and a.startswith("/sys/fs/cgroup/")
    out["cgroup first mkdir"] = first(cg)
    out["cgroup last mkdir"] = last(cg)
    out["cgroup.procs GP wait"] = sum(int(a) for _, _, _, e, a in ev if e == "slowwrite") / 1000.0
    ns = lambda p, c, e, a: e == "unshare" or (e == "clone" and int(a, 16) & 0x7E020000)
    out["namespaces done"] = last(ns)
    execd = first(lambda p, c, e, a: e == "execve" and a == "/bin/true")
    inits = {p for t, p, c, e, a in ev if e == "execve" and a == "/bin/true"}
    # fsmount alone is how pathrs opens a private procfs, not a container mount.
    out["first mount"] = first(lambda p, c, e, a: e == "mount" and a != "fsmount" and p != main and c != "sh")
    out["pivot_root"] = first(lambda p, c, e, a: e == "pivot_root")
    out["exec /bin/true"] = execd
    out["container exit"] = first(lambda p, c, e, a: e == "exit" and p in inits)
    out["cleanup: first rmdir"] = first(lambda p, c, e, a: e == "rmdir" and a.startswith("/sys/fs/cgroup/"))
    out["runtime exit"] = last(lambda p, c, e, a: p == main and e == "exit")
    out["mountinfo opens"] = sum(1 for _, _, _, e, a in ev if e == "open" and a.endswith("mountinfo"))
    out["forks (incl. threads)"] = sum(1 for _, _, _, e, a in ev if e == "fork")
    return out


def main():
    trace, *bins = sys.argv[1:]
    binaries = dict(b.split("=", 1) for b in bins)
    per = {}
    for seg in segments(trace, binaries):
        per.setdefault(seg["name"], []).append(milestones(seg))
    names = [n for n in binaries if n in per]
    keys = [k for k, _ in MILESTONES] + ["mountinfo opens", "forks (incl. threads)"]
    print(f"{'milestone (ms since exec, median)':<34}" + "".join(f"{n + ' (' + str(len(per[n])) + ')':>16}" for n in names))
    for k in keys:
        row = []
        for n in names:
            vals = [m[k] for m in per[n] if m.get(k) is not None]
            row.append(f"{statistics.median(vals):16.2f}" if vals else f"{'-':>16}")
        print(f"{k:<34}" + "".join(row))


if __name__ == "__main__":
    main()
