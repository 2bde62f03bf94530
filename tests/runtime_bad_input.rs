//! Bad input, as a table: every bundle, process file, resources file and
//! signal below is wrong in one way. For each, the runtime must exit 1 with
//! exactly one line on stderr that names the offending value or field, in
//! words (no Rust Debug text, no cause printed twice), and leave nothing
//! behind. `cargo test --test runtime_bad_input -- --nocapture` prints the
//! table of messages.

mod support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use support::*;

/// Rust Debug text that must never reach a user.
const DEBUG_TEXT: &[&str] = &[
    "Os {",
    "Nix(",
    "NixOther(",
    "Some(",
    "Errno",
    "Pid(",
    "kind: ",
    " err=",
    "errno=",
];

/// The clause that appears twice in `line`, if one does: a ": "-separated
/// segment repeated (ignoring case and "(os error N)"), or "(os error N)"
/// more than once.
fn doubled_cause(line: &str) -> Option<String> {
    if line.matches("(os error ").count() > 1 {
        return Some("(os error N)".into());
    }
    let strip = |s: &str| -> String {
        let s = match s.find(" (os error ") {
            Some(i) => &s[..i],
            None => s,
        };
        s.trim().to_ascii_lowercase()
    };
    let segs: Vec<String> = line
        .split(": ")
        .map(strip)
        .filter(|s| s.len() > 3)
        .collect();
    segs.iter()
        .enumerate()
        .find(|(i, s)| segs[i + 1..].contains(s))
        .map(|(_, s)| s.clone())
}

#[test]
fn the_doubled_cause_detector_sees_doubles() {
    let d = |s| doubled_cause(s);
    assert!(
        d("x: No such file or directory (os error 2): No such file or directory (os error 2)")
            .is_some()
    );
    assert!(d("a: operation not permitted: b: Operation not permitted (os error 1)").is_some());
    assert!(d("create container \"x\": mounts[0] \"etc\" must be absolute").is_none());
    assert!(d("/b/config.json: No such file or directory (os error 2)").is_none());
}

/// Whether the message rules apply. They are ours: a control runtime (runc)
/// is held only to failing and leaving nothing behind, unless
/// CELLOS_TEST_STRICT is set (to hold an older cellos build to them).
fn strict() -> bool {
    !is_control() || std::env::var_os("CELLOS_TEST_STRICT").is_some()
}

/// Check one failure; returns what is wrong with it (empty if fine).
fn problems(o: &Out, needles: &[&str]) -> Vec<String> {
    let mut p = Vec::new();
    if !strict() {
        if o.code == 0 {
            println!("control runtime accepts: {}", o.cmdline);
        }
        return p;
    }
    if o.code != 1 {
        p.push(format!("exit {} instead of 1", o.code));
    }
    let lines: Vec<&str> = o.stderr.trim_end().lines().collect();
    if lines.len() != 1 {
        p.push(format!("{} lines on stderr", lines.len()));
    }
    let line = o.stderr.trim_end();
    for t in DEBUG_TEXT {
        if line.contains(t) {
            p.push(format!("Debug text {t:?}"));
        }
    }
    if let Some(d) = doubled_cause(line) {
        p.push(format!("doubled cause {d:?}"));
    }
    for n in needles {
        if !line.contains(n) {
            p.push(format!("does not name {n:?}"));
        }
    }
    p
}

/// What a case does to the fixture bundle.
enum Input {
    /// Edit the fixture's config.json.
    Edit(fn(&mut Value)),
    /// Write these bytes as config.json.
    Raw(&'static [u8]),
    /// Edit the config, given the bundle dir to prepare files in.
    Dir(fn(&Path, &mut Value)),
}

struct Case {
    name: &'static str,
    input: Input,
    /// What the single stderr line must contain.
    needles: &'static [&'static str],
}

fn case(name: &'static str, needles: &'static [&'static str], edit: fn(&mut Value)) -> Case {
    Case {
        name,
        input: Input::Edit(edit),
        needles,
    }
}

fn add_mount(c: &mut Value, m: Value) {
    c["mounts"].as_array_mut().unwrap().push(m);
}

fn tmpfs_at(dest: &str) -> Value {
    json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"})
}

/// An empty rootfs of the bundle's own, for cases that change files in it
/// (the fixture's rootfs is shared by every test).
fn private_rootfs(dir: &Path, c: &mut Value) {
    std::fs::create_dir(dir.join("rootfs")).unwrap();
    c["root"]["path"] = json!("rootfs");
}

fn bundles() -> Vec<Case> {
    vec![
        Case {
            name: "bad JSON",
            input: Input::Raw(b"{\"ociVersion\": \"1.0.2\", \"process\": [}"),
            needles: &["config.json", "line 1"],
        },
        Case {
            name: "empty config",
            input: Input::Raw(b""),
            needles: &["config.json", "EOF"],
        },
        Case {
            name: "not UTF-8",
            input: Input::Raw(b"{\"ociVersion\": \"1.0.\xff\"}"),
            needles: &["config.json", "UTF-8"],
        },
        Case {
            name: "JSON array",
            input: Input::Raw(b"[]"),
            needles: &["config.json", "root"],
        },
        case(
            "args is a string",
            &["config.json", "process.args", "invalid type"],
            |c| c["process"]["args"] = json!("sh"),
        ),
        case(
            "uid is a string",
            &["config.json", "process.user.uid", "\"0\""],
            |c| c["process"]["user"]["uid"] = json!("0"),
        ),
        case("no root", &["config.json", "root"], |c| {
            c.as_object_mut().unwrap().remove("root");
        }),
        case("no process", &["config.json", "process"], |c| {
            c.as_object_mut().unwrap().remove("process");
        }),
        case("no args", &["process.args"], |c| {
            c["process"].as_object_mut().unwrap().remove("args");
        }),
        case("empty args", &["process.args"], |c| {
            c["process"]["args"] = json!([])
        }),
        case("NUL in args", &["process.args[1]"], |c| {
            c["process"]["args"] = json!(["echo", "a\u{0}b"])
        }),
        case("rootfs missing", &["/no/such/rootfs"], |c| {
            c["root"]["path"] = json!("/no/such/rootfs")
        }),
        Case {
            name: "rootfs is a file",
            input: Input::Dir(|dir, c| {
                std::fs::write(dir.join("rootfs"), "").unwrap();
                c["root"]["path"] = json!("rootfs");
            }),
            needles: &["rootfs", "not a directory"],
        },
        Case {
            name: "rootfs is a symlink to /",
            input: Input::Dir(|dir, c| {
                std::os::unix::fs::symlink("/", dir.join("rootfs")).unwrap();
                c["root"]["path"] = json!("rootfs");
            }),
            needles: &["root.path", "\"rootfs\"", "host's root directory"],
        },
        Case {
            name: "rootfs is a symlink loop",
            input: Input::Dir(|dir, c| {
                std::os::unix::fs::symlink("rootfs", dir.join("rootfs")).unwrap();
                c["root"]["path"] = json!("rootfs");
            }),
            needles: &["rootfs", "Too many levels of symbolic links"],
        },
        Case {
            name: "/proc in the rootfs is a file",
            input: Input::Dir(|dir, c| {
                private_rootfs(dir, c);
                std::fs::write(dir.join("rootfs/proc"), "").unwrap();
            }),
            needles: &["proc", "ordinary directory"],
        },
        Case {
            name: "mount below a symlink loop",
            input: Input::Dir(|dir, c| {
                private_rootfs(dir, c);
                std::os::unix::fs::symlink("loop", dir.join("rootfs/loop")).unwrap();
                add_mount(c, tmpfs_at("/loop/x"));
            }),
            needles: &["\"/loop/x\"", "too many levels of symbolic links"],
        },
        Case {
            name: "read-only path below a symlink loop",
            input: Input::Dir(|dir, c| {
                private_rootfs(dir, c);
                std::os::unix::fs::symlink("loop", dir.join("rootfs/loop")).unwrap();
                c["linux"]["readonlyPaths"] = json!(["/loop/x"]);
            }),
            needles: &["\"/loop/x\"", "too many levels of symbolic links"],
        },
        case(
            "relative mount destination",
            &["mounts[7].destination", "\"etc\"", "absolute"],
            |c| add_mount(c, tmpfs_at("etc")),
        ),
        case(
            "mount destination ../../etc",
            &["mounts[7].destination", "\"../../etc\"", "absolute"],
            |c| add_mount(c, tmpfs_at("../../etc")),
        ),
        case(
            "mount destination with ..",
            &["mounts[7].destination", "\"/x/../../etc\""],
            |c| add_mount(c, tmpfs_at("/x/../../etc")),
        ),
        case(
            "bind source missing",
            &["mounts[7].source", "/no/such/src"],
            |c| {
                add_mount(
                    c,
                    json!({"destination": "/mnt", "type": "bind", "source": "/no/such/src", "options": ["rbind"]}),
                )
            },
        ),
        case("unknown mount type", &["\"bogusfs\"", "\"/mnt\""], |c| {
            add_mount(
                c,
                json!({"destination": "/mnt", "type": "bogusfs", "source": "none"}),
            )
        }),
        case("bad mount option", &["\"/mnt\"", "invalid argument"], |c| {
            add_mount(
                c,
                json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["bogus=1"]}),
            )
        }),
        case(
            "NUL in a mount destination",
            &["mounts[7].destination", "NUL"],
            |c| add_mount(c, tmpfs_at("/a\u{0}b")),
        ),
        case(
            "AppArmor profile without AppArmor",
            &["process.apparmorProfile", "\"nosuch\""],
            |c| c["process"]["apparmorProfile"] = json!("nosuch"),
        ),
        case(
            "unknown network device",
            &["linux.netDevices", "\"nosuch0\""],
            |c| c["linux"]["netDevices"] = json!({"nosuch0": {}}),
        ),
        case(
            "Intel RDT without resctrl",
            &["linux.intelRdt", "resctrl"],
            |c| c["linux"]["intelRdt"] = json!({"closID": "x"}),
        ),
        case(
            "hook env without =",
            &["hooks.poststop[0].env[0]", "\"X\""],
            |c| c["hooks"] = json!({"poststop": [{"path": "/bin/true", "env": ["X"]}]}),
        ),
        case(
            "unknown namespace",
            &["config.json", "linux.namespaces[6].type", "bogus"],
            |c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "bogus"}))
            },
        ),
        case(
            "duplicate namespace",
            &["linux.namespaces[6].type", "\"pid\"", "twice"],
            |c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "pid"}))
            },
        ),
        case(
            "namespace path missing",
            &["linux.namespaces[1].path", "/no/such/ns"],
            |c| c["linux"]["namespaces"][1]["path"] = json!("/no/such/ns"),
        ),
        case(
            "uid out of range",
            &["process.user.uid", "4294967295"],
            |c| c["process"]["user"]["uid"] = json!(4294967295u32),
        ),
        case("negative uid", &["config.json", "-1"], |c| {
            c["process"]["user"]["uid"] = json!(-1)
        }),
        case(
            "additional gid out of range",
            &["process.user.additionalGids[0]", "2147483648"],
            |c| c["process"]["user"]["additionalGids"] = json!([2147483648u32]),
        ),
        case(
            "unknown rlimit",
            &["config.json", "process.rlimits[0].type", "RLIMIT_BOGUS"],
            |c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]),
        ),
        case(
            "rlimit soft above hard",
            &["process.rlimits[0].soft", "100"],
            |c| {
                c["process"]["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 100}])
            },
        ),
        case(
            "duplicate rlimit",
            &["process.rlimits[1].type", "RLIMIT_NOFILE"],
            |c| {
                c["process"]["rlimits"] = json!([
                    {"type": "RLIMIT_NOFILE", "hard": 10, "soft": 10},
                    {"type": "RLIMIT_NOFILE", "hard": 20, "soft": 20}
                ])
            },
        ),
        case("unknown capability", &["config.json", "CAP_BOGUS"], |c| {
            c["process"]["capabilities"]["bounding"] = json!(["CAP_BOGUS"])
        }),
        case(
            "unknown seccomp action",
            &["linux.seccomp.defaultAction", "SCMP_ACT_BOGUS"],
            |c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_BOGUS"}),
        ),
        case("unknown seccomp arch", &["SCMP_ARCH_BOGUS"], |c| {
            c["linux"]["seccomp"] =
                json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_BOGUS"]})
        }),
        case("sysctl outside the namespaces", &["vm.swappiness"], |c| {
            c["linux"]["sysctl"] = json!({"vm.swappiness": "10"})
        }),
        case(
            "sysctl name with ..",
            &["linux.sysctl", "net/../../x"],
            |c| c["linux"]["sysctl"] = json!({"net/../../x": "1"}),
        ),
        case(
            "hook binary missing",
            &["hooks.prestart[0].path", "/no/such/hook"],
            |c| c["hooks"] = json!({"prestart": [{"path": "/no/such/hook"}]}),
        ),
        case(
            "relative hook path",
            &["hooks.createRuntime[0].path", "\"bin/true\""],
            |c| c["hooks"] = json!({"createRuntime": [{"path": "bin/true"}]}),
        ),
        case(
            "hook timeout 0",
            &["hooks.poststart[0].timeout", "0"],
            |c| c["hooks"] = json!({"poststart": [{"path": "/bin/true", "timeout": 0}]}),
        ),
        case(
            "cgroupsPath escaping",
            &["linux.cgroupsPath", "../../escape"],
            |c| c["linux"]["cgroupsPath"] = json!("../../escape"),
        ),
        case(
            "unknown device type",
            &["config.json", "linux.devices[0].type", "`x`"],
            |c| {
                c["linux"]["devices"] =
                    json!([{"path": "/dev/foo", "type": "x", "major": 1, "minor": 3}])
            },
        ),
        case(
            "relative device path",
            &["linux.devices[0].path", "\"dev/foo\""],
            |c| {
                c["linux"]["devices"] =
                    json!([{"path": "dev/foo", "type": "c", "major": 1, "minor": 3}])
            },
        ),
        case(
            "huge device major",
            &["linux.devices[0].major", "99999999999"],
            |c| {
                c["linux"]["devices"] =
                    json!([{"path": "/dev/foo", "type": "c", "major": 99999999999i64, "minor": 3}])
            },
        ),
        case("huge oomScoreAdj", &["process.oomScoreAdj", "5000"], |c| {
            c["process"]["oomScoreAdj"] = json!(5000)
        }),
        case("huge memory limit overflows", &["config.json"], |c| {
            c["linux"]["resources"]["memory"] = json!({"limit": 1e30})
        }),
        case("memory limit of one byte", &["memory limit", "1"], |c| {
            c["linux"]["resources"]["memory"] = json!({"limit": 1})
        }),
        case("cpuset out of range", &["999-1000"], |c| {
            c["linux"]["resources"]["cpu"] = json!({"cpus": "999-1000"})
        }),
        case("env without =", &["process.env[0]", "\"NOEQUALS\""], |c| {
            c["process"]["env"] = json!(["NOEQUALS", "PATH=/bin"])
        }),
        case("relative cwd", &["process.cwd", "\"tmp\""], |c| {
            c["process"]["cwd"] = json!("tmp")
        }),
        case("missing cwd", &["/no/such/dir"], |c| {
            c["process"]["cwd"] = json!("/no/such/dir")
        }),
        case(
            "relative masked path",
            &["linux.maskedPaths[0]", "\"proc/kcore\""],
            |c| c["linux"]["maskedPaths"] = json!(["proc/kcore"]),
        ),
        case(
            "unknown rootfsPropagation",
            &["linux.rootfsPropagation", "\"bogus\""],
            |c| c["linux"]["rootfsPropagation"] = json!("bogus"),
        ),
        case("ociVersion 2", &["ociVersion", "\"2.0.0\""], |c| {
            c["ociVersion"] = json!("2.0.0")
        }),
        case("command not found", &["nonexistent"], |c| {
            c["process"]["args"] = json!(["nonexistent"])
        }),
        case("hostname without a UTS namespace", &["hostname"], |c| {
            c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "pid"}])
        }),
    ]
}

/// Write the case's bundle.
fn make_bundle(env: &Env, input: &Input) -> PathBuf {
    match input {
        Input::Edit(f) => env.bundle(|c| {
            set_args(c, &["true"]);
            f(c)
        }),
        Input::Raw(bytes) => {
            let dir = env.subdir("bundle");
            std::fs::write(dir.join("config.json"), bytes).unwrap();
            dir
        }
        Input::Dir(f) => {
            let dir = env.subdir("bundle");
            let mut c = base_config();
            set_args(&mut c, &["true"]);
            f(&dir, &mut c);
            std::fs::write(dir.join("config.json"), serde_json::to_vec(&c).unwrap()).unwrap();
            dir
        }
    }
}

/// Run every case through `verb` (create or run); collect what went wrong.
fn run_table(env: &Env, verb: &str, cases: &[Case], table: &mut Vec<String>) -> Vec<String> {
    let mut bad = Vec::new();
    for c in cases {
        if is_control() && c.name == "missing cwd" {
            // runc makes the missing cwd, in the rootfs every test shares.
            println!(
                "control runtime: skipping {:?}: it would write to the fixture",
                c.name
            );
            continue;
        }
        let bundle = make_bundle(env, &c.input);
        let id = env.id();
        let o = match verb {
            "create" => env.create(&bundle, &id, &[]),
            _ => env.rt(&["run", "--bundle", bundle.to_str().unwrap(), &id]),
        };
        let mut p = problems(&o, c.needles);
        let line = o.stderr.trim_end().replace('\n', "⏎");
        table.push(format!("| {verb} | {} | {line} |", c.name));
        // Nothing half-made: no state dir, no bundle copy, no cgroup, no process.
        if o.code != 0 {
            p.extend(leftovers(env, &id));
        }
        if !p.is_empty() {
            bad.push(format!("{verb} / {}: {}\n{o}", c.name, p.join("; ")));
        }
    }
    bad
}

fn leftovers(env: &Env, id: &str) -> Vec<String> {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| env.assert_gone(id)));
    match r {
        Ok(()) => Vec::new(),
        Err(e) => vec![
            e.downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "left things behind".into()),
        ],
    }
}

#[test]
fn bad_bundles_through_create() {
    require_root!();
    if !strict() {
        println!(
            "control runtime: the message rules are cellos-runtime's; checking only that \
             nothing is left behind, and listing what the control accepts"
        );
    }
    let env = Env::new("badin-create");
    let cases = bundles();
    assert!(cases.len() >= 40, "the table has {} bundles", cases.len());
    let mut table = Vec::new();
    let bad = run_table(&env, "create", &cases, &mut table);
    println!("{}", table.join("\n"));
    env.finish();
    assert!(
        bad.is_empty(),
        "{} of {} bad bundles:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n\n")
    );
}

#[test]
fn bad_bundles_through_run() {
    require_root!();
    let env = Env::new("badin-run");
    let pick = [
        "bad JSON",
        "rootfs is a symlink to /",
        "relative mount destination",
        "hook binary missing",
        "memory limit of one byte",
        "command not found",
    ];
    let cases: Vec<Case> = bundles()
        .into_iter()
        .filter(|c| pick.contains(&c.name))
        .collect();
    assert_eq!(cases.len(), pick.len());
    let mut table = Vec::new();
    let bad = run_table(&env, "run", &cases, &mut table);
    println!("{}", table.join("\n"));
    env.finish();
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
}

/// `exec --process FILE` and `update --resources FILE` into a running
/// container, and `kill` with bad signals: each fails alone, the container
/// runs on, and no exec process file is left in our scratch dir.
#[test]
fn bad_process_resources_and_signals() {
    require_root!();
    let env = Env::new("badin-live");
    let (id, _) = env.sleeper();
    let dir = env.subdir("files");
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };
    let mut table = Vec::new();
    let mut bad = Vec::new();
    let mut check = |what: String, o: Out, needles: &[&str]| {
        table.push(format!("| {what} | {} |", o.stderr.trim_end()));
        let p = problems(&o, needles);
        if !p.is_empty() {
            bad.push(format!("{what}: {}\n{o}", p.join("; ")));
        }
    };
    let processes: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        ("bad JSON", b"{\"args\": [}".to_vec(), vec!["process file", "line 1"]),
        ("not UTF-8", b"{\"args\": [\"\xff\"]}".to_vec(), vec!["process file", "UTF-8"]),
        ("args is a number", br#"{"args": 5, "cwd": "/", "user": {"uid": 0, "gid": 0}}"#.to_vec(), vec!["invalid type"]),
        ("no cwd", br#"{"args": ["true"], "user": {"uid": 0, "gid": 0}}"#.to_vec(), vec!["cwd"]),
        ("uid out of range", br#"{"args": ["true"], "cwd": "/", "user": {"uid": 4294967295, "gid": 0}}"#.to_vec(), vec!["uid", "4294967295"]),
        ("unknown capability", br#"{"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "capabilities": {"bounding": ["CAP_NOPE"]}}"#.to_vec(), vec!["CAP_NOPE"]),
        ("NUL in args", br#"{"args": ["a\u0000b"], "cwd": "/", "user": {"uid": 0, "gid": 0}}"#.to_vec(), vec!["args[0]", "NUL"]),
        ("env without =", br#"{"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["NOEQUALS"]}"#.to_vec(), vec!["env[0]", "\"NOEQUALS\""]),
        ("empty args", br#"{"args": [], "cwd": "/", "user": {"uid": 0, "gid": 0}}"#.to_vec(), vec!["args"]),
        ("command not found", br#"{"args": ["nonexistent"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]}"#.to_vec(), vec!["nonexistent"]),
    ];
    for (name, bytes, needles) in processes {
        let p = file("process.json", &bytes);
        let o = env.rt(&["exec", "--process", &p, &id]);
        check(format!("exec --process / {name}"), o, &needles);
    }
    let o = env.rt(&["exec", "--process", "/no/such/process.json", &id]);
    check(
        "exec --process / missing file".into(),
        o,
        &["/no/such/process.json"],
    );
    let resources: Vec<(&str, &[u8], Vec<&str>)> = vec![
        ("bad JSON", b"{\"memory\": ", vec!["resources", "EOF"]),
        (
            "unknown section",
            br#"{"memroy": {"limit": 1}}"#,
            vec!["memroy"],
        ),
        (
            "unknown field",
            br#"{"memory": {"limt": 1}}"#,
            vec!["memory.limt"],
        ),
        (
            "wrong type",
            br#"{"pids": {"limit": "many"}}"#,
            vec!["\"many\""],
        ),
        ("not an object", b"[1, 2]", vec!["object"]),
        (
            "cpuset out of range",
            br#"{"cpu": {"cpus": "999-1000"}}"#,
            vec!["999-1000"],
        ),
    ];
    for (name, bytes, needles) in resources {
        let p = file("resources.json", bytes);
        let o = env.rt(&["update", "--resources", &p, &id]);
        check(format!("update --resources / {name}"), o, &needles);
    }
    let o = env.rt(&["update", "--resources", "/no/such/res.json", &id]);
    check(
        "update --resources / missing file".into(),
        o,
        &["/no/such/res.json"],
    );
    for sig in [
        "NOPE",
        "SIGFOO",
        "0",
        "65",
        "RTMIN+99",
        "RTMIN+2147483647",
        "RTMAX--2147483648",
        "99999999999",
        "KILL9",
        "SIG",
    ] {
        let o = env.rt(&["kill", &id, sig]);
        check(format!("kill {sig}"), o, &["invalid signal", sig]);
    }
    println!("{}", table.join("\n"));
    assert_eq!(env.status(&id), "running", "a bad input hurt the container");
    let stray = exec_files_left(&env, &id);
    env.finish();
    assert!(stray.is_empty(), "exec process files left: {stray:?}");
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
}
