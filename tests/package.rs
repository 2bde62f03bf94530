//! The Debian package (`make deb`), unpacked with `dpkg -x` into a temp
//! dir (never installed on this host): its files, its control data, its man
//! page and completions, and podman finding the runtime through the
//! package's drop-in alone. The podman part runs in a private mount
//! namespace where overlays put the package's files at their installed
//! paths (/usr/bin, /etc/containers, /usr/share/containers) and a tmpfs
//! holds /run; the host sees none of it.
//!
//! The package is $CELLOS_TEST_DEB, else the newest target/deb/*.deb, else
//! one built now with `make deb` (a release build: minutes).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::*;

const PKG_TIMEOUT: Duration = Duration::from_secs(900);

/// The package under test, made once per test process: the tests run in
/// parallel, and two `make deb` at once would empty each other's staging.
fn the_deb() -> PathBuf {
    static DEB: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DEB.get_or_init(find_or_make_deb).clone()
}

fn find_or_make_deb() -> PathBuf {
    if let Some(p) = std::env::var_os("CELLOS_TEST_DEB") {
        return PathBuf::from(p);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/deb");
    let newest = || {
        std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "deb"))
            .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
    };
    if let Some(p) = newest() {
        return p;
    }
    let mut make = Command::new("make");
    make.arg("-C").arg(env!("CARGO_MANIFEST_DIR")).arg("deb");
    run_piped(make, None, PKG_TIMEOUT).ok();
    newest().expect("make deb made no .deb")
}

fn sh(script: &str, env: &[(&str, &Path)]) -> Out {
    let mut c = Command::new("bash");
    c.args(["-euo", "pipefail", "-c", script]);
    for (k, v) in env {
        c.env(k, v);
    }
    run_piped(c, None, Duration::from_secs(300))
}

/// The unpacked package in the test dir.
fn unpack(env: &Env) -> (PathBuf, PathBuf) {
    let deb = the_deb();
    let root = env.subdir("pkg");
    sh(
        "dpkg -x \"$DEB\" \"$ROOT\"",
        &[("DEB", &deb), ("ROOT", &root)],
    )
    .ok();
    (deb, root)
}

fn field(deb: &Path, name: &str) -> String {
    let mut c = Command::new("dpkg-deb");
    c.arg("-f").arg(deb).arg(name);
    run_piped(c, None, CMD_TIMEOUT).ok().out().to_string()
}

#[test]
fn the_package_installs_binaries_pages_completions_and_engine_config() {
    require_root!();
    let env = Env::new("pkg-files");
    let (deb, root) = unpack(&env);
    assert_eq!(field(&deb, "Package"), "cellos-runtime");
    // static-pie: no shared library to depend on.
    assert_eq!(
        field(&deb, "Depends"),
        "",
        "static binaries need no Depends"
    );
    assert_eq!(field(&deb, "Pre-Depends"), "");
    for bin in ["cellos-runtime", "cellos-supervisor"] {
        let p = root.join("usr/bin").join(bin);
        let out = sh(
            "ldd \"$B\" || true; readelf -S \"$B\" | grep -c '\\.symtab' || true; \"$B\" --version",
            &[("B", &p)],
        );
        out.ok();
        assert!(
            out.stdout.contains("not a dynamic executable")
                || out.stdout.contains("statically linked"),
            "{bin} is not static:\n{out}"
        );
        assert!(
            out.stdout.contains("\n0\n"),
            "{bin} is not stripped:\n{out}"
        );
        assert!(out.stdout.contains("cellos-runtime version"), "{out}");
    }
    // Man pages, one per subcommand too.
    for page in [
        "cellos-runtime.1.gz",
        "cellos-runtime-run.1.gz",
        "cellos-supervisor.1.gz",
    ] {
        let p = root.join("usr/share/man/man1").join(page);
        let out = sh("MANWIDTH=100 man -l \"$P\" | col -b", &[("P", &p)]);
        out.ok();
        assert!(out.stdout.contains("NAME"), "{page}:\n{out}");
    }
    let man = sh(
        "MANWIDTH=100 man -l \"$P\" | col -b",
        &[("P", &root.join("usr/share/man/man1/cellos-runtime.1.gz"))],
    );
    for want in ["--root", "--systemd-cgroup", "create", "exec"] {
        assert!(man.stdout.contains(want), "man page lacks {want}:\n{man}");
    }
    // Completions: bash registers them, zsh and fish files name the command.
    let bash = sh(
        "source \"$C\"; complete -p cellos-runtime",
        &[(
            "C",
            &root.join("usr/share/bash-completion/completions/cellos-runtime"),
        )],
    );
    bash.ok();
    assert!(bash.stdout.contains("cellos-runtime"), "{bash}");
    let zsh = read_lossy(&root.join("usr/share/zsh/vendor-completions/_cellos-runtime"));
    assert!(zsh.starts_with("#compdef cellos-runtime"), "{zsh:.200}");
    let fish = read_lossy(&root.join("usr/share/fish/vendor_completions.d/cellos-runtime.fish"));
    assert!(fish.contains("complete -c cellos-runtime"), "{fish:.200}");
    for c in [
        "usr/share/fish/vendor_completions.d/cellos-supervisor.fish",
        "usr/share/bash-completion/completions/cellos-supervisor",
        "usr/share/zsh/vendor-completions/_cellos-supervisor",
    ] {
        assert!(root.join(c).exists(), "{c} missing");
    }
    // podman's drop-in, at both places podman versions read.
    for d in [
        "usr/share/containers/containers.conf.d/cellos-runtime.conf",
        "etc/containers/containers.conf.d/cellos-runtime.conf",
    ] {
        let text = read_lossy(&root.join(d));
        assert!(
            text.contains("cellos-runtime = [\"/usr/bin/cellos-runtime\"]"),
            "{d}:\n{text}"
        );
        let json_line = text
            .lines()
            .find(|l| l.starts_with("runtime_supports_json"))
            .unwrap_or_default();
        assert!(json_line.contains("\"cellos-runtime\""), "{d}:\n{text}");
        assert!(
            json_line.contains("\"crun\""),
            "keeps podman's own list:\n{text}"
        );
    }
    let conffiles = sh(
        "dpkg-deb --ctrl-tarfile \"$DEB\" | tar -xOf - ./conffiles",
        &[("DEB", &deb)],
    );
    assert_eq!(
        conffiles.out(),
        "/etc/containers/containers.conf.d/cellos-runtime.conf"
    );
    // The containerd snippet is all comments: the file changes nothing.
    let ctrd = read_lossy(&root.join("usr/share/doc/cellos-runtime/containerd-config.toml"));
    assert!(ctrd.contains("BinaryName = \"/usr/bin/cellos-runtime\""));
    assert!(
        ctrd.lines()
            .all(|l| l.trim().is_empty() || l.starts_with('#')),
        "uncommented line in the containerd snippet"
    );
    assert!(root.join("usr/share/doc/cellos-runtime/copyright").exists());
    env.finish();
}

#[test]
fn podman_runs_a_container_with_the_packaged_runtime_and_drop_in() {
    require_root!();
    let env = Env::new("pkg-podman");
    let (_, root) = unpack(&env);
    let scratch = env.subdir("podman");
    let cgroup_parent = format!("/cellos-pkg-{}", std::process::id());
    let script = r#"
mount -t tmpfs tmpfs /run
mkdir -p "$S"/{etc-up,etc-work,varlib-up,varlib-work,storage,runroot}
# podman keeps a blob cache in /var/lib/containers whatever the storage says.
mount -t overlay overlay -o lowerdir=/var/lib,upperdir="$S/varlib-up",workdir="$S/varlib-work" /var/lib
mount -t overlay overlay -o lowerdir="$PKG/usr/bin":/usr/bin /usr/bin
mount -t overlay overlay -o lowerdir="$PKG/usr/share/containers":/usr/share/containers /usr/share/containers
mount -t overlay overlay -o lowerdir="$PKG/etc/containers":/etc/containers,upperdir="$S/etc-up",workdir="$S/etc-work" /etc/containers
# This host has no systemd: cgroupfs, events in a file (under the tmpfs /run).
# podman's default nofile of 1048576 needs CAP_SYS_RESOURCE, which a
# sandboxed root may lack (as in tests/e2e/podman.sh).
cat > /etc/containers/containers.conf.d/zz-test.conf <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat > "$S/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$S/storage"
runroot = "$S/runroot"
EOF
export CONTAINERS_STORAGE_CONF="$S/storage.conf"
podman --runtime cellos-runtime info --format '{{.Host.OCIRuntime.Path}}'
tar -C "$ROOTFS" -cf - . | podman import -q - localhost/cellos-pkg-busybox:latest >/dev/null
podman --runtime cellos-runtime run --rm --network none --cgroup-parent "$CGP" \
  localhost/cellos-pkg-busybox:latest echo ok
podman rmi -f localhost/cellos-pkg-busybox:latest >/dev/null
"#;
    let mut c = Command::new("unshare");
    c.args([
        "--mount",
        "--propagation",
        "private",
        "bash",
        "-euo",
        "pipefail",
        "-c",
    ])
    .arg(script)
    .env("PKG", &root)
    .env("S", &scratch)
    .env("ROOTFS", fixture_rootfs())
    .env("CGP", &cgroup_parent);
    let out = run_piped(c, None, Duration::from_secs(300));
    // cgroups are not namespaced by the mount namespace: remove the parent
    // (and conmon's cgroup in it) from every hierarchy.
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let parent = h.path().join(&cgroup_parent[1..]);
        for child in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            if child.path().is_dir() {
                let _ = std::fs::remove_dir(child.path());
            }
        }
        let _ = std::fs::remove_dir(&parent);
        assert!(!parent.exists(), "cgroup {} left", parent.display());
    }
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        ["/usr/bin/cellos-runtime", "ok"],
        "podman took the runtime from the drop-in:\n{out}"
    );
    env.finish();
}
