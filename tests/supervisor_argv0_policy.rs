//! `CELLOS_RUN_ARGV0_ALLOW_PREFIXES`: argv[0] must be absolute, lexically
//! clean, under a prefix at a `/` boundary, and its real path (symlinks
//! followed inside the cell's root) must be allowed too. A refused cell
//! exits 125 and never starts: every command here would create a marker
//! file on a writable grant, and the marker must not exist afterwards.

mod support;

use serde_json::json;
use std::path::{Path, PathBuf};
use support::*;

const NOOP: (&str, &str) = ("CELL_OS_USE_NOOP_SINK", "1");

/// A private busybox rootfs with scripts that create the file named by
/// their first argument, reachable by honest and by tricky paths.
struct Trap {
    rootfs: PathBuf,
    grant: PathBuf,
}

fn trap(ctx: &Ctx) -> Trap {
    let rootfs = ctx.rootfs_copy();
    let grant = ctx.dir("grant");
    let body = "touch \"$1\"";
    write_script(&rootfs.join("usr/bin/good"), body);
    write_script(&rootfs.join("sbin/something"), body);
    write_script(&rootfs.join("usr/binx/tool"), body);
    write_script(&rootfs.join("opt/x"), body);
    std::os::unix::fs::symlink("/sbin/something", rootfs.join("usr/bin/evil")).unwrap();
    std::os::unix::fs::symlink("../../sbin/something", rootfs.join("usr/bin/evil-rel")).unwrap();
    // A symlinked directory on the way: /usr/bin/lib/tool is /opt/x.
    std::os::unix::fs::symlink("/opt", rootfs.join("usr/bin/lib")).unwrap();
    Trap { rootfs, grant }
}

impl Trap {
    /// A cell in the trap rootfs running `argv0 MARKER`; returns the spec
    /// and the host path of the marker.
    fn cell(&self, ctx: &Ctx, argv0: &str) -> (serde_json::Value, PathBuf) {
        let marker = self.grant.join(format!("ran-{}", ctx.marker()));
        let mut spec = cell(&ctx.id("argv0"), &[argv0, marker.to_str().unwrap()]);
        set(&mut spec, "/spec/rootfs", json!(self.rootfs));
        set(
            &mut spec,
            "/spec/authority/writablePaths",
            json!([self.grant]),
        );
        (spec, marker)
    }
}

#[track_caller]
fn assert_refused_never_ran(
    ctx: &Ctx,
    spec: &serde_json::Value,
    marker: &Path,
    prefixes: &str,
    needles: &[&str],
) {
    let env = [NOOP, ("CELLOS_RUN_ARGV0_ALLOW_PREFIXES", prefixes)];
    let f = ctx.spec_file(spec);
    ctx.supervise(&f, &env).refused(needles);
    assert!(
        !marker.exists(),
        "the refused process ran: {} exists",
        marker.display()
    );
    ctx.run_cell(&f, &env).refused(needles);
    assert!(
        !marker.exists(),
        "the refused process ran: {} exists",
        marker.display()
    );
}

/// The controls: the marker mechanism works, an allowed argv[0] runs, and
/// each trick below really would run its program without the policy.
#[test]
fn allowed_programs_run_and_the_tricks_work_without_a_policy() {
    require_root!();
    let ctx = Ctx::new("argv0ok");
    let t = trap(&ctx);
    let (spec, marker) = t.cell(&ctx, "/usr/bin/good");
    let env = [NOOP, ("CELLOS_RUN_ARGV0_ALLOW_PREFIXES", "/usr/bin")];
    ctx.supervise_spec(&spec, &env).ok();
    assert!(marker.exists(), "an allowed program must run");
    // A prefix with a trailing slash, and a prefix naming the file itself.
    for prefixes in ["/usr/bin/", "/usr/bin/good", "/nowhere,/usr/bin"] {
        let (spec, marker) = t.cell(&ctx, "/usr/bin/good");
        let env = [NOOP, ("CELLOS_RUN_ARGV0_ALLOW_PREFIXES", prefixes)];
        ctx.supervise_spec(&spec, &env).ok();
        assert!(marker.exists(), "prefixes {prefixes:?} allow /usr/bin/good");
    }
    for argv0 in [
        "/usr/bin/evil",
        "/usr/bin/evil-rel",
        "/usr/bin/../../opt/x",
        "/usr/binx/tool",
        "/usr/bin/lib/x",
        "good",
    ] {
        let (spec, marker) = t.cell(&ctx, argv0);
        ctx.supervise_spec(&spec, &[NOOP]).ok();
        assert!(marker.exists(), "{argv0} runs when no policy is set");
    }
    ctx.finish();
}

#[test]
fn dot_dot_tricks_are_refused() {
    let ctx = Ctx::new("argv0dots");
    let t = trap(&ctx);
    for argv0 in [
        "/usr/bin/../../opt/x",
        "/usr/bin/../../tmp/x",
        "/usr/bin/./good",
        "/usr//bin/good",
        "/usr/bin/good/",
    ] {
        let (spec, marker) = t.cell(&ctx, argv0);
        assert_refused_never_ran(&ctx, &spec, &marker, "/usr/bin", &[argv0, "clean"]);
    }
    // The same in the host-system view: /usr/bin/../../bin/sh is a shell.
    let marker = ctx.dir("hostgrant").join("ran");
    let mut spec = cell(
        &ctx.id("hostdots"),
        &[
            "/usr/bin/../../bin/sh",
            "-c",
            &format!("touch {}", marker.display()),
        ],
    );
    set(
        &mut spec,
        "/spec/authority/writablePaths",
        json!([marker.parent().unwrap()]),
    );
    assert_refused_never_ran(&ctx, &spec, &marker, "/usr/bin", &["/usr/bin/../../bin/sh"]);
    ctx.finish();
}

#[test]
fn prefix_boundary_tricks_are_refused() {
    let ctx = Ctx::new("argv0boundary");
    let t = trap(&ctx);
    let (spec, marker) = t.cell(&ctx, "/usr/binx/tool");
    assert_refused_never_ran(
        &ctx,
        &spec,
        &marker,
        "/usr/bin",
        &["/usr/binx/tool", "prefix"],
    );
    // A prefix naming a file does not allow names that merely start with it.
    let (spec, marker) = t.cell(&ctx, "/usr/bin/goodx");
    assert_refused_never_ran(
        &ctx,
        &spec,
        &marker,
        "/usr/bin/good",
        &["/usr/bin/goodx", "prefix"],
    );
    ctx.finish();
}

#[test]
fn relative_argv0_is_refused() {
    let ctx = Ctx::new("argv0relative");
    let t = trap(&ctx);
    for argv0 in ["good", "usr/bin/good", "./good"] {
        let (spec, marker) = t.cell(&ctx, argv0);
        assert_refused_never_ran(&ctx, &spec, &marker, "/usr/bin", &[argv0, "absolute"]);
    }
    ctx.finish();
}

#[test]
fn symlink_tricks_are_refused() {
    let ctx = Ctx::new("argv0symlink");
    let t = trap(&ctx);
    for argv0 in ["/usr/bin/evil", "/usr/bin/evil-rel", "/usr/bin/lib/x"] {
        let (spec, marker) = t.cell(&ctx, argv0);
        assert_refused_never_ran(
            &ctx,
            &spec,
            &marker,
            "/usr/bin",
            &[argv0, "outside the allowed prefixes"],
        );
    }
    // /bin/sh in the busybox rootfs is a symlink to /bin/busybox.
    let (spec, marker) = t.cell(&ctx, "/bin/sh");
    assert_refused_never_ran(
        &ctx,
        &spec,
        &marker,
        "/bin/sh",
        &["/bin/sh", "/bin/busybox"],
    );
    ctx.finish();
}
