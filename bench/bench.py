#!/usr/bin/env python3
"""bench/bench.py: container lifecycle benchmark, cellos-runtime vs crun vs
runc (and an ExecutionCell vs bubblewrap). Run through `make bench`, which
builds `make release` and the busybox fixture first; bench/README.md says
what is measured and why.

It plays the part of a container shim: a child subreaper that starts each
runtime command with posix_spawn, times it with perf_counter_ns and takes
its peak RSS from wait4(). Container inits are reparented to it when the
runtime exits, so their exit is observed with a blocking waitpid() on the
pid from the pid file, as a shim would.

Every runtime runs inside ONE private mount namespace in which
/sys/fs/cgroup/unified is unmounted (crun refuses hybrid cgroups), so all of
them see the same cgroup v1 host; state roots are on a tmpfs there, as /run
is on a normal host. The script re-runs itself in that namespace
(`unshare -m bench.py --inner CONFIG`) for the timing; the outer process
prepares the bundles, cleans up on every exit and calls bench/report.py.

Two patterns:
  isolated   every call after an untimed gap (BENCH_GAP_MS, 50), the
             runtimes alternating call by call (A, B, C, A, B, C, ...);
  sustained  BENCH_BURST (20) calls back to back per sample, the samples
             alternating between runtimes, BENCH_SAMPLES (10) per runtime.

Samples file (tab separated), one line per measurement:
    S  bench  runtime  step  iter  ns  maxrss_kb  exit_code
iter -1 is the warm-up, which the report leaves out. Other lines:
    R  name  path  log_file  env          (one per runtime or command)
    N  bench  runtime  note  value        (observations, e.g. state left)
    G  gap_ms  iters  conc  rounds  warm  burst  samples   (settings)
    U  wall_ns  cpu_ns                    (our CPU time and our children's)
"""
import argparse
import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Static and small: what the peak-RSS pass starts each command from.
BUSYBOX = os.path.join(REPO, "bundle-fixtures/busybox/rootfs/bin/busybox")
PR_SET_CHILD_SUBREAPER = 36


def env_int(name, default):
    return int(os.environ.get(name, default))


def release_dir():
    out = subprocess.run(["make", "-s", "--no-print-directory", "-C", REPO, "release-dir"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


# ---------------------------------------------------------------- outer side

def bwrap_cell_argv(bwrap):
    """bubblewrap with the isolation a default cell gets (src/cell/convert.rs,
    src/cell/mounts.rs): pid, net, ipc, uts and cgroup namespaces, a
    read-only root holding the host's system directories read-only (symlinks
    where the host has symlinks), its own /proc, a /dev tmpfs with devpts,
    shm and mqueue, /sys read-only, an /etc tmpfs with the same few host
    files, tmpfs /tmp and workspace. bench/README.md lists what differs."""
    argv = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup", "--die-with-parent"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr"):
        if os.path.islink(name):
            argv += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            argv += ["--ro-bind", name, name]
    argv += ["--proc", "/proc", "--dev", "/dev", "--mqueue", "/dev/mqueue",
             "--ro-bind", "/sys", "/sys", "--tmpfs", "/etc"]
    for name in ("/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf",
                 "/etc/nsswitch.conf", "/etc/ld.so.cache", "/etc/ld.so.conf",
                 "/etc/localtime", "/etc/host.conf", "/etc/os-release", "/etc/alternatives"):
        if os.path.exists(name):
            argv += ["--ro-bind", os.path.realpath(name), name]
    argv += ["--tmpfs", "/tmp", "--tmpfs", "/work", "--chdir", "/work", "--remount-ro", "/",
             "--cap-drop", "ALL", "/bin/true"]
    return argv


def hot_list_check(cellos):
    """A stale hot-function list (new compiler or dependencies) silently
    costs RSS: say how much of it this build still matches."""
    path = os.path.join(REPO, "bench/hot-functions.txt")
    if not os.path.exists(path) or not os.path.getsize(path):
        return
    listed = set(open(path).read().split())
    nm = subprocess.run(["nm", "--defined-only", cellos], capture_output=True, text=True).stdout
    names = {p[2] for p in (l.split() for l in nm.splitlines()) if len(p) == 3}
    found = len(listed & names)
    print(f"bench: bench/hot-functions.txt: {found} of {len(listed)} names in this build", file=sys.stderr)
    if found != len(listed):
        # Even a few missing names move the layout enough to show in peak RSS.
        print(f"bench: WARNING: {len(listed) - found} names are stale; run bench/hot-functions.sh",
              file=sys.stderr)


def cleanup(scratch, tag, runtimes, keep):
    """Delete whatever this run may have left: processes and cgroups named
    after our tag, containers in our state roots, the scratch dir. In the
    private namespace crun also treats the bare /sys/fs/cgroup/unified dir
    (tmpfs there) as a hierarchy and leaves DIR/cgroup.procs files in it
    that no delete removes; they are ours to remove (hidden from the host by
    the cgroup2 mount)."""
    def ours():
        found = subprocess.run(["find", "/sys/fs/cgroup", "-mindepth", "2", "-maxdepth", "4",
                                "-depth", "-type", "d", "-name", f"*{tag}-*"],
                               capture_output=True, text=True).stdout
        return found.split()
    for d in ours():
        try:
            for pid in open(os.path.join(d, "cgroup.procs")).read().split():
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
    subprocess.run(["unshare", "-m", "sh", "-c", r'''
      umount /sys/fs/cgroup/unified 2>/dev/null
      scratch=$1 tag=$2; shift 2
      for rt in "$@"; do
        for root in "$scratch"/state/root-*; do
          for st in "$root/$tag"-*; do
            [ -e "$st" ] && "$rt" --root "$root" delete --force "${st##*/}" >/dev/null 2>&1
          done
        done
      done
      if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = tmpfs ]; then
        for d in /sys/fs/cgroup/unified/"$tag"-*; do
          [ -d "$d" ] && rm -f "$d/cgroup.procs" && rmdir "$d"
        done
      fi''', "sh", scratch, tag, *runtimes], check=False)
    for _ in range(5):
        left = ours()
        for d in left:
            try:
                os.rmdir(d)
            except OSError:
                pass
        if not ours():
            break
        time.sleep(0.2)
    if keep:
        print(f"bench: scratch kept in {scratch}", file=sys.stderr)
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    left = ours()
    if left:
        print(f"bench: WARNING: cgroups left behind: {' '.join(left[:3])}", file=sys.stderr)


def outer(a):
    # The runtimes' default configuration: no backtrace capture on errors.
    for k in ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE"):
        os.environ.pop(k, None)
    if os.geteuid() != 0:
        sys.exit("bench: needs root")
    rel = None if (a.cellos and a.supervisor) else release_dir()
    cellos = os.path.abspath(a.cellos or os.path.join(rel, "cellos-runtime"))
    supervisor = os.path.abspath(a.supervisor or os.path.join(rel, "cellos-supervisor"))
    runc, crun, bwrap = (shutil.which(c) for c in ("runc", "crun", "bwrap"))
    rootfs = os.path.join(REPO, "bundle-fixtures/busybox/rootfs")
    for f in (cellos, supervisor, os.path.join(rootfs, "bin/busybox"),
              os.path.join(REPO, "bundle-fixtures/busybox/config.json"), runc, crun, bwrap):
        if not f or not os.path.exists(f):
            sys.exit(f"bench: missing {f} (run it through 'make bench')")

    tag = f"cb{os.getpid()}"  # every container ID, pid file and cgroup of this run has it
    scratch = tempfile.mkdtemp(prefix="cellos-bench.", dir="/tmp")
    state = os.path.join(scratch, "state")
    os.mkdir(state, 0o700)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    try:
        return measure(a, cellos, supervisor, runc, crun, bwrap, tag, scratch, state)
    finally:
        cleanup(scratch, tag, [cellos, runc, crun], a.keep)


def measure(a, cellos, supervisor, runc, crun, bwrap, tag, scratch, state):
    # Bundles: the fixture's config with another process.
    for name, args in (("bundle-true", ["/bin/true"]), ("bundle-sleep", ["/bin/sleep", "600"])):
        subprocess.run(["bash", "-c", '. bench/bundle.sh && bench_bundle "$@"', "bash",
                        os.path.join(scratch, name), *args],
                       cwd=REPO, env=dict(os.environ, REPO=REPO), check=True)
    cell = os.path.join(scratch, "cell.json")
    with open(cell, "w") as f:
        json.dump({"apiVersion": "cellos.io/v1", "kind": "ExecutionCell",
                   "spec": {"id": f"{tag}-cell",
                            "run": {"argv": ["/bin/true"], "workingDirectory": "/work"}}}, f)
    cell_env = {"CELL_OS_USE_NOOP_SINK": "1"}
    config = {
        "scratch": scratch, "state": state, "tag": tag, "tmpfs": a.tmpfs,
        "bundle_true": os.path.join(scratch, "bundle-true"),
        "bundle_sleep": os.path.join(scratch, "bundle-sleep"),
        "samples": os.path.join(scratch, "samples.tsv"),
        "iters": a.iters, "conc": a.conc, "rounds": a.rounds, "gap_ms": a.gap_ms,
        "warm": a.warm, "burst": a.burst, "rss_calls": a.rss_calls, "nsamples": a.samples, "patterns": a.patterns,
        # benches: a-d isolated, A-C sustained (see bench/README.md).
        "runtimes": [
            {"name": "cellos", "benches": "abcdABC", "env": {}, "path": cellos},
            {"name": "crun", "benches": "abcdABC", "env": {}, "path": crun},
            {"name": "runc", "benches": "abcdABC", "env": {}, "path": runc},
            # The same binary with phase marks on stderr: its own row, so
            # the marks cost nothing in the "cellos" row.
            {"name": "cellos-trace", "benches": "ab", "env": {"CELLOS_TRACE": "1"}, "path": cellos},
        ],
        # One-shot commands of (e); "sustained" ones also run back to back.
        "commands": [
            {"name": "cellos-cell", "sustained": True,
             "env": dict(cell_env, CELLOS_STATE_DIR=os.path.join(state, "cell-state")),
             "argv": [supervisor, cell]},
            {"name": "cellos-run-cell", "sustained": True, "env": cell_env,
             "argv": [cellos, "--root", os.path.join(state, "root-run-cell"), "run", "--cell", cell]},
            {"name": "bwrap-cell", "sustained": True, "env": {}, "argv": bwrap_cell_argv(bwrap)},
            {"name": "host-true", "sustained": False, "env": {}, "argv": ["/bin/true"]},
        ],
    }
    with open(os.path.join(scratch, "config.json"), "w") as f:
        json.dump(config, f, indent=1)

    hot_list_check(cellos)
    load = lambda: open("/proc/loadavg").read().split()[0]
    cpu = lambda: open("/proc/stat").readline().strip()
    print(f"bench: {a.iters} isolated iterations, {a.samples} sustained samples of {a.burst} calls, "
          f"{a.conc} concurrent x {a.rounds} rounds, gap {a.gap_ms}ms, "
          f"state on {'tmpfs' if a.tmpfs else 'disk'}, scratch {scratch}, "
          f"load {' '.join(open('/proc/loadavg').read().split()[:3])}", file=sys.stderr)
    load_before, cpu_before = load(), cpu()
    rc = subprocess.run(["unshare", "-m", sys.executable, os.path.abspath(__file__), "--inner",
                         os.path.join(scratch, "config.json")]).returncode
    cpu_after = cpu()
    out = os.path.abspath(a.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    env = dict(os.environ, BENCH_LOAD=f"{load_before} {load()}",
               BENCH_CPU_STAT=f"{cpu_before}|{cpu_after}", BENCH_STATE_FS="tmpfs" if a.tmpfs else "disk")
    subprocess.run([sys.executable, os.path.join(REPO, "bench/report.py"), config["samples"], out,
                    f"cellos={cellos}", f"crun={crun}", f"runc={runc}",
                    f"cellos-supervisor={supervisor}", f"bwrap={bwrap}"],
                   env=env, check=True)
    if rc != 0:
        print(f"bench: the harness reported failures (exit {rc})", file=sys.stderr)
    return rc


# ---------------------------------------------------------------- inner side

class Harness:
    def __init__(self, c):
        self.c = c
        self.state, self.tag = c["state"], c["tag"]
        self.gap = c["gap_ms"] / 1000
        self.out = open(c["samples"], "w")
        self.devnull = os.open("/dev/null", os.O_RDWR)
        self.failures = 0
        self.reaped = set()
        self.rts = []
        for r in c["runtimes"]:
            r = dict(r, root=os.path.join(self.state, f"root-{r['name']}"),
                     log=os.path.join(c["scratch"], f"log-{r['name']}"), exec_id=None)
            r["logfd"] = os.open(r["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            r["envp"] = dict(os.environ, **r["env"])
            self.rts.append(r)
        self.cmds = []
        for m in c["commands"]:
            m = dict(m, log=os.path.join(c["scratch"], f"log-cmd-{m['name']}"))
            m["logfd"] = os.open(m["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            m["envp"] = dict(os.environ, **m["env"])
            self.cmds.append(m)

    # -- processes

    def spawn(self, argv, envp, logfd):
        """stdin and stdout on /dev/null, stderr appended to the log, no
        signal blocked."""
        return os.posix_spawn(argv[0], argv, envp, setsigmask=(), file_actions=[
            (os.POSIX_SPAWN_DUP2, self.devnull, 0), (os.POSIX_SPAWN_DUP2, self.devnull, 1),
            (os.POSIX_SPAWN_DUP2, logfd, 2)])

    @staticmethod
    def exit_code(st):
        code = os.waitstatus_to_exitcode(st)
        return 128 - code if code < 0 else code

    def timed(self, argv, envp, logfd):
        """Run one command to completion: exit code, wall ns, 0."""
        t0 = time.perf_counter_ns()
        pid = self.spawn(argv, envp, logfd)
        _, st, _ = os.wait4(pid, 0)
        # No peak RSS here: see peak_rss().
        return self.exit_code(st), time.perf_counter_ns() - t0, 0

    def rt(self, r, *args):
        return self.timed([r["path"], "--root", r["root"], *args], r["envp"], r["logfd"])

    def peak_rss(self, argv, envp, logfd):
        """Exit code and peak RSS (KiB) of one command started from a small
        process. A process's ru_maxrss counts the address space it exec'd
        from, and a process spawned by this harness execs from Python's
        (about 17 MiB): so the static busybox shell starts it in the
        background, tells its pid and exits; the command is reparented to
        us (the subreaper) and waited for by pid. Untimed."""
        # The background subshell waits for a line on fd 4 before it execs
        # the command, so that the shell cannot reap it first.
        rd, wr = os.pipe()
        go_rd, go_wr = os.pipe()
        script = 'exec 3>&1 >/dev/null; (read -r _ <&4; exec 4<&-; exec "$@") 3>&- & echo $! >&3'
        sh = os.posix_spawn(BUSYBOX, [BUSYBOX, "sh", "-c", script, "sh", *argv], envp, setsigmask=(),
                            file_actions=[(os.POSIX_SPAWN_DUP2, self.devnull, 0),
                                          (os.POSIX_SPAWN_DUP2, wr, 1), (os.POSIX_SPAWN_DUP2, logfd, 2),
                                          (os.POSIX_SPAWN_DUP2, go_rd, 4)])
        os.close(wr)
        os.close(go_rd)
        with os.fdopen(rd) as f:
            pid = int(f.read().strip())
        os.waitpid(sh, 0)
        os.write(go_wr, b"go\n")
        os.close(go_wr)
        _, st, ru = os.wait4(pid, 0)
        return self.exit_code(st), ru.ru_maxrss

    def rss_pass(self):
        """Peak RSS of every verb (create, start, delete, run, exec) and
        every (e) command, rss_calls calls each, untimed."""
        for it in range(self.c["rss_calls"]):
            for i, r in enumerate(self.rts):
                if "a" not in r["benches"]:
                    continue
                rt = lambda *a: self.peak_rss([r["path"], "--root", r["root"], *a], r["envp"], r["logfd"])
                cid = f"{self.tag}-{i}-m{it}"
                pidf = os.path.join(self.state, f"pid-{cid}")
                for step, args in (("create", ("create", "--bundle", self.c["bundle_true"], "--pid-file",
                                               pidf, cid)), ("start", ("start", cid))):
                    rc, rss = rt(*args)
                    self.sample("m", r["name"], step, it, 0, rss, rc)
                self.reap_orphans()
                self.wait_init(self.read_pid(pidf))
                rc, rss = rt("delete", cid)
                self.sample("m", r["name"], "delete", it, 0, rss, rc)
                if rc:
                    self.force_delete(r, cid)
                rc, rss = rt("run", "--bundle", self.c["bundle_true"], f"{cid}r")
                self.sample("m", r["name"], "run", it, 0, rss, rc)
                self.reap_orphans()
                if r["exec_id"]:
                    rc, rss = rt("exec", r["exec_id"], "/bin/true")
                    self.sample("m", r["name"], "exec", it, 0, rss, rc)
                self.reap_orphans()
            for m in self.cmds:
                rc, rss = self.peak_rss(m["argv"], m["envp"], m["logfd"])
                self.sample("m", m["name"], "run", it, 0, rss, rc)
                self.reap_orphans()

    def reap_orphans(self):
        """Zombies that became ours (container inits, helpers of the runtimes)."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.reaped.add(pid)

    def wait_init(self, pid):
        """Wait for a container's init to exit, like a shim. True if it was
        not our child (no subreaper inheritance) and a pidfd had to do."""
        if pid <= 0 or pid in self.reaped:
            self.reaped.discard(pid)
            return False
        try:
            os.waitpid(pid, 0)
            return False
        except ChildProcessError:
            pass
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return True
        select.select([fd], [], [])
        os.close(fd)
        return True

    def read_pid(self, path):
        try:
            with open(path) as f:
                pid = int(f.read().strip() or -1)
            os.unlink(path)
            return pid
        except (OSError, ValueError):
            return -1

    # -- records

    def sample(self, bench, rt, step, it, ns, rss, rc):
        self.out.write(f"S\t{bench}\t{rt}\t{step}\t{it}\t{ns}\t{rss}\t{rc}\n")

    def note(self, bench, rt, what, value):
        self.out.write(f"N\t{bench}\t{rt}\t{what}\t{value}\n")

    @staticmethod
    def mark(logfd, bench, step, it):
        os.write(logfd, f"@@ {bench} {step} {it}\n".encode())

    def failed(self, r, what, cid, rc):
        self.failures += 1
        print(f"bench: {r['name']} {what} {cid} failed (exit {rc}); see the tail of {r['log']}:",
              file=sys.stderr)
        subprocess.run(["tail", "-n", "5", r["log"]], stdout=sys.stderr)
        if self.failures > 10:
            sys.exit("bench: too many failures")

    def settle(self):
        """An untimed pause before a cgroup join (see bench/README.md)."""
        if self.gap > 0:
            time.sleep(self.gap)

    def force_delete(self, r, cid):
        self.rt(r, "delete", "--force", cid)
        self.reap_orphans()

    # -- benches

    def lifecycle(self, r, bench, it, cid):
        """(a) create, start, wait for the init, delete: separate calls.
        The total, or None on failure."""
        pidf = os.path.join(self.state, f"pid-{cid}")
        t0 = time.perf_counter_ns()
        self.mark(r["logfd"], bench, "create", it)
        rc, ns, rss = self.rt(r, "create", "--bundle", self.c["bundle_true"], "--pid-file", pidf, cid)
        self.sample(bench, r["name"], "create", it, ns, rss, rc)
        if rc:
            self.failed(r, "create", cid, rc)
            self.force_delete(r, cid)
            return None
        init = self.read_pid(pidf)
        self.mark(r["logfd"], bench, "start", it)
        rc, ns, rss = self.rt(r, "start", cid)
        self.sample(bench, r["name"], "start", it, ns, rss, rc)
        if rc:
            self.failed(r, "start", cid, rc)
            self.force_delete(r, cid)
            return None
        t1 = time.perf_counter_ns()
        self.reap_orphans()
        if self.wait_init(init):
            self.note(bench, r["name"], "init-not-reparented", "1")
        self.sample(bench, r["name"], "wait", it, time.perf_counter_ns() - t1, 0, 0)
        self.mark(r["logfd"], bench, "delete", it)
        rc, ns, rss = self.rt(r, "delete", cid)
        self.sample(bench, r["name"], "delete", it, ns, rss, rc)
        total = time.perf_counter_ns() - t0
        self.reap_orphans()
        if rc:
            self.failed(r, "delete", cid, rc)
            self.force_delete(r, cid)
            return None
        return total

    def run(self, r, bench, it, cid):
        """(b) foreground run of /bin/true; only `run` is timed."""
        self.mark(r["logfd"], bench, "run", it)
        rc, ns, rss = self.rt(r, "run", "--bundle", self.c["bundle_true"], cid)
        self.sample(bench, r["name"], "run", it, ns, rss, rc)
        if rc:
            self.failed(r, "run", cid, rc)
        self.reap_orphans()
        if os.path.exists(os.path.join(r["root"], cid)):
            if it < 0:
                self.note(bench, r["name"], "run-leaves-state", "1")
            self.force_delete(r, cid)

    def exec_setup(self, r, i):
        """The long-running container that (c) execs into."""
        cid = f"{self.tag}-{i}-x"
        pidf = os.path.join(self.state, f"pid-{cid}")
        rc, _, _ = self.rt(r, "create", "--bundle", self.c["bundle_sleep"], "--pid-file", pidf, cid)
        if not rc:
            rc, _, _ = self.rt(r, "start", cid)
        if rc:
            self.failed(r, "create/start (exec target)", cid, rc)
            self.force_delete(r, cid)
            return
        r["exec_id"], r["exec_init"] = cid, self.read_pid(pidf)

    def exec_teardown(self, r):
        if not r["exec_id"]:
            return
        self.rt(r, "kill", r["exec_id"], "KILL")
        self.reap_orphans()
        self.wait_init(r["exec_init"])
        self.force_delete(r, r["exec_id"])
        r["exec_id"] = None

    def exec(self, r, bench, it):
        """(c) foreground exec of /bin/true into the running container."""
        self.mark(r["logfd"], bench, "exec", it)
        rc, ns, rss = self.rt(r, "exec", r["exec_id"], "/bin/true")
        self.sample(bench, r["name"], "exec", it, ns, rss, rc)
        if rc:
            self.failed(r, "exec", r["exec_id"], rc)
        self.reap_orphans()

    def command(self, m, bench, it):
        """(e) a whole one-shot command (cellos-supervisor, bwrap, ...)."""
        self.mark(m["logfd"], bench, m["name"], it)
        rc, ns, rss = self.timed(m["argv"], m["envp"], m["logfd"])
        self.sample(bench, m["name"], "run", it, ns, rss, rc)
        if rc:
            self.failures += 1
            print(f"bench: {m['name']} exited {rc} (see {m['log']})", file=sys.stderr)
            if self.failures > 10:
                sys.exit("bench: too many failures")
        self.reap_orphans()

    def concurrent(self, r, i, rnd, conc):
        """(d) conc containers created and started at once (each job: create,
        then start as soon as its create is done), wait for every init, then
        delete them all at once."""
        ids = [f"{self.tag}-{i}-d{rnd + 1}-{k}" for k in range(conc)]
        pidfs = [os.path.join(self.state, f"pid-{cid}") for cid in ids]
        argv = lambda *a: [r["path"], "--root", r["root"], *a]
        self.reap_orphans()
        self.reaped.clear()
        self.settle()
        self.mark(r["logfd"], "d", "up", rnd)
        bad = 0
        t0 = time.perf_counter_ns()
        jobs = {}  # pid -> (k, "create" | "start")
        for k in range(conc):
            pid = self.spawn(argv("create", "--bundle", self.c["bundle_true"], "--pid-file", pidfs[k],
                                  ids[k]), r["envp"], r["logfd"])
            jobs[pid] = (k, "create")
        inits = {}  # init pid -> k, for inits still running
        exited = set()  # pids reaped before we knew them as inits
        started = set()
        while jobs or inits:
            pid, st, _ = os.wait4(-1, 0)
            if pid in jobs:
                k, step = jobs.pop(pid)
                if self.exit_code(st):
                    bad += 1
                elif step == "create":
                    init = self.read_pid(pidfs[k])
                    if init > 0 and init not in exited:
                        inits[init] = k
                    jobs[self.spawn(argv("start", ids[k]), r["envp"], r["logfd"])] = (k, "start")
                else:
                    started.add(k)
            elif pid in inits:
                inits.pop(pid)
            else:
                exited.add(pid)
            # A failed start leaves its init waiting for a start that never came.
            for init, k in list(inits.items()):
                if k not in started and all(kk != k for kk, _ in jobs.values()):
                    inits.pop(init)
        t1 = time.perf_counter_ns()
        self.mark(r["logfd"], "d", "delete", rnd)
        jobs = {self.spawn(argv("delete", "--force", cid), r["envp"], r["logfd"]): cid for cid in ids}
        while jobs:
            pid, st, _ = os.wait4(-1, 0)
            if jobs.pop(pid, None) and self.exit_code(st):
                bad += 1
        t2 = time.perf_counter_ns()
        self.sample("d", r["name"], "create+start", rnd, t1 - t0, 0, bad)
        self.sample("d", r["name"], "delete", rnd, t2 - t1, 0, bad)
        self.sample("d", r["name"], "total", rnd, t2 - t0, 0, bad)
        if bad:
            self.failed(r, "concurrent round", f"({bad} of {conc} containers)", bad)
            for cid in ids:
                self.rt(r, "delete", "--force", cid)
        self.reap_orphans()
        self.reaped.clear()

    # -- patterns

    def isolated(self):
        c = self.c
        t0 = time.perf_counter_ns()
        has = lambda b: [(i, r) for i, r in enumerate(self.rts) if b in r["benches"]]
        # iter -1 warms the page cache and the runtimes' first-use paths.
        for it in range(-1, c["iters"]):
            for i, r in has("a"):
                self.settle()
                total = self.lifecycle(r, "a", it, f"{self.tag}-{i}-a{it + 1}")
                if total is not None:
                    self.sample("a", r["name"], "total", it, total, 0, 0)
            for i, r in has("b"):
                self.settle()
                self.run(r, "b", it, f"{self.tag}-{i}-b{it + 1}")
            for _, r in has("c"):
                if r["exec_id"]:
                    self.settle()
                    self.exec(r, "c", it)
            for m in self.cmds:
                self.settle()
                self.command(m, "e", it)
            if it == -1 or (it + 1) % 10 == 0:
                print(f"bench: isolated iteration {it + 1}/{c['iters']} done "
                      f"({(time.perf_counter_ns() - t0) / 1e9:.1f}s)", file=sys.stderr)

    def sustained(self):
        """Each sample: an untimed gap, then `burst` calls back to back, timed
        as a whole (per call: the sample's time / burst); the runtimes
        alternate sample by sample."""
        c, n = self.c, self.c["burst"]
        t0 = time.perf_counter_ns()
        has = lambda b: [(i, r) for i, r in enumerate(self.rts) if b in r["benches"]]
        for s in range(-1, c["nsamples"]):
            for i, r in has("A"):
                self.settle()
                t = time.perf_counter_ns()
                ok = all(self.lifecycle(r, "A", s, f"{self.tag}-{i}-A{s + 1}-{j}") is not None
                         for j in range(n))
                self.sample("A", r["name"], "per-call", s, (time.perf_counter_ns() - t) // n, 0, 0 if ok else 1)
            for i, r in has("B"):
                self.settle()
                t = time.perf_counter_ns()
                for j in range(n):
                    self.run(r, "B", s, f"{self.tag}-{i}-B{s + 1}-{j}")
                self.sample("B", r["name"], "per-call", s, (time.perf_counter_ns() - t) // n, 0, 0)
            for _, r in has("C"):
                if not r["exec_id"]:
                    continue
                self.settle()
                t = time.perf_counter_ns()
                for _ in range(n):
                    self.exec(r, "C", s)
                self.sample("C", r["name"], "per-call", s, (time.perf_counter_ns() - t) // n, 0, 0)
            for m in self.cmds:
                if not m["sustained"]:
                    continue
                self.settle()
                t = time.perf_counter_ns()
                for _ in range(n):
                    self.command(m, "E", s)
                self.sample("E", m["name"], "per-call", s, (time.perf_counter_ns() - t) // n, 0, 0)
            print(f"bench: sustained sample {s + 1}/{c['nsamples']} done "
                  f"({(time.perf_counter_ns() - t0) / 1e9:.1f}s)", file=sys.stderr)

    def main(self):
        c = self.c
        self.out.write(f"G\t{c['gap_ms']}\t{c['iters']}\t{c['conc']}\t{c['rounds']}\t{int(c['warm'])}"
                       f"\t{c['burst']}\t{c['nsamples']}\n")
        for r in self.rts:
            env = ",".join(f"{k}={v}" for k, v in r["env"].items()) or "-"
            self.out.write(f"R\t{r['name']}\t{r['path']}\t{r['log']}\t{env}\n")
        for m in self.cmds:
            env = ",".join(f"{k}={v}" for k, v in m["env"].items()) or "-"
            self.out.write(f"R\t{m['name']}\t{m['argv'][0]}\t{m['log']}\t{env}\n")
        t0 = time.perf_counter_ns()
        for i, r in enumerate(self.rts):
            if "c" in r["benches"] or "C" in r["benches"]:
                self.exec_setup(r, i)
        try:
            if "isolated" in c["patterns"]:
                self.isolated()
            if "sustained" in c["patterns"]:
                self.sustained()
            self.rss_pass()
        finally:
            for r in self.rts:
                self.exec_teardown(r)
        if "isolated" in c["patterns"]:
            for rnd in range(c["rounds"]):
                for i, r in enumerate(self.rts):
                    if "d" in r["benches"]:
                        self.concurrent(r, i, rnd, c["conc"])
                print(f"bench: concurrent round {rnd + 1}/{c['rounds']} done "
                      f"({(time.perf_counter_ns() - t0) / 1e9:.1f}s)", file=sys.stderr)
        self.reap_orphans()
        # Our CPU time and that of everything we waited for, to tell how
        # much of the machine's busy time was someone else's.
        me = os.times()
        cpu = me.user + me.system + me.children_user + me.children_system
        self.out.write(f"U\t{time.perf_counter_ns() - t0}\t{int(cpu * 1e9)}\n")
        self.out.close()
        return 1 if self.failures else 0


def warmer():
    """BENCH_WARM=1: keep the cgroup threadgroup lock's RCU sync from going
    idle, as on a host that starts containers all the time: rewrite our own
    pid into our own pids cgroup (a no-op move) every 2 ms."""
    path = None
    for line in open("/proc/self/cgroup"):
        _, ctrl, cg = line.rstrip("\n").split(":", 2)
        if ctrl == "pids":
            path = f"/sys/fs/cgroup/pids{'' if cg == '/' else cg}/cgroup.procs"
    if not path:
        sys.exit("bench: BENCH_WARM: no pids cgroup (v1) for this process")
    fd = os.open(path, os.O_WRONLY)

    def loop():
        while True:
            os.write(fd, b"0")
            time.sleep(0.002)
    threading.Thread(target=loop, daemon=True).start()


def inner(config_path):
    with open(config_path) as f:
        c = json.load(f)
    subprocess.run(["umount", "/sys/fs/cgroup/unified"], stderr=subprocess.DEVNULL, check=False)
    if c["tmpfs"]:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700,size=256m", "cellos-bench", c["state"]],
                       check=True)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"bench: PR_SET_CHILD_SUBREAPER: {os.strerror(ctypes.get_errno())}")
    if c["warm"]:
        warmer()
    return Harness(c).main()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--inner", help=argparse.SUPPRESS)
    p.add_argument("--cellos", help="cellos-runtime binary (default: make release's)")
    p.add_argument("--supervisor", help="cellos-supervisor binary (default: make release's)")
    p.add_argument("--iters", type=int, default=env_int("BENCH_ITERS", 30))
    p.add_argument("--conc", type=int, default=env_int("BENCH_CONC", 50))
    p.add_argument("--rounds", type=int, default=env_int("BENCH_CONC_ROUNDS", 3))
    p.add_argument("--gap-ms", type=int, default=env_int("BENCH_GAP_MS", 50))
    p.add_argument("--burst", type=int, default=env_int("BENCH_BURST", 20))
    p.add_argument("--samples", type=int, default=env_int("BENCH_SAMPLES", 10))
    p.add_argument("--rss-calls", type=int, default=env_int("BENCH_RSS_CALLS", 5))
    p.add_argument("--patterns", default=os.environ.get("BENCH_PATTERNS", "isolated,sustained"))
    p.add_argument("--warm", action="store_true", default=os.environ.get("BENCH_WARM") == "1")
    p.add_argument("--tmpfs", type=int, default=env_int("BENCH_TMPFS", 1))
    p.add_argument("--keep", action="store_true", default=os.environ.get("BENCH_KEEP") == "1")
    p.add_argument("--out", default=os.environ.get("BENCH_OUT", os.path.join(REPO, "bench/results/latest.json")))
    a = p.parse_args()
    if a.inner:
        return inner(a.inner)
    if not 1 <= a.conc <= 256:
        sys.exit(f"bench: BENCH_CONC {a.conc}: must be 1 to 256")
    return outer(a)


if __name__ == "__main__":
    sys.exit(main())
