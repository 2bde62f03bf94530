#!/usr/bin/env python3
"""bench/report.py SAMPLES.tsv OUT.json NAME=BINARY...

Summarise the samples written by bench/bench.py: print a table per
benchmark (median, min, max in ms and ratios against crun and runc), peak
RSS per invocation, binary sizes, the CELLOS_TRACE phase marks, then a
summary table of both patterns (isolated and sustained), and write it all
as JSON.
"""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

BENCHES = {
    "a": ("(a) lifecycle: create / start / wait / delete", ["create", "start", "wait", "delete", "total"]),
    "b": ("(b) foreground run /bin/true", ["run"]),
    "c": ("(c) exec /bin/true into a running container", ["exec"]),
    "d": ("(d) concurrent containers, wall time", ["create+start", "delete", "total"]),
    "e": ("(e) one-shot /bin/true sandboxes", ["run"]),
    "A": ("(a) sustained: lifecycles back to back, per lifecycle", ["per-call", "create", "start", "wait", "delete"]),
    "B": ("(b) sustained: foreground runs back to back, per run", ["per-call", "run"]),
    "C": ("(c) sustained: execs back to back, per exec", ["per-call", "exec"]),
    "E": ("(e) sustained: one-shot sandboxes back to back, per command", ["per-call", "run"]),
}
BASELINES = ("crun", "runc")
# The bubblewrap command (e) is compared with: the cell's isolation first.
E_BASELINES = ("bwrap-cell", "bwrap-unshare-all", "bwrap", "host-true")


def load(path):
    samples, runtimes, notes, config = {}, {}, {}, {}
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "S":
                _, bench, rt, step, it, ns, rss, rc = p
                if int(it) < 0:
                    continue  # warm-up
                s = samples.setdefault((bench, rt, step), {"ms": [], "rss": [], "fail": 0})
                s["ms"].append(int(ns) / 1e6)
                if int(rss):
                    s["rss"].append(int(rss))
                if int(rc):
                    s["fail"] += 1
            elif p[0] == "R":
                runtimes[p[1]] = {"path": p[2], "log": p[3], "env": p[4]}
            elif p[0] == "N":
                notes.setdefault(p[2], set()).add(p[3])
            elif p[0] == "U":
                config["harness_wall_s"] = round(int(p[1]) / 1e9, 1)
                config["harness_cpu_s"] = round(int(p[2]) / 1e9, 1)
            elif p[0] == "G":
                keys = ("gap_ms", "iterations", "concurrent", "rounds", "warm_cgroup_lock", "burst", "sustained_samples")
                config.update(zip(keys, map(int, p[1:])))
    config["state_fs"] = os.environ.get("BENCH_STATE_FS", "?")
    config["loadavg_before_after"] = os.environ.get("BENCH_LOAD", "?")
    # Busy CPU time of the whole machine during the run, minus ours: what
    # other work was competing with the measurements.
    try:
        before, after = (l.split()[1:] for l in os.environ["BENCH_CPU_STAT"].split("|"))
        delta = [int(a) - int(b) for a, b in zip(after, before)]
        busy = (sum(delta) - delta[3] - delta[4]) / os.sysconf("SC_CLK_TCK")
        config["foreign_cpu_s"] = round(max(0.0, busy - config.get("harness_cpu_s", 0)), 1)
    except (KeyError, ValueError):
        pass
    return samples, runtimes, notes, config


def stats(values):
    return {
        "n": len(values),
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def trace_phases(log):
    """Median ms of each `cellos-trace: <phase> <ms>ms` line, per bench/step."""
    out, cur = {}, None
    try:
        lines = open(log, errors="replace").read().splitlines()
    except OSError:
        return {}
    for line in lines:
        if line.startswith("@@ "):
            _, bench, step, it = line.split()
            cur = None if int(it) < 0 else f"{bench}/{step}"
            continue
        m = re.match(r"cellos-trace: (\S+) ([0-9.]+)ms", line)
        if m and cur:
            out.setdefault(cur, {}).setdefault(m.group(1), []).append(float(m.group(2)))
    return {
        k: {ph: round(statistics.median(v), 3) for ph, v in sorted(d.items(), key=lambda kv: statistics.median(kv[1]))}
        for k, d in out.items()
    }


def binary_info(path):
    info = {"size_bytes": os.stat(path).st_size}
    # What is mapped: a symbol table (cellos keeps one, see build.rs) is not.
    try:
        ph = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout
        info["loaded_bytes"] = sum(int(l.split()[4], 16) for l in ph.splitlines() if l.strip().startswith("LOAD"))
    except (OSError, ValueError, IndexError):
        pass
    try:
        ldd = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        info["shared_libs"] = len([l for l in ldd.splitlines() if "=>" in l or l.strip().startswith("/")])
    except OSError:
        pass
    return info


def version(cmd):
    try:
        r = subprocess.run([cmd, "--version"], capture_output=True, text=True, timeout=10)
        return (r.stdout or r.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def fmt_ratio(a, b):
    return f"{a / b:5.2f}x" if b else "   - "


def summarise(results, config):
    """The README's table: one row per benchmark and pattern, cellos-runtime
    against crun and runc; then peak RSS per verb; then the cell against
    bubblewrap."""
    burst = config.get("burst", "?")
    med = lambda bench, rt, step: results.get(bench, {}).get(rt, {}).get(step, {}).get("median")
    rss = lambda bench, rt, step: (results.get(bench, {}).get(rt, {}).get(step, {}).get("rss_kb")
                                   or results.get("m", {}).get(rt, {}).get(step, {}).get("rss_kb"))
    rows = []

    def row(name, pattern, get, unit="ms", cols=("cellos", "crun", "runc")):
        vals = {rt: get(rt) for rt in cols}
        if vals[cols[0]] is None:
            return
        r = {"benchmark": name, "pattern": pattern, "unit": unit, **vals}
        for b in cols[1:]:
            if vals[b]:
                r[f"vs_{b}"] = round(vals[cols[0]] / vals[b], 3)
        rows.append(r)

    for bench, name, step in (("a", "(a) create + start + wait + delete", "total"),
                              ("b", "(b) foreground `run` of `/bin/true`", "run"),
                              ("c", "(c) `exec /bin/true`", "exec")):
        row(name, "isolated", lambda rt: med(bench, rt, step))
        row(name, f"sustained, {burst} back to back", lambda rt: med(bench.upper(), rt, "per-call"))
    row(f"(d) {config.get('concurrent')} containers at once, total", "concurrent", lambda rt: med("d", rt, "total"))
    for bench, step in (("a", "create"), ("a", "start"), ("a", "delete"), ("b", "run"), ("c", "exec")):
        row(f"peak RSS of `{step}`", "isolated", lambda rt: rss(bench, rt, step), unit="KiB")
    for bench, pattern in (("e", "isolated"), ("E", f"sustained, {burst} back to back")):
        for cell in ("cellos-cell", "cellos-run-cell"):
            row(f"(e) `/bin/true` cell: {cell}", pattern, lambda rt: med(bench, rt, "run"
                if bench == "e" else "per-call"), cols=(cell, "bwrap-cell"))
    return rows


def summary_table(rows):
    out = ["| benchmark | pattern | cellos-runtime | crun | runc | vs crun | vs runc |",
           "|---|---|---|---|---|---|---|"]
    fmt = lambda v, unit: "-" if v is None else (f"{v:.0f}" if unit == "KiB" else f"{v:.2f}")
    for r in rows:
        if "crun" in r:
            out.append(f"| {r['benchmark']} | {r['pattern']} | {fmt(r['cellos'], r['unit'])} | "
                       f"{fmt(r['crun'], r['unit'])} | {fmt(r['runc'], r['unit'])} | "
                       f"{r.get('vs_crun', '-')}x | {r.get('vs_runc', '-')}x |")
    cells = [r for r in rows if "bwrap-cell" in r]
    if cells:
        out += ["", "| cell | pattern | ms | bwrap (cell's isolation) | vs bwrap |", "|---|---|---|---|---|"]
        for r in cells:
            name = next(k for k in r if k.startswith("cellos-"))
            out.append(f"| {r['benchmark']} | {r['pattern']} | {fmt(r[name], 'ms')} | "
                       f"{fmt(r['bwrap-cell'], 'ms')} | {r.get('vs_bwrap-cell', '-')}x |")
    return out


def main():
    samples_path, out_path, *bins = sys.argv[1:]
    samples, runtimes, notes, config = load(samples_path)
    binaries = dict(b.split("=", 1) for b in bins)
    results = {}
    for (bench, rt, step), s in samples.items():
        r = stats(s["ms"])
        if s["rss"]:
            r["rss_kb"] = int(statistics.median(s["rss"]))
        if s["fail"]:
            r["failed"] = s["fail"]
        results.setdefault(bench, {}).setdefault(rt, {})[step] = r

    order = [rt for rt in runtimes]
    lines = [f"config: {config.get('iterations')} iterations (medians exclude 1 warm-up), "
             f"(d) {config.get('concurrent')} containers x {config.get('rounds')} rounds, "
             f"{config.get('gap_ms')} ms untimed gap before each cgroup join, "
             f"cgroup lock {'kept warm (-W)' if config.get('warm_cgroup_lock') else 'cold'}, state on {config['state_fs']}; "
             f"run {config.get('harness_wall_s')} s wall, {config.get('harness_cpu_s')} s CPU ours, "
             f"{config.get('foreign_cpu_s')} s CPU by other processes"]
    if config.get("foreign_cpu_s", 0) > 0.2 * config.get("harness_wall_s", 1e9):
        lines.append("WARNING: other processes kept the CPUs busy during the run: expect noise")
    for bench, (title, steps) in BENCHES.items():
        if bench not in results:
            continue
        base = BASELINES
        if bench in "eE":
            base = (tuple(b for b in E_BASELINES if b in results[bench]) + ("", ""))[:2]
        lines.append("")
        lines.append(f"{title}")
        lines.append(f"  {'runtime':<18}{'step':<13}{'median':>8}{'min':>8}{'max':>8}   "
                     + "".join(f"{'vs ' + b if b else '':>14}" for b in base))
        for rt in order:
            if rt not in results[bench]:
                continue
            for step in steps:
                r = results[bench][rt].get(step)
                if not r:
                    continue
                ratios = []
                for b in base:
                    ref = results[bench].get(b, {}).get(step)
                    ratios.append(fmt_ratio(r["median"], ref["median"]) if ref else "   - ")
                fail = f"  FAILED {r['failed']}/{r['n']}" if r.get("failed") else ""
                lines.append(f"  {rt:<18}{step:<13}{r['median']:8.2f}{r['min']:8.2f}{r['max']:8.2f}   "
                             f"{ratios[0]:>14}{ratios[1]:>14}{fail}")
    lines.append("")
    lines.append("(f) peak RSS per invocation, median KiB (wait4 ru_maxrss)")
    lines.append(f"  {'runtime':<18}" + "".join(f"{s:>9}" for s in ("create", "start", "delete", "run", "exec")))
    for rt in order:
        row = []
        for bench, step in (("a", "create"), ("a", "start"), ("a", "delete"), ("b", "run"), ("c", "exec")):
            r = results.get(bench, {}).get(rt, {}).get(step, {})
            if "rss_kb" not in r:  # bench.py: a separate pass
                r = results.get("m", {}).get(rt, {}).get(step, {})
            row.append(f"{r['rss_kb']:>9}" if "rss_kb" in r else f"{'-':>9}")
        if any(c.strip() != "-" for c in row):
            lines.append(f"  {rt:<18}" + "".join(row))
    e_rss = [f"{rt} {results[b][rt]['run'].get('rss_kb', '-')}" for b in ("e", "m") for rt in order
             if rt in results.get(b, {}) and "run" in results[b][rt] and rt in results.get("e", {})
             and "rss_kb" in results[b][rt]["run"]]
    if e_rss:
        lines.append("  (e): " + ", ".join(e_rss))
    bininfo = {name: binary_info(path) for name, path in binaries.items()}
    lines.append("  binaries: " + ", ".join(
        f"{n} {b['size_bytes'] / 1048576:.1f} MiB ({b.get('loaded_bytes', 0) / 1048576:.1f} loaded)/{b.get('shared_libs', '?')} libs"
        for n, b in bininfo.items()))

    traces = {}
    for rt, meta in runtimes.items():
        if "CELLOS_TRACE=1" in meta["env"]:
            traces[rt] = trace_phases(meta["log"])
    for rt, t in traces.items():
        lines.append("")
        lines.append(f"{rt}: CELLOS_TRACE phase marks, median ms since the process started")
        for key, phases in t.items():
            lines.append(f"  {key:<10} " + "  ".join(f"{ph} {ms:.2f}" for ph, ms in phases.items()))
    if notes:
        lines.append("")
        lines.append("notes: " + "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in notes.items()))
    summary = summarise(results, config)
    lines.append("")
    lines.append("summary (median ms; sustained: per call, the sample's time / calls per sample)")
    lines.extend(summary_table(summary))
    print("\n".join(lines))

    doc = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"kernel": platform.release(), "cpus": os.cpu_count()},
        "units": "ms (wall, median/min/max over the iterations); rss_kb = median ru_maxrss",
        "versions": {n: version(p) for n, p in binaries.items() if n != "cellos-supervisor"},
        "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "config": config,
        "results": results,
        "summary": summary,
        "binaries": bininfo,
        "trace": traces,
        "notes": {k: sorted(v) for k, v in notes.items()},
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"\nwrote {out_path}")


if __name__ == "__main__":
    main()
