//! `features` against behaviour: every mount option the document advertises
//! is mounted once in a real container, which must start and, where the
//! kernel shows the option, show it in /proc/self/mountinfo. Options the
//! document leaves out because the runtime does not implement them must be
//! refused, not dropped in silence.

mod support;

use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::*;

/// Where the test mounts (the fixture has an empty /mnt).
const TARGET: &str = "/mnt";

/// How the kernel shows an option in mountinfo: a word that must be there
/// (true) or must not (false). None: the kernel shows nothing we can check
/// (defaults, propagation to a slave of nothing, the relatime default...).
fn shown_as(opt: &str) -> Option<(&'static str, bool)> {
    let o = opt.strip_prefix('r').filter(|_| opt != "ro" && opt != "rw");
    let o = match (o, opt) {
        (Some(base), _) if !matches!(opt, "relatime" | "rbind" | "rprivate" | "rshared") => base,
        _ => opt,
    };
    Some(match o {
        "ro" => ("ro", true),
        "rw" => ("ro", false),
        "nosuid" => ("nosuid", true),
        "suid" => ("nosuid", false),
        "nodev" => ("nodev", true),
        "dev" => ("nodev", false),
        "noexec" => ("noexec", true),
        "exec" => ("noexec", false),
        "noatime" => ("noatime", true),
        "atime" => ("noatime", false),
        "nodiratime" => ("nodiratime", true),
        "diratime" => ("nodiratime", false),
        "relatime" => ("relatime", true),
        "strictatime" => ("relatime", false),
        "nosymfollow" => ("nosymfollow", true),
        "symfollow" => ("nosymfollow", false),
        "sync" => ("sync", true),
        "async" => ("sync", false),
        "dirsync" => ("dirsync", true),
        "shared" | "rshared" => ("shared:", true),
        "private" | "rprivate" => ("shared:", false),
        "unbindable" => ("unbindable", true),
        _ => return None,
    })
}

/// The words of TARGET's mountinfo line: mount options, optional fields
/// (`shared:N` kept as `shared:`) and super options.
fn mount_words(mountinfo: &str) -> Option<BTreeSet<String>> {
    let line = mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(TARGET))?;
    let (pre, post) = line.split_once(" - ")?;
    let mut words = BTreeSet::new();
    for (i, f) in pre.split(' ').enumerate().skip(5) {
        for w in f.split(',') {
            words.insert(if i > 5 && w.contains(':') {
                format!("{}:", w.split(':').next().unwrap_or(""))
            } else {
                w.to_string()
            });
        }
    }
    words.extend(
        post.split(' ')
            .nth(2)
            .unwrap_or("")
            .split(',')
            .map(String::from),
    );
    Some(words)
}

/// The mount for `opt`: a bind of a host directory for the bind options,
/// a tmpfs otherwise.
fn mount_with(env: &Env, opt: &str) -> Value {
    if matches!(opt, "bind" | "rbind") {
        let src = env.subdir("src");
        json!({"destination": TARGET, "type": "bind", "source": src, "options": [opt]})
    } else {
        json!({"destination": TARGET, "type": "tmpfs", "source": "tmpfs", "options": [opt]})
    }
}

/// Run a container with `mount` added that prints its mountinfo.
fn run_mounting(env: &Env, mount: Value, script: &str) -> Out {
    env.run_with(|c| {
        c["mounts"].as_array_mut().unwrap().push(mount);
        set_args(c, &["sh", "-c", script]);
    })
}

fn advertised(env: &Env) -> Vec<String> {
    let f = env.rt_exact(&["features"]).ok().json();
    f["mountOptions"]
        .as_array()
        .expect("mountOptions")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_advertised_mount_option_mounts() {
    require_root!();
    let env = Env::new("features-mounts");
    let opts = advertised(&env);
    assert!(opts.len() > 10, "{opts:?}");
    let mut bad = Vec::new();
    for opt in &opts {
        if opt == "tmpcopyup" {
            // The image's /etc, copied into a fresh tmpfs.
            let m = json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]});
            let o = run_mounting(&env, m, "test -s /etc/passwd && echo copied");
            if o.code != 0 || !o.out().contains("copied") {
                bad.push(format!("tmpcopyup: {o}"));
            }
            continue;
        }
        let o = run_mounting(&env, mount_with(&env, opt), "cat /proc/self/mountinfo");
        if o.code != 0 {
            bad.push(format!("{opt}: container did not start: {o}"));
            continue;
        }
        let Some(words) = mount_words(o.out()) else {
            bad.push(format!("{opt}: no mount at {TARGET}: {o}"));
            continue;
        };
        if let Some((word, present)) = shown_as(opt)
            && words.contains(word) != present
        {
            let want = if present { "shows" } else { "does not show" };
            bad.push(format!(
                "{opt}: expected mountinfo that {want} {word:?}, got {words:?}"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "advertised but not honoured:\n{}",
        bad.join("\n")
    );
    env.finish();
}

/// Options the runtime does not implement: libcontainer passes an unknown
/// option to the filesystem as data, and tmpfs refuses it, so the container
/// must not start. (`lazytime` is left out: it is a superblock flag that
/// tmpfs takes as data, not an option the runtime acts on.)
#[test]
fn options_left_out_are_refused() {
    let env = Env::new("features-refused");
    let opts = advertised(&env);
    for opt in [
        "nosymfollow",
        "iversion",
        "noiversion",
        "loud",
        "silent",
        "idmap-bogus",
    ] {
        if opts.iter().any(|o| o == opt) {
            // Which options a runtime implements is its own choice (runc
            // has nosymfollow); ours must leave these out.
            assert!(is_control(), "{opt} is advertised");
            println!("control runtime advertises {opt}: not checking its refusal");
            continue;
        }
        let o = run_mounting(&env, mount_with(&env, opt), "true");
        assert_ne!(o.code, 0, "{opt}: a tmpfs with it started: {o}");
    }
    env.finish();
}
