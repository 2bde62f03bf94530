//! Attacks by a cell's job on the host (issue 9, "cells get the same
//! treatment"). Each test performs the attack against the real binaries and
//! asserts that it fails and that the host is unchanged. Where the cell can
//! also be run by Debian's runc (the `oci` backend), that run is the control.

mod support;

use serde_json::json;
use std::path::{Path, PathBuf};
use support::*;

const NOOP: (&str, &str) = ("CELL_OS_USE_NOOP_SINK", "1");

/// The backends a cell runs on: ours in process, and runc as the control.
fn backends() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        ("stub", vec![NOOP]),
        (
            "runc",
            vec![
                NOOP,
                ("CELLOS_CELL_BACKEND", "oci"),
                ("CELLOS_OCI_RUNTIME", RUNC),
            ],
        ),
    ]
}

/// A host cgroup v1 directory of the test's own, removed on drop.
struct HostCgroup(PathBuf);

impl HostCgroup {
    fn new(controller: &str, ctx: &Ctx) -> HostCgroup {
        let p = Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(format!("cellos-ct-host-{}", ctx.marker().replace('.', "-")));
        std::fs::create_dir(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        HostCgroup(p)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for HostCgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.join("freezer.state"), "THAWED");
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A tmpfs mounted on `dir`, detached on drop.
struct HostMount(PathBuf);

impl HostMount {
    fn tmpfs(dir: &Path) -> HostMount {
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                "size=1m",
                "cellos-ct",
                dir.to_str().unwrap(),
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount tmpfs on {}", dir.display());
        HostMount(dir.to_path_buf())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let c = std::ffi::CString::new(self.0.to_str().unwrap()).unwrap();
        // SAFETY: umount2 on a NUL-terminated path we mounted.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Shell that prints `WROTE <f>` or `refused <f>` for each write attempt.
fn try_writes(writes: &[(String, String)]) -> String {
    writes
        .iter()
        .map(|(f, v)| {
            format!("if printf '%s' '{v}' > {f} 2>/dev/null; then echo WROTE {f}; else echo refused {f}; fi; ")
        })
        .collect()
}

/// Mount points at or below `top` (field 5 of the cell's mountinfo) whose
/// per-mount options (field 6) lack `ro`, as printed by [`MOUNTS_SCRIPT`].
/// Of mounts stacked on one point only the last, the one on top, counts:
/// a covered mount cannot be reached.
fn writable_mounts_under(stdout: &str, top: &str) -> Vec<String> {
    let mut on_top: Vec<(&str, &str)> = Vec::new();
    for (point, opts) in stdout
        .lines()
        .filter_map(|l| l.strip_prefix("MOUNT "))
        .filter_map(|l| l.split_once(' '))
    {
        on_top.retain(|(p, _)| *p != point);
        on_top.push((point, opts));
    }
    on_top
        .into_iter()
        .filter(|(point, _)| *point == top || point.starts_with(&format!("{top}/")))
        .filter(|(_, opts)| !opts.split(',').any(|o| o == "ro"))
        .map(|(point, opts)| format!("{point} ({opts})"))
        .collect()
}

/// Prints `MOUNT <point> <options>` for every mount the cell sees.
const MOUNTS_SCRIPT: &str = "awk '{print \"MOUNT \" $5 \" \" $6}' /proc/self/mountinfo; ";

/// Finding 7: with `authority.network` the cell gets the host's /sys as a
/// bind; every submount under it (the host's cgroup hierarchies) must be
/// read-only too, for uid 0 without capabilities.
#[test]
fn host_sys_is_read_only_all_the_way_down() {
    require_root!();
    let ctx = Ctx::new("secsysro");
    let freezer = HostCgroup::new("freezer", &ctx);
    let memory = HostCgroup::new("memory", &ctx);
    let watched = [
        (
            PathBuf::from("/sys/fs/cgroup/pids/cgroup.clone_children"),
            String::new(),
        ),
        (freezer.file("freezer.state"), "FROZEN".to_string()),
        (memory.file("memory.limit_in_bytes"), "12345678".to_string()),
        (memory.file("cgroup.clone_children"), String::new()),
    ];
    // The value written to clone_children is the one it has: should the
    // write go through, the host is not harmed.
    let watched: Vec<(PathBuf, String)> = watched
        .into_iter()
        .map(|(f, v)| {
            let cur = std::fs::read_to_string(&f).unwrap();
            let v = if v.is_empty() {
                cur.trim().to_string()
            } else {
                v
            };
            (f, v)
        })
        .collect();
    let writes: Vec<(String, String)> = watched
        .iter()
        .map(|(f, v)| (f.display().to_string(), v.clone()))
        .collect();
    let before: Vec<String> = watched
        .iter()
        .map(|(f, _)| std::fs::read_to_string(f).unwrap())
        .collect();
    let script = format!(
        "{}{MOUNTS_SCRIPT}grep ^Cap /proc/self/status; id -u",
        try_writes(&writes)
    );
    let mut spec = sh_cell(&ctx.id("sys"), &script);
    set(&mut spec, "/spec/authority/network", json!(true));
    let f = ctx.spec_file(&spec);
    for (name, env) in backends() {
        let out = ctx.supervise(&f, &env);
        out.ok();
        assert!(out.stdout.contains("CapEff:\t0000000000000000"), "{out}");
        assert!(
            out.stdout.trim_end().ends_with("\n0"),
            "runs as uid 0: {out}"
        );
        for (file, _) in &writes {
            assert!(
                out.stdout.contains(&format!("refused {file}\n")),
                "[{name}] writing the host's {file} must fail:\n{out}"
            );
        }
        let writable = writable_mounts_under(&out.stdout, "/sys");
        assert!(
            writable.is_empty(),
            "[{name}] mounts under /sys not read-only: {writable:?}\n{out}"
        );
        assert!(out.stdout.contains("MOUNT /sys/fs/cgroup/pids "), "{out}");
        let after: Vec<String> = watched
            .iter()
            .map(|(f, _)| std::fs::read_to_string(f).unwrap())
            .collect();
        assert_eq!(before, after, "[{name}] a host cgroup file changed");
    }
    // run --cell takes the same path.
    let out = ctx.run_cell(&f, &[NOOP]);
    out.ok();
    assert!(
        writable_mounts_under(&out.stdout, "/sys").is_empty(),
        "{out}"
    );
    drop((freezer, memory));
    ctx.finish();
}

/// Every host directory a cell gets read-only (the system view, /etc's
/// files, readOnlyPaths grants) is read-only in every submount too: a
/// mount below a granted directory must not become a way to write the host.
#[test]
fn read_only_host_dirs_are_read_only_in_every_submount() {
    require_root!();
    let ctx = Ctx::new("secrro");
    let grant = ctx.dir("rogrant");
    let sub = grant.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let mnt = HostMount::tmpfs(&sub);
    std::fs::write(sub.join("host.txt"), "host\n").unwrap();
    let target = sub.join("host.txt");
    let script = format!(
        "{}{MOUNTS_SCRIPT}",
        try_writes(&[
            (target.display().to_string(), "pwned".to_string()),
            (sub.join("new.txt").display().to_string(), "x".to_string()),
        ])
    );
    let mut spec = sh_cell(&ctx.id("rro"), &script);
    set(&mut spec, "/spec/authority/readOnlyPaths", json!([grant]));
    set(&mut spec, "/spec/run/workingDirectory", json!("/work"));
    let f = ctx.spec_file(&spec);
    for (name, env) in backends() {
        let out = ctx.supervise(&f, &env);
        out.ok();
        assert!(
            out.stdout
                .contains(&format!("refused {}\n", target.display())),
            "[{name}] the submount of a read-only grant is writable:\n{out}"
        );
        let mut writable = Vec::new();
        for top in [
            "/usr",
            "/bin",
            "/sbin",
            "/lib",
            "/lib64",
            "/etc",
            "/sys",
            grant.to_str().unwrap(),
        ] {
            writable.extend(writable_mounts_under(&out.stdout, top));
        }
        assert!(
            writable.is_empty(),
            "[{name}] read-only host dirs with writable mounts: {writable:?}\n{out}"
        );
        assert!(
            out.stdout.contains(&format!("MOUNT {} ", sub.display())),
            "[{name}] the submount is visible in the cell:\n{out}"
        );
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "host\n");
    assert!(!sub.join("new.txt").exists());
    drop(mnt);
    ctx.finish();
}

/// A writable grant holding `run`, a symlink that a host process flips
/// between an allowed script in the grant and /usr/bin/touch (outside the
/// allowed prefix, which is the grant). The host check sees one target, the
/// exec may see the other: only an in-cell check on the executed file
/// itself keeps touch from ever running.
#[test]
fn argv0_swapped_between_host_check_and_exec_never_runs() {
    require_root!();
    let ctx = Ctx::new("secargv0race");
    let grant = ctx.dir("tools");
    write_script(&grant.join("good"), "exit 0");
    let run = grant.join("run");
    std::os::unix::fs::symlink("good", &run).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (stop, grant) = (stop.clone(), grant.clone());
        std::thread::spawn(move || {
            let mut flips = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let target = if flips.is_multiple_of(2) {
                    "/usr/bin/touch"
                } else {
                    "good"
                };
                let tmp = grant.join(".run-next");
                let _ = std::fs::remove_file(&tmp);
                let _ = std::os::unix::fs::symlink(target, &tmp);
                let _ = std::fs::rename(&tmp, grant.join("run"));
                flips += 1;
                std::thread::sleep(std::time::Duration::from_micros(300));
            }
            flips
        })
    };
    println!(
        "runc (oci backend) is not raced here: it ignores the io.cellos.argv0.allow \
         annotation, so only the supervisor's host check applies to it"
    );
    let prefix = grant.to_str().unwrap().to_string();
    let env_policy = ("CELLOS_RUN_ARGV0_ALLOW_PREFIXES", prefix.as_str());
    let mut ran_evil = Vec::new();
    let mut odd = Vec::new();
    let (mut past_host, mut samples) = (0, Vec::new());
    let mut codes = std::collections::BTreeMap::new();
    let attempts = 24;
    for i in 0..attempts {
        let marker = grant.join(format!("touched-{i}"));
        let mut spec = cell(
            &ctx.id("race"),
            &[run.to_str().unwrap(), marker.to_str().unwrap()],
        );
        set(&mut spec, "/spec/authority/writablePaths", json!([grant]));
        let f = ctx.spec_file(&spec);
        let out = match i % 3 {
            0 => ctx.supervise(&f, &[NOOP, env_policy]),
            1 => ctx.run_cell(&f, &[NOOP, env_policy]),
            _ => ctx.supervise(&f, &[NOOP, env_policy, ("CELLOS_CELL_BACKEND", "oci")]),
        };
        *codes.entry(out.code).or_insert(0) += 1;
        if out.code == 0 || out.stderr.contains("inside the cell") {
            past_host += 1;
            if out.code != 0 && samples.len() < 2 {
                samples.push(out.stderr.clone());
            }
        }
        if marker.exists() {
            ran_evil.push(format!("attempt {i} (exit {}): {}", out.code, out.stderr));
        } else if out.code != 0 && out.code != 125 {
            // Without the fd-based exec even the allowed script can be
            // swapped under its interpreter (sh then reads touch's ELF).
            odd.push(format!("attempt {i}: {out}"));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flips = flipper.join().unwrap();
    println!(
        "{attempts} attempts, {flips} flips, exit codes {codes:?}, {past_host} past the host check"
    );
    println!("in-cell refusals, e.g.: {samples:?}");
    assert!(
        ran_evil.is_empty(),
        "/usr/bin/touch, outside the allowed prefix, ran:\n{}",
        ran_evil.join("\n")
    );
    assert!(
        odd.is_empty(),
        "expected the allowed script (0) or a refusal (125):\n{}",
        odd.join("\n")
    );
    // Some attempts got past the host check, so the race was really run.
    assert!(
        past_host > 0,
        "every attempt was refused on the host: {codes:?}"
    );
    ctx.finish();
}

/// The in-cell check on its own, deterministic: a bundle carrying the
/// policy annotation whose argv[0] is allowed by name but, inside the cell,
/// is a symlink to a program outside the prefixes. No host check runs
/// here (plain `cellos-runtime run` of the bundle); the runtime must refuse.
#[test]
fn the_argv0_policy_is_enforced_inside_the_cell() {
    require_root!();
    let ctx = Ctx::new("secargv0cell");
    let rootfs = ctx.rootfs_copy();
    let grant = ctx.dir("grant");
    write_script(&rootfs.join("usr/bin/good"), "touch \"$1\"");
    write_script(&rootfs.join("sbin/something"), "touch \"$1\"");
    std::os::unix::fs::symlink("/sbin/something", rootfs.join("usr/bin/evil")).unwrap();
    let root = ctx.state.join("bundle-root");
    ctx.track_root(&root);
    for (argv0, allowed) in [("/usr/bin/good", true), ("/usr/bin/evil", false)] {
        let marker = grant.join(format!("ran-{}", ctx.marker()));
        let mut spec = cell(&ctx.id("incell"), &[argv0, marker.to_str().unwrap()]);
        set(&mut spec, "/spec/rootfs", json!(rootfs));
        set(&mut spec, "/spec/authority/writablePaths", json!([grant]));
        let bundle = ctx.tmp.join(format!("bundle-{}", ctx.marker()));
        let mut convert = ctx.command(BIN, &[]);
        convert
            .args(["convert", "--bundle"])
            .arg(&bundle)
            .arg(ctx.spec_file(&spec));
        run(convert).ok();
        let config = bundle.join("config.json");
        let mut oci = oci_spec::runtime::Spec::load(&config).unwrap();
        let mut ann = std::collections::HashMap::new();
        ann.insert(
            "io.cellos.argv0.allow".to_string(),
            "[\"/usr/bin\"]".to_string(),
        );
        oci.set_annotations(Some(ann));
        oci.save(&config).unwrap();
        let id = ctx.runc_id("incell");
        let mut cmd = ctx.command(BIN, &[]);
        cmd.arg("--root")
            .arg(&root)
            .args(["run", "--bundle"])
            .arg(&bundle)
            .arg(&id);
        let out = run(cmd);
        if allowed {
            out.ok();
            assert!(marker.exists(), "the allowed program must run:\n{out}");
        } else {
            assert_ne!(out.code, 0, "{out}");
            assert!(
                out.stderr.contains("\"/sbin/something\"")
                    && out.stderr.contains("outside the allowed prefixes"),
                "the refusal names the real path:\n{out}"
            );
            assert!(!marker.exists(), "the disallowed program ran:\n{out}");
        }
        std::fs::remove_dir_all(&bundle).unwrap();
    }
    ctx.finish();
}

/// Without a pid namespace the cell shares the host's pids. It must still
/// not reach host processes through /proc: their root, cwd, environment,
/// fds and mount tables, nor the kernel's knobs in /proc.
#[test]
fn proc_without_a_pid_namespace_does_not_reach_the_host() {
    require_root!();
    let ctx = Ctx::new("secproc");
    let host_pid = std::process::id();
    let knob = "/proc/sys/vm/dirty_background_ratio";
    let value = std::fs::read_to_string(knob).unwrap();
    let script = format!(
        "h={host_pid}; \
         ls /proc/$h >/dev/null 2>&1 && echo SEES-HOST-PID; \
         ls /proc/1/root/ >/dev/null 2>&1 && echo ROOT-1; \
         ls /proc/$h/root/ >/dev/null 2>&1 && echo ROOT-H; \
         ls /proc/$h/cwd/ >/dev/null 2>&1 && echo CWD-H; \
         ls /proc/$h/fd/ >/dev/null 2>&1 && echo FD-H; \
         readlink /proc/$h/fd/0 >/dev/null 2>&1 && echo FDLINK-H; \
         cat /proc/$h/environ >/dev/null 2>&1 && echo ENVIRON-H; \
         cat /proc/1/environ >/dev/null 2>&1 && echo ENVIRON-1; \
         grep -q . /proc/$h/mountinfo 2>/dev/null && echo MOUNTINFO-H; \
         grep -q . /proc/1/mountinfo 2>/dev/null && echo MOUNTINFO-1; \
         [ \"$(head -c 16 /proc/kcore 2>/dev/null | wc -c)\" -gt 0 ] && echo KCORE; \
         echo h 2>/dev/null > /proc/sysrq-trigger && echo SYSRQ; \
         printf '%s' '{v}' 2>/dev/null > {knob} && echo SYSCTL; \
         echo done",
        v = value.trim()
    );
    let f = ctx.spec_file(&sh_cell(&ctx.id("proc"), &script));
    let mut runs = Vec::new();
    for (name, env) in backends() {
        let mut env = env.clone();
        env.push(("CELLOS_SUBPROCESS_UNSHARE", "mnt"));
        runs.push((format!("{name} mnt"), ctx.supervise(&f, &env)));
    }
    runs.push((
        "run --cell mnt".into(),
        ctx.run_cell(&f, &[NOOP, ("CELLOS_SUBPROCESS_UNSHARE", "mnt")]),
    ));
    // A user namespace without a pid namespace cannot mount its own proc:
    // it gets the host's /proc as it is, so host pids and their (world
    // readable) mount tables and fd numbers stay visible there; nothing
    // else may work.
    let shared = ctx.supervise(&f, &[NOOP, ("CELLOS_SUBPROCESS_UNSHARE", "mnt,user")]);
    for (name, out) in &runs {
        out.ok();
        assert_eq!(
            out.stdout, "done\n",
            "[{name}] reached the host through /proc:\n{out}"
        );
    }
    shared.ok();
    let reached: Vec<&str> = shared
        .stdout
        .lines()
        .filter(|l| {
            ![
                "SEES-HOST-PID",
                "FD-H",
                "MOUNTINFO-H",
                "MOUNTINFO-1",
                "done",
            ]
            .contains(l)
        })
        .collect();
    assert!(
        reached.is_empty(),
        "[mnt,user] reached the host: {reached:?}\n{shared}"
    );
    assert_eq!(std::fs::read_to_string(knob).unwrap(), value);
    ctx.finish();
}

/// /dev holds no block device, and even with CAP_MKNOD granted a block
/// device made by the job cannot be opened (devices cgroup, nodev /tmp).
#[test]
fn dev_gives_no_block_device() {
    let ctx = Ctx::new("secdev");
    let disk = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .and_then(|l| l.split(' ').nth(2).map(String::from))
        .unwrap();
    let (major, minor) = disk.split_once(':').unwrap();
    let script = format!(
        "find /dev -type b | sed 's/^/BLOCK /'; \
         mknod /dev/cellos-blk b {major} {minor} 2>/dev/null && echo MKNOD-DEV; \
         head -c 512 /dev/cellos-blk 2>/dev/null | grep -q . && echo READ-DEV; \
         mknod /tmp/cellos-blk b {major} {minor} 2>/dev/null && echo MKNOD-TMP; \
         head -c 512 /tmp/cellos-blk 2>/dev/null | grep -q . && echo READ-TMP; \
         echo done"
    );
    for caps in [json!([]), json!(["CAP_MKNOD"])] {
        let mut spec = sh_cell(&ctx.id("dev"), &script);
        set(&mut spec, "/spec/authority/capabilities", caps.clone());
        let f = ctx.spec_file(&spec);
        for (name, env) in backends() {
            let out = ctx.supervise(&f, &env);
            out.ok();
            let bad: Vec<&str> = out
                .stdout
                .lines()
                .filter(|l| l.starts_with("BLOCK") || l.starts_with("READ"))
                .collect();
            assert!(bad.is_empty(), "[{name} {caps}] {bad:?}\n{out}");
            if caps == json!([]) {
                assert!(
                    !out.stdout.contains("MKNOD"),
                    "[{name}] mknod without CAP_MKNOD:\n{out}"
                );
            }
        }
    }
    ctx.finish();
}

/// fds the supervisor inherits (3..9: the host's root, a host directory, a
/// host file) must not reach the job, neither as open fds nor through
/// /proc/self/fd/N paths.
#[test]
fn inherited_fds_do_not_reach_the_job() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let ctx = Ctx::new("secfds");
    let secret_dir = ctx.dir("secret");
    std::fs::write(secret_dir.join("secret.txt"), "host secret\n").unwrap();
    let opened = [
        std::fs::File::open("/").unwrap(),
        std::fs::File::open(&secret_dir).unwrap(),
        std::fs::File::open(secret_dir.join("secret.txt")).unwrap(),
        std::fs::File::open("/etc").unwrap(),
    ];
    let raw: Vec<i32> = opened.iter().map(|f| f.as_raw_fd()).collect();
    let script = "for n in 3 4 5 6 7 8 9; do \
                    [ -e /proc/$$/fd/$n ] && echo OPEN $n $(readlink /proc/$$/fd/$n); \
                    cat /proc/self/fd/$n/etc/shadow >/dev/null 2>&1 && echo SHADOW $n; \
                    cat /proc/self/fd/$n/secret.txt 2>/dev/null; \
                    cat /proc/self/fd/$n 2>/dev/null; \
                    (cd /proc/self/fd/$n 2>/dev/null && echo CD $n); \
                  done; echo done";
    let f = ctx.spec_file(&sh_cell(&ctx.id("fds"), script));
    let with_fds = |mut cmd: std::process::Command| {
        let raw = raw.clone();
        // SAFETY: only dup2 between fork and exec; dup2 clears CLOEXEC on
        // the copy, so fds 3..9 are inherited like a careless caller's.
        unsafe {
            cmd.pre_exec(move || {
                // Park the originals above 3..9 first: they may sit there.
                for (i, fd) in raw.iter().enumerate() {
                    if libc::dup2(*fd, 100 + i as i32) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for (i, n) in (3..10).enumerate() {
                    if libc::dup2(100 + (i % raw.len()) as i32, n) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for i in 0..raw.len() {
                    libc::close(100 + i as i32);
                }
                Ok(())
            });
        }
        run(cmd)
    };
    // The control: a host shell started the same way sees the fds.
    let mut control = std::process::Command::new("/bin/sh");
    control.args(["-c", script]);
    let out = with_fds(control);
    assert!(
        out.stdout.contains("OPEN 3 /\n"),
        "the fds were not inherited:\n{out}"
    );
    assert!(out.stdout.contains("host secret"), "{out}");
    let mut outs = Vec::new();
    for (name, env) in backends() {
        outs.push((name.to_string(), with_fds(ctx.supervisor_cmd(&f, &env))));
    }
    outs.push((
        "oci cellos".into(),
        with_fds(ctx.supervisor_cmd(&f, &[NOOP, ("CELLOS_CELL_BACKEND", "oci")])),
    ));
    outs.push(("run --cell".into(), with_fds(ctx.run_cell_cmd(&f, &[NOOP]))));
    for (name, out) in outs {
        out.ok();
        assert_eq!(
            out.stdout, "done\n",
            "[{name}] an inherited fd reached the job:\n{out}"
        );
    }
    // The CVE-2024-21626 form: the process cwd named through an inherited
    // fd. A cell's cwd is its workspace, which cannot lie in /proc.
    let mut spec = sh_cell(&ctx.id("fdcwd"), "ls ..");
    set(
        &mut spec,
        "/spec/run/workingDirectory",
        json!("/proc/self/fd/3"),
    );
    let f = ctx.spec_file(&spec);
    with_fds(ctx.supervisor_cmd(&f, &[NOOP])).refused(&["spec.run.workingDirectory", "/proc"]);
    with_fds(ctx.run_cell_cmd(&f, &[NOOP])).refused(&["spec.run.workingDirectory", "/proc"]);
    drop(opened);
    ctx.finish();
}
/// A granted host path that is, or goes through, a symlink would bind the
/// symlink's target: a job with a writable grant can plant such a symlink
/// for the next cell. Symlinks inside a grant, and a workspace or rootfs
/// entry that is a symlink, resolve inside the cell.
#[test]
fn symlinks_in_granted_paths_do_not_lead_to_the_host() {
    require_root!();
    let ctx = Ctx::new("secsymlink");
    // Stand-ins for /etc and /root that the test can afford to see written.
    let victim = ctx.dir("victim");
    std::fs::write(victim.join("secret"), "host secret\n").unwrap();
    let before = snapshot(&victim);
    let shared = ctx.dir("shared");
    std::os::unix::fs::symlink(&victim, shared.join("link")).unwrap();
    let via = ctx.dir("via");
    std::os::unix::fs::symlink(&victim, via.join("dir")).unwrap();
    for (field, path) in [
        ("writablePaths", shared.join("link")),
        ("readOnlyPaths", shared.join("link")),
        ("writablePaths", via.join("dir").join("..").join("dir")),
        ("writablePaths", via.join("dir")),
    ] {
        let script = format!(
            "cat {p}/secret && echo READ; echo x > {p}/planted && echo WROTE",
            p = path.display()
        );
        let mut spec = sh_cell(&ctx.id("grant"), &script);
        set(
            &mut spec,
            &format!("/spec/authority/{field}"),
            json!([path]),
        );
        let f = ctx.spec_file(&spec);
        for (name, env) in backends() {
            let out = ctx.supervise(&f, &env);
            assert!(
                !out.stdout.contains("READ") && !out.stdout.contains("WROTE"),
                "[{name}] {field} {} reached its target:\n{out}",
                path.display()
            );
            assert_eq!(out.code, 125, "[{name}] {out}");
            assert!(
                out.stderr.contains("symlink") || out.stderr.contains("clean"),
                "{out}"
            );
        }
        assert_eq!(snapshot(&victim), before, "{field} {}", path.display());
    }
    // Symlinks inside a grant resolve in the cell, where /etc is private
    // and read-only and /root does not exist.
    let grant = ctx.dir("grant");
    std::os::unix::fs::symlink("/etc", grant.join("etc")).unwrap();
    std::os::unix::fs::symlink("/root", grant.join("root")).unwrap();
    std::os::unix::fs::symlink(&victim, grant.join("victim")).unwrap();
    let g = grant.display();
    let script = format!(
        "cat {g}/etc/shadow >/dev/null 2>&1 && echo SHADOW; \
         echo x 2>/dev/null > {g}/etc/planted && echo WROTE-ETC; \
         ls {g}/root/ >/dev/null 2>&1 && echo ROOT; \
         cat {g}/victim/secret 2>/dev/null && echo VICTIM; \
         echo done"
    );
    let mut spec = sh_cell(&ctx.id("inside"), &script);
    set(&mut spec, "/spec/authority/writablePaths", json!([grant]));
    // The workspace path is a symlink to the victim on the host: the
    // cell's workspace is a fresh tmpfs all the same.
    let wd = ctx.tmp.join("wdlink");
    std::os::unix::fs::symlink(&victim, &wd).unwrap();
    set(&mut spec, "/spec/run/workingDirectory", json!(wd));
    let f = ctx.spec_file(&spec);
    for (name, env) in backends() {
        let out = ctx.supervise(&f, &env);
        out.ok();
        assert_eq!(
            out.stdout, "done\n",
            "[{name}] a symlink in a grant led out:\n{out}"
        );
    }
    assert!(!Path::new("/etc/planted").exists());
    assert_eq!(snapshot(&victim), before);
    // A rootfs that is a symlink (here to the host's /) is refused; a
    // rootfs whose /work is a symlink to /etc gets its tmpfs in the cell.
    let rootlink = ctx.tmp.join("rootlink");
    std::os::unix::fs::symlink("/", &rootlink).unwrap();
    let mut spec = sh_cell(&ctx.id("rootlink"), "cat /etc/shadow && echo SHADOW");
    set(&mut spec, "/spec/rootfs", json!(rootlink));
    let f = ctx.spec_file(&spec);
    for (name, env) in backends() {
        let out = ctx.supervise(&f, &env);
        assert!(!out.stdout.contains("SHADOW"), "[{name}] {out}");
        out.refused(&["spec.rootfs", "symlink"]);
    }
    let rootfs = ctx.rootfs_copy();
    std::fs::remove_dir_all(rootfs.join("work")).unwrap();
    std::os::unix::fs::symlink("/etc", rootfs.join("work")).unwrap();
    let etc_before = snapshot(&rootfs.join("etc"));
    let mut spec = sh_cell(&ctx.id("rootwd"), "echo x > planted && pwd");
    set(&mut spec, "/spec/rootfs", json!(rootfs));
    set(&mut spec, "/spec/run/workingDirectory", json!("/work"));
    let f = ctx.spec_file(&spec);
    for (name, env) in backends() {
        ctx.supervise(&f, &env).ok();
        assert_eq!(snapshot(&rootfs.join("etc")), etc_before, "[{name}]");
    }
    assert!(!Path::new("/etc/planted").exists());
    ctx.finish();
}

/// The cgroup filesystems: a job must not leave its cgroup (and with it
/// the cell's limits) by moving itself into a host cgroup, nor mount a
/// cgroup hierarchy of its own, whichever namespaces it has.
#[test]
fn cgroup_filesystems_do_not_let_the_job_out() {
    require_root!();
    let ctx = Ctx::new("seccgroup");
    let script = "before=$(cat /proc/self/cgroup | sort | md5sum); \
                  for f in /sys/fs/cgroup/pids/cgroup.procs /sys/fs/cgroup/memory/cgroup.procs \
                           /sys/fs/cgroup/unified/cgroup.procs /sys/fs/cgroup/cgroup.procs; do \
                    [ -e $f ] || continue; \
                    echo $$ 2>/dev/null > $f && echo MOVED $f; \
                  done; \
                  mkdir -p /tmp/cg; \
                  mount -t cgroup -o pids none /tmp/cg 2>/dev/null && echo MOUNT-V1; \
                  mount -t cgroup2 none /tmp/cg 2>/dev/null && echo MOUNT-V2; \
                  mkdir /sys/fs/cgroup/pids/cellos-escape 2>/dev/null && echo MKDIR; \
                  [ \"$(cat /proc/self/cgroup | sort | md5sum)\" = \"$before\" ] || echo CGROUP-CHANGED; \
                  echo done";
    let mut net = sh_cell(&ctx.id("cgnet"), script);
    set(&mut net, "/spec/authority/network", json!(true));
    set(&mut net, "/spec/resources/pids", json!(64));
    let mut plain = sh_cell(&ctx.id("cg"), script);
    set(&mut plain, "/spec/resources/pids", json!(64));
    for (what, spec, unshare) in [
        ("network", &net, "mnt,pid,net,ipc,uts,cgroup"),
        ("default", &plain, "mnt,pid,net,ipc,uts,cgroup"),
        ("mnt only", &plain, "mnt"),
        ("mnt,user", &plain, "mnt,user"),
    ] {
        let f = ctx.spec_file(spec);
        for (name, env) in backends() {
            let mut env = env.clone();
            env.push(("CELLOS_SUBPROCESS_UNSHARE", unshare));
            let out = ctx.supervise(&f, &env);
            out.ok();
            assert_eq!(
                out.stdout, "done\n",
                "[{name} {what}] the job left its cgroup:\n{out}"
            );
        }
    }
    assert!(!Path::new("/sys/fs/cgroup/pids/cellos-escape").exists());
    ctx.finish();
}

/// The cell's stdio is the supervisor's: a caller that leaves a host
/// directory on stdin or stdout would hand the job a way out
/// (`/proc/self/fd/0/etc/shadow`). Such a cell is refused before it runs.
#[test]
fn a_directory_on_stdio_is_refused() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let ctx = Ctx::new("secstdio");
    let grant = ctx.dir("grant");
    let root = std::fs::File::open("/").unwrap();
    let raw = root.as_raw_fd();
    for fd in [0, 1] {
        let marker = grant.join(format!("leaked-{fd}"));
        let script = format!(
            "cat /proc/self/fd/{fd}/etc/shadow > {m}; ls /proc/self/fd/{fd}/ >> {m}",
            m = marker.display()
        );
        let mut spec = sh_cell(&ctx.id("stdio"), &script);
        set(&mut spec, "/spec/authority/writablePaths", json!([grant]));
        let f = ctx.spec_file(&spec);
        let mut cmds = Vec::new();
        for (_, env) in backends() {
            cmds.push(ctx.supervisor_cmd(&f, &env));
        }
        cmds.push(ctx.run_cell_cmd(&f, &[NOOP]));
        for mut cmd in cmds {
            // SAFETY: only dup2 between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::dup2(raw, fd) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let out = run(cmd);
            assert!(
                std::fs::read(&marker).map_or(true, |m| m.is_empty()),
                "the job read the host through fd {fd}:\n{out}"
            );
            assert_eq!(out.code, 125, "{out}");
            assert!(out.stderr.contains("is the directory /"), "{out}");
        }
    }
    drop(root);
    ctx.finish();
}

/// A cell's own rootfs is read-only; host mounts below the rootfs
/// directory come along with it and must be read-only too, nested ones
/// (and names with spaces) included.
#[test]
fn a_rootfs_is_read_only_in_every_submount() {
    require_root!();
    let ctx = Ctx::new("secrootfsro");
    let rootfs = ctx.rootfs_copy();
    let sub = rootfs.join("mnt");
    let mnt = HostMount::tmpfs(&sub);
    std::fs::write(sub.join("host.txt"), "host\n").unwrap();
    let nested = sub.join("a dir");
    std::fs::create_dir(&nested).unwrap();
    let inner = HostMount::tmpfs(&nested);
    std::fs::write(nested.join("host.txt"), "host\n").unwrap();
    let script = format!(
        "{}{MOUNTS_SCRIPT}",
        try_writes(&[
            ("/mnt/host.txt".to_string(), "pwned".to_string()),
            ("'/mnt/a dir/host.txt'".to_string(), "pwned".to_string()),
            ("/mnt/new.txt".to_string(), "x".to_string()),
        ])
    );
    let mut spec = sh_cell(&ctx.id("rootfs"), &script);
    set(&mut spec, "/spec/rootfs", json!(rootfs));
    let f = ctx.spec_file(&spec);
    let mut outs: Vec<(String, Out)> = backends()
        .into_iter()
        .map(|(name, env)| (name.to_string(), ctx.supervise(&f, &env)))
        .collect();
    outs.push(("run --cell".into(), ctx.run_cell(&f, &[NOOP])));
    for (name, out) in outs {
        out.ok();
        assert!(
            !out.stdout.contains("WROTE"),
            "[{name}] a rootfs submount is writable:\n{out}"
        );
        let writable = writable_mounts_under(&out.stdout, "/mnt");
        assert!(writable.is_empty(), "[{name}] {writable:?}\n{out}");
        assert!(
            out.stdout.contains("MOUNT /mnt/a\\040dir "),
            "[{name}] {out}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(sub.join("host.txt")).unwrap(),
        "host\n"
    );
    assert_eq!(
        std::fs::read_to_string(nested.join("host.txt")).unwrap(),
        "host\n"
    );
    assert!(!sub.join("new.txt").exists());
    drop(inner);
    drop(mnt);
    ctx.finish();
}

/// The same grant, raced: a process with write access to the grant's parent
/// (here the test, standing for a job of another cell) keeps swapping the
/// granted directory for a symlink to a victim directory. Whatever moment
/// the runtime binds at, the cell must get the real directory or a refusal,
/// never the victim.
#[test]
fn a_grant_swapped_for_a_symlink_after_the_check_is_not_followed() {
    require_root!();
    let ctx = Ctx::new("secgrantrace");
    let victim = ctx.dir("victim");
    std::fs::write(victim.join("secret"), "host secret\n").unwrap();
    let parent = ctx.dir("shared");
    let out = parent.join("out");
    std::fs::create_dir(&out).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (stop, parent, victim) = (stop.clone(), parent.clone(), victim.clone());
        std::thread::spawn(move || {
            let (out, real) = (parent.join("out"), parent.join("real"));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // About half the time each: checks pass, binds see the link.
                let _ = std::fs::rename(&out, &real);
                let _ = std::os::unix::fs::symlink(&victim, &out);
                std::thread::sleep(std::time::Duration::from_millis(2));
                let _ = std::fs::remove_file(&out);
                let _ = std::fs::rename(&real, &out);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            // Leave the directory in place for the cleanup.
            let _ = std::fs::remove_file(&out);
            let _ = std::fs::rename(&real, &out);
        })
    };
    let script = format!("cat {}/secret 2>/dev/null; true", out.display());
    let mut leaked = Vec::new();
    let mut codes = std::collections::BTreeMap::new();
    for i in 0..45 {
        let mut spec = sh_cell(&ctx.id("race"), &script);
        set(&mut spec, "/spec/authority/writablePaths", json!([out]));
        let f = ctx.spec_file(&spec);
        let res = match i % 3 {
            0 => ctx.supervise(&f, &[NOOP]),
            1 => ctx.run_cell(&f, &[NOOP]),
            _ => ctx.supervise(&f, &backends()[1].1),
        };
        *codes.entry(res.code).or_insert(0) += 1;
        if res.stdout.contains("host secret") {
            leaked.push(format!("attempt {i}: {}", res.cmdline));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    println!("exit codes {codes:?}");
    assert!(
        leaked.is_empty(),
        "the cell read the symlink's target:\n{}",
        leaked.join("\n")
    );
    assert!(codes.contains_key(&0), "no attempt ran at all: {codes:?}");
    assert_eq!(
        std::fs::read_to_string(victim.join("secret")).unwrap(),
        "host secret\n"
    );
    ctx.finish();
}

/// Each way to create a set-id file, by syscall; the grant is argv[1].
const SET_ID_ATTEMPTS: &str = r#"import os, sys, ctypes
libc = ctypes.CDLL(None, use_errno=True)
g = sys.argv[1] + '/'
def attempt(f):
    try:
        f()
    except OSError:
        pass
attempt(lambda: os.close(os.open(g + 'o', os.O_CREAT | os.O_WRONLY, 0o4755)))
attempt(lambda: os.close(os.open('o2', os.O_CREAT | os.O_WRONLY, 0o6755, dir_fd=os.open(g, os.O_RDONLY))))
attempt(lambda: os.chmod(g + 'a', 0o4755))
attempt(lambda: os.fchmod(os.open(g + 'a', os.O_RDONLY), 0o2755))
attempt(lambda: os.mknod(g + 'm', 0o104755))
libc.syscall(452, -100, (g + 'a').encode(), 0o4755, 0)
class How(ctypes.Structure):
    _fields_ = [('flags', ctypes.c_uint64), ('mode', ctypes.c_uint64), ('resolve', ctypes.c_uint64)]
how = How(os.O_CREAT | os.O_WRONLY, 0o4755, 0)
fd = libc.syscall(437, -100, (g + 'o3').encode(), ctypes.byref(how), 24)
print('OPENAT2', fd, ctypes.get_errno())
"#;

/// A cell's uid 0 is the host's. A set-user-ID root binary left in a
/// writable grant would be a root shell for any host user who can reach it
/// (nosuid and no_new_privileges only protect the cell). No way of setting
/// the bits may work: chmod, fchmod, fchmodat(2), open/openat with O_CREAT,
/// mknod, and openat2 (whose mode a filter cannot see).
#[test]
fn no_set_id_file_can_be_left_on_the_host() {
    require_root!();
    use std::os::unix::fs::PermissionsExt;
    let ctx = Ctx::new("secsetid");
    let grant = ctx.dir("grant");
    let g = grant.display();
    let mut script = format!(
        "cp /usr/bin/id {g}/a && chmod 755 {g}/a && echo CHMOD-755-OK; \
         chmod 4755 {g}/a 2>/dev/null; chmod u+s {g}/a 2>/dev/null; chmod g+s {g}/a 2>/dev/null; \
         cp -p /usr/bin/passwd {g}/p 2>/dev/null; "
    );
    // Every syscall by hand, where the host has python3 for the cell to use.
    let python = Path::new("/usr/bin/python3").exists();
    if python {
        script.push_str(&format!("python3 - {g} <<'EOF'\n{SET_ID_ATTEMPTS}EOF\n"));
    } else {
        println!("no /usr/bin/python3 on the host: only the shell's chmod is tried");
    }
    script.push_str("echo done");
    let mut spec = sh_cell(&ctx.id("setid"), &script);
    set(&mut spec, "/spec/authority/writablePaths", json!([grant]));
    let f = ctx.spec_file(&spec);
    for (name, env) in backends() {
        let out = ctx.supervise(&f, &env);
        out.ok();
        assert!(
            out.stdout.contains("CHMOD-755-OK"),
            "[{name}] plain chmod must work:\n{out}"
        );
        let setid: Vec<String> = std::fs::read_dir(&grant)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.metadata()
                    .is_ok_and(|m| m.permissions().mode() & 0o6000 != 0)
            })
            .map(|e| e.path().display().to_string())
            .collect();
        assert!(
            setid.is_empty(),
            "[{name}] set-id files on the host: {setid:?}\n{out}"
        );
        if python {
            assert!(
                out.stdout.contains("OPENAT2 -1 38"),
                "[{name}] openat2:\n{out}"
            );
        }
        for e in std::fs::read_dir(&grant).unwrap().flatten() {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    ctx.finish();
}
