//! The container gets its own session keyring even when its seccomp profile
//! denies keyctl (issue 9, finding 6): the runtime joins a new one before
//! any seccomp filter exists, not inside the container afterwards.

mod support;

use serde_json::{Value, json};
use std::ffi::CString;
use support::*;

/// Make the calling thread's session keyring a fresh one named `name`, that
/// only a possessor can see in /proc/keys. Keyrings live in the thread's
/// credentials, so the runtime spawned from this thread inherits it.
fn join_private_keyring(name: &str) {
    let c = CString::new(name).unwrap();
    // SAFETY: keyctl with a NUL-terminated name; no memory is written.
    let serial = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            libc::KEYCTL_JOIN_SESSION_KEYRING,
            c.as_ptr(),
        )
    };
    assert!(
        serial > 0,
        "join keyring: {}",
        std::io::Error::last_os_error()
    );
    // Possessor: view, read, write, search, link, setattr; nothing for anyone else.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, libc::KEYCTL_SETPERM, serial, 0x3f00_0000) };
    assert_eq!(r, 0, "setperm: {}", std::io::Error::last_os_error());
    let keys = std::fs::read_to_string("/proc/keys").unwrap();
    assert!(keys.contains(name), "the test cannot see its own keyring");
}

/// A container running `args` under a profile denying keyctl, with
/// /proc/keys unmasked.
fn keys_bundle(env: &Env, args: &[&str]) -> std::path::PathBuf {
    env.bundle(|c| {
        set_args(c, args);
        let masked: Vec<Value> = c["linux"]["maskedPaths"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| *p != "/proc/keys")
            .cloned()
            .collect();
        c["linux"]["maskedPaths"] = json!(masked);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
            "syscalls": [{"names": ["keyctl", "add_key", "request_key"],
                          "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    })
}

#[test]
fn a_container_denied_keyctl_still_leaves_the_callers_keyring() {
    require_root!();
    let env = Env::new("keyring");
    let name = format!("cellos-test-keyring-{}", std::process::id());
    join_private_keyring(&name);
    let bundle = keys_bundle(&env, &["cat", "/proc/keys"]);

    let own = env.run_fg(&bundle, &env.id());
    own.ok();
    assert!(
        !own.stdout.contains(&name),
        "the container sees the caller's session keyring:\n{own}"
    );

    // A process exec'd into a container gets a keyring of its own too.
    let sleeper = keys_bundle(&env, &["sleep", "1000"]);
    let id = env.id();
    env.create(&sleeper, &id, &[]).ok();
    env.start(&id).ok();
    let exec = env.exec(&id, &["cat", "/proc/keys"]);
    exec.ok();
    assert!(
        !exec.stdout.contains(&name),
        "an exec'd process sees the caller's session keyring:\n{exec}"
    );
    env.rt(&["delete", "--force", &id]).ok();

    // The control: without a new keyring the same container does see it,
    // so the check above can tell.
    let shared = env.rt(&[
        "run",
        "--no-new-keyring",
        "--bundle",
        bundle.to_str().unwrap(),
        &env.id(),
    ]);
    shared.ok();
    assert!(
        shared.stdout.contains(&name),
        "with --no-new-keyring the caller's keyring should be visible:\n{shared}"
    );
    env.finish();
}
