//! A hostile image must never get its code run by the runtime through glibc
//! NSS. The image ships `/etc/nsswitch.conf` naming an `evil` service for
//! every database, and the `libnss_evil.so.2` module (plus the libc and
//! loader it needs) whose constructor leaves a marker when loaded. Each case
//! drives a path where the runtime might look a user up: no `HOME`, an
//! empty `HOME`, an unknown uid, additional gids, exec with flags or a
//! process file. The marker must never appear, and `HOME` must be the one
//! the image's /etc/passwd gives (runc's rule: "/" when there is none).

mod support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

/// The constructor writes where the process sees `/nss-ran` (the image's
/// root, writable here) and to a host path, in case something on the host
/// side loaded it. It records the pid and the seccomp mode it ran under.
const EVIL_C: &str = r#"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void mark(const char *path) {
    FILE *f = fopen(path, "a");
    if (!f) return;
    char line[256] = "";
    FILE *st = fopen("/proc/self/status", "r");
    if (st) {
        char buf[256];
        while (fgets(buf, sizeof buf, st))
            if (strncmp(buf, "Seccomp:", 8) == 0) { strncpy(line, buf, sizeof line - 1); }
        fclose(st);
    }
    fprintf(f, "pid=%d %s", (int)getpid(), line);
    fclose(f);
}

__attribute__((constructor)) static void evil(void) {
    mark("/nss-ran");
    mark(HOST_MARKER);
}

/* Present so that glibc finds a service, should it get that far. */
int _nss_evil_getpwuid_r(void) { return 0; }
int _nss_evil_getpwnam_r(void) { return 0; }
int _nss_evil_getgrgid_r(void) { return 0; }
int _nss_evil_getgrnam_r(void) { return 0; }
int _nss_evil_initgroups_dyn(void) { return 0; }
"#;

/// A poisoned image and where its markers would show up.
struct Evil {
    rootfs: PathBuf,
    host_marker: PathBuf,
}

impl Evil {
    fn new(env: &Env) -> Evil {
        let dir = env.subdir("evil");
        let rootfs = dir.join("rootfs");
        let host_marker = dir.join("host-marker");
        let o = Command::new("cp")
            .arg("-a")
            .arg(fixture_rootfs())
            .arg(&rootfs)
            .output()
            .expect("cp");
        assert!(o.status.success(), "cp -a rootfs: {o:?}");
        std::fs::write(
            rootfs.join("etc/nsswitch.conf"),
            "passwd: evil\ngroup: evil\nshadow: evil\ninitgroups: evil\n",
        )
        .unwrap();
        let libdir = rootfs.join("lib/x86_64-linux-gnu");
        std::fs::create_dir_all(&libdir).unwrap();
        std::fs::create_dir_all(rootfs.join("lib64")).unwrap();
        let src = dir.join("evil.c");
        std::fs::write(&src, EVIL_C).unwrap();
        let o = Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(libdir.join("libnss_evil.so.2"))
            .arg(format!("-DHOST_MARKER=\"{}\"", host_marker.display()))
            .arg(&src)
            .output()
            .expect("cc");
        assert!(o.status.success(), "cc: {o:?}");
        // The module really loads: every library it needs is in the image.
        for lib in [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib64/ld-linux-x86-64.so.2",
        ] {
            let name = Path::new(lib).file_name().unwrap();
            std::fs::copy(lib, libdir.join(name)).unwrap();
        }
        std::fs::copy(
            "/lib64/ld-linux-x86-64.so.2",
            rootfs.join("lib64/ld-linux-x86-64.so.2"),
        )
        .unwrap();
        Evil {
            rootfs,
            host_marker,
        }
    }

    /// The fixture config on this image, writable so the marker can land.
    fn config(&self, args: &[&str]) -> Value {
        let mut c = base_config();
        c["root"] = json!({"path": self.rootfs, "readonly": false});
        set_args(&mut c, args);
        c
    }

    /// Fail if the module was loaded anywhere, then clear the markers so
    /// the next step of a test is judged on its own.
    #[track_caller]
    /// A foreground `run` of `config`; the module must not have loaded.
    fn run(&self, env: &Env, config: &serde_json::Value, step: &str) -> Out {
        let o = env.run_fg(&env.bundle_from(config), &env.id());
        self.assert_not_loaded(step);
        o
    }

    fn assert_not_loaded(&self, step: &str) {
        let found: Vec<String> = [self.rootfs.join("nss-ran"), self.host_marker.clone()]
            .iter()
            .filter(|p| p.exists())
            .map(|p| format!("{}: {}", p.display(), read_lossy(p).trim()))
            .collect();
        for p in [self.rootfs.join("nss-ran"), self.host_marker.clone()] {
            let _ = std::fs::remove_file(p);
        }
        assert!(
            found.is_empty(),
            "{step}: the image's NSS module was loaded: {found:?}"
        );
    }
}

/// The env without any HOME entry.
fn without_home(c: &mut Value) {
    let env: Vec<Value> = c["process"]["env"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !e.as_str().unwrap_or("").starts_with("HOME="))
        .collect();
    c["process"]["env"] = json!(env);
}

fn push_env(c: &mut Value, kv: &str) {
    c["process"]["env"].as_array_mut().unwrap().push(json!(kv));
}

const SHOW: &[&str] = &["sh", "-c", "echo home=$HOME; id -u; id -G"];

/// `exec --process` of SHOW with PATH only (no HOME) in container `id` made
/// from `c`, as `user` if given; the image's NSS module stays unloaded.
fn exec_show_without_home(env: &Env, evil: &Evil, id: &str, c: &Value, user: Option<Value>) -> Out {
    let mut p = c["process"].clone();
    p["args"] = json!(SHOW);
    p["env"] = json!(["PATH=/bin"]);
    if let Some(user) = user {
        p["user"] = user;
    }
    let o = env.exec_process(id, &p);
    evil.assert_not_loaded("exec --process without HOME");
    o
}

/// `exec -e HOME=` counts as no HOME: root's home from the image's
/// /etc/passwd, the module unloaded.
#[track_caller]
fn exec_empty_home_is_root(env: &Env, evil: &Evil, id: &str) {
    let o = env.rt(&["exec", "-e", "HOME=", id, "sh", "-c", "echo home=$HOME"]);
    evil.assert_not_loaded("exec -e HOME=");
    o.ok();
    assert_eq!(o.stdout, "home=/root\n", "{o}");
}

#[test]
fn run_without_home_uses_image_passwd() {
    require_root!();
    let env = Env::new("nssrun");
    let evil = Evil::new(&env);
    let mut c = evil.config(SHOW);
    without_home(&mut c);
    let o = evil.run(&env, &c, "run without HOME");
    o.ok();
    assert_eq!(o.stdout, "home=/root\n0\n0\n", "{o}");
    env.finish();
}

#[test]
fn run_with_home_or_empty_home() {
    require_root!();
    let env = Env::new("nsshome");
    let evil = Evil::new(&env);
    // An existing HOME is left exactly as it is.
    let mut c = evil.config(SHOW);
    push_env(&mut c, "HOME=/tmp/elsewhere");
    let o = evil.run(&env, &c, "run with HOME");
    o.ok();
    assert_eq!(o.stdout, "home=/tmp/elsewhere\n0\n0\n", "{o}");
    // An empty HOME counts as none.
    let mut c = evil.config(SHOW);
    push_env(&mut c, "HOME=");
    let o = evil.run(&env, &c, "run with an empty HOME");
    o.ok();
    assert_eq!(o.stdout, "home=/root\n0\n0\n", "{o}");
    env.finish();
}

#[test]
fn create_unknown_uid_with_additional_gids() {
    require_root!();
    let env = Env::new("nssgids");
    let evil = Evil::new(&env);
    let mut c = evil.config(SHOW);
    c["process"]["user"] = json!({"uid": 1234, "gid": 1235, "additionalGids": [7, 8]});
    let bundle = env.bundle_from(&c);
    let id = env.id();
    env.create(&bundle, &id, &[]).ok();
    evil.assert_not_loaded("create with an unknown uid and additionalGids");
    env.start(&id).ok();
    env.wait_status(&id, "stopped");
    evil.assert_not_loaded("start");
    // No passwd entry: HOME is "/", as runc sets it.
    assert_eq!(env.output(&bundle), "home=/\n1234\n1235 7 8\n");
    env.finish();
}

#[test]
fn exec_never_loads_the_module() {
    require_root!();
    let env = Env::new("nssexec");
    let evil = Evil::new(&env);
    let c = evil.config(&["sleep", "1000"]);
    let (id, _) = env.create_started_from(&c);
    evil.assert_not_loaded("create and start without HOME");

    let o = env.exec(&id, SHOW);
    evil.assert_not_loaded("exec without HOME");
    o.ok();
    assert_eq!(o.stdout, "home=/root\n0\n0\n", "{o}");

    exec_empty_home_is_root(&env, &evil, &id);

    // nobody's home in the image is /nonexistent; an unknown uid gets "/".
    let o = env.rt(&["exec", "-u", "65534", "-g", "9", &id, "sh", "-c", SHOW[2]]);
    evil.assert_not_loaded("exec -u 65534 -g 9");
    o.ok();
    assert_eq!(o.stdout, "home=/nonexistent\n65534\n0 9\n", "{o}");
    let o = env.rt(&["exec", "-u", "4321:4322", &id, "sh", "-c", SHOW[2]]);
    evil.assert_not_loaded("exec -u 4321:4322");
    o.ok();
    assert_eq!(o.stdout, "home=/\n4321\n4322\n", "{o}");

    // A process file without HOME, for a user of the image.
    let user = json!({"uid": 65534, "gid": 65534, "additionalGids": [3]});
    let o = exec_show_without_home(&env, &evil, &id, &c, Some(user));
    o.ok();
    assert_eq!(o.stdout, "home=/nonexistent\n65534\n65534 3\n", "{o}");
    env.finish();
}

/// The image cannot point the lookup outside itself: /etc/passwd as a
/// symlink to the host's file (absolute or through `..`) resolves inside
/// the rootfs, where it names nothing, so HOME is "/".
#[test]
fn passwd_symlink_stays_in_the_rootfs() {
    require_root!();
    let env = Env::new("nsslink");
    let evil = Evil::new(&env);
    let passwd = evil.rootfs.join("etc/passwd");
    for target in ["/etc/host-passwd", "../../../../../../etc/host-passwd"] {
        let _ = std::fs::remove_file(&passwd);
        std::os::unix::fs::symlink(target, &passwd).unwrap();
        let mut c = evil.config(SHOW);
        c["process"]["user"] = json!({"uid": 0, "gid": 0});
        let o = evil.run(&env, &c, "run with a symlinked /etc/passwd");
        o.ok();
        // Not the host's /root (uid 0 on the host): nothing found in the image.
        assert!(o.stdout.starts_with("home=/\n"), "{target}: {o}");
    }
    // The same target inside the image is followed.
    std::fs::write(
        evil.rootfs.join("etc/host-passwd"),
        "root:x:0:0:root:/from-link:/bin/sh\n",
    )
    .unwrap();
    let o = env.run_fg(&env.bundle_from(&evil.config(SHOW)), &env.id());
    o.ok();
    assert!(o.stdout.starts_with("home=/from-link\n"), "{o}");
    env.finish();
}

/// The container was created with a HOME, so only exec can reach the
/// lookup: a process file without HOME, and an empty HOME given by flag.
#[test]
fn exec_process_file_without_home() {
    require_root!();
    let env = Env::new("nssexecp");
    let evil = Evil::new(&env);
    let mut c = evil.config(&["sleep", "1000"]);
    push_env(&mut c, "HOME=/init-home");
    let (id, _) = env.create_started_from(&c);
    evil.assert_not_loaded("create and start with HOME");
    let o = exec_show_without_home(&env, &evil, &id, &c, None);
    o.ok();
    assert_eq!(o.stdout, "home=/root\n0\n0\n", "{o}");
    exec_empty_home_is_root(&env, &evil, &id);
    // The init's HOME is the base of a plain exec.
    let o = env.rt(&["exec", &id, "sh", "-c", "echo home=$HOME"]);
    o.ok();
    assert_eq!(o.stdout, "home=/init-home\n", "{o}");
    env.finish();
}

/// A host file bind-mounted over /etc/passwd is what the container sees,
/// so HOME comes from it.
#[test]
fn bind_mounted_passwd_is_used() {
    require_root!();
    let env = Env::new("nssbind");
    let evil = Evil::new(&env);
    let host = env.subdir("host").join("passwd");
    std::fs::write(&host, "root:x:0:0:root:/from-bind:/bin/sh\n").unwrap();
    let mut c = evil.config(SHOW);
    c["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/etc/passwd", "type": "bind", "source": host,
        "options": ["bind", "ro"]
    }));
    let o = evil.run(&env, &c, "run with a bind-mounted /etc/passwd");
    o.ok();
    assert_eq!(o.stdout, "home=/from-bind\n0\n0\n", "{o}");
    env.finish();
}
