use super::{Global, Status, foreground};
use crate::runtime::console::{ConsoleSocket, Proxy};
use crate::runtime::engine::ExecOptions;
use crate::user;
use anyhow::{Context, bail};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process, Spec};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Exec {
    /// Unix socket that receives the pty master (with --tty)
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// KEY=VALUE added to the environment (repeatable)
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Allocate a pseudo-terminal
    #[arg(short, long)]
    pub tty: bool,
    /// uid[:gid] to run as
    #[arg(short, long)]
    pub user: Option<String>,
    /// Extra group ids (repeatable)
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// process.json describing the process (the runc shim always uses this)
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Do not wait for the process
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's host pid to (atomically)
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Set no_new_privs for the process
    #[arg(long)]
    pub no_new_privs: bool,
    /// Capability to add (repeatable)
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Pass this many extra fds (from 3 up)
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// Run in this sub-cgroup of the container
    #[arg(long)]
    pub cgroup: Option<String>,
    /// Exec even if the container is paused
    #[arg(long)]
    pub ignore_paused: bool,
    /// SELinux label (refused: SELinux is not supported)
    #[arg(long)]
    pub process_label: Option<String>,
    /// AppArmor profile (refused: not supported for exec)
    #[arg(long)]
    pub apparmor: Option<String>,
    pub container_id: String,
    /// Command and arguments (unless --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The text of an `exec --process` file, parsed and checked like the
/// process of a config (validate.rs); errors name `path`.
pub fn parse_process(text: &str, path: &Path) -> anyhow::Result<Process> {
    let p: Process = serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!(crate::validate::parse_error(text, &e)))
        .with_context(|| format!("parse process file {}", path.display()))?;
    crate::validate::process(&p).with_context(|| format!("process file {}", path.display()))?;
    Ok(p)
}

/// The process to run, before the flags: the --process file, or the
/// container's own process with the command swapped in (runc's base).
fn base_process(args: &Exec, base_config: &Path, home_set: bool) -> anyhow::Result<Process> {
    match &args.process {
        Some(path) => {
            if !args.command.is_empty() {
                bail!("exec: give either --process or a command, not both");
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read process file {}", path.display()))?;
            parse_process(&text, path)
        }
        None => {
            if args.command.is_empty() {
                bail!("exec: a command is required (or --process FILE)");
            }
            let spec = Spec::load(base_config)
                .map_err(|e| anyhow::anyhow!("read {}: {e}", base_config.display()))?;
            let Some(mut p) = spec.process().clone() else {
                bail!("{}: process is missing", base_config.display());
            };
            if let Some((field, v)) = user::id_out_of_range(p.user()) {
                bail!(
                    "{}: process.{field} {v}: {}",
                    base_config.display(),
                    user::RANGE_MSG
                );
            }
            if home_set {
                // The HOME create resolved for the init's user, not ours.
                let mut env = p.env().clone().unwrap_or_default();
                env.retain(|e| e.split('=').next() != Some("HOME"));
                p.set_env(Some(env));
            }
            p.set_args(Some(args.command.clone()));
            // A terminal only when asked for, as runc.
            p.set_terminal(Some(false));
            Ok(p)
        }
    }
}

/// An id given on the command line, in runc's range.
fn flag_id(flag: &str, v: u32) -> anyhow::Result<u32> {
    if v > user::MAX_ID {
        bail!("exec: {flag} {v}: {}", user::RANGE_MSG);
    }
    Ok(v)
}

/// `CAP_X` or `X`, any case, as a capability.
fn parse_cap(name: &str) -> anyhow::Result<Capability> {
    let up = name.to_ascii_uppercase();
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    // Through the config.json spelling ("CAP_X"): the strum FromStr of
    // oci-spec only knows "X" and would refuse every real name.
    serde_json::from_value::<Capability>(serde_json::Value::String(full.clone()))
        .map_err(|_| anyhow::anyhow!("exec: unknown capability {full:?}"))
}

/// Apply the flags on top of the process with runc's exec semantics, so
/// that no flag is silently dropped (runc ignores them with --process; we
/// apply them there too).
fn apply_flags(p: &mut Process, args: &Exec) -> anyhow::Result<()> {
    if args.tty {
        p.set_terminal(Some(true));
    }
    if let Some(cwd) = &args.cwd {
        p.set_cwd(cwd.clone());
    }
    if !args.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        for kv in &args.env {
            let key = kv.split('=').next().unwrap_or_default();
            if key.is_empty() || !kv.contains('=') {
                bail!("exec: invalid --env {kv:?}: expected KEY=VALUE");
            }
            // A later value wins: drop the earlier one rather than keep both.
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        p.set_env(Some(env));
    }
    let u = p.user_mut();
    if let Some(spec) = &args.user {
        // UID keeps the process's gid; UID:GID sets both.
        let (uid, gid) = parse_user(spec)?;
        u.set_uid(flag_id("--user", uid)?);
        if let Some(gid) = gid {
            u.set_gid(flag_id("--user", gid)?);
        }
    }
    if !args.additional_gids.is_empty() {
        let mut gids = u.additional_gids().clone().unwrap_or_default();
        for &g in &args.additional_gids {
            gids.push(flag_id("--additional-gids", g)?);
        }
        u.set_additional_gids(Some(gids));
    }
    if args.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    // `false` must be left out: libcontainer would then load seccomp after
    // dropping capabilities, without no_new_privs, and the kernel refuses.
    if p.no_new_privileges() == Some(false) {
        p.set_no_new_privileges(None);
    }
    if !args.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_else(|| {
            // Not LinuxCapabilities::default(): that one grants a default set.
            let mut c = LinuxCapabilities::default();
            c.set_bounding(None)
                .set_effective(None)
                .set_inheritable(None)
                .set_permitted(None)
                .set_ambient(None);
            c
        });
        let add = |set: &Option<Capabilities>, cap: Capability| {
            let mut set = set.clone().unwrap_or_default();
            set.insert(cap);
            Some(set)
        };
        for name in &args.cap {
            let cap = parse_cap(name)?;
            caps.set_bounding(add(caps.bounding(), cap));
            caps.set_effective(add(caps.effective(), cap));
            caps.set_permitted(add(caps.permitted(), cap));
            // Never inheritable; ambient only when the process already has
            // an inheritable set, without which ambient cannot be raised
            // (runc's rule since CVE-2022-29162).
            if caps.inheritable().is_some() {
                caps.set_ambient(add(caps.ambient(), cap));
            }
        }
        p.set_capabilities(Some(caps));
    }
    Ok(())
}

/// The complete process for libcontainer: base, flags, id range, and a
/// HOME from the container's own /etc/passwd when it has none, so that
/// libcontainer never asks NSS (which would load the image's modules).
fn build_process(
    args: &Exec,
    base_config: &Path,
    home_set: bool,
    live_root: Option<&Path>,
) -> anyhow::Result<Process> {
    let mut p = base_process(args, base_config, home_set)?;
    apply_flags(&mut p, args)?;
    let mut env = p.env().clone().unwrap_or_default();
    if user::env_home(&env).is_none() {
        let passwd = live_root.and_then(|r| user::read_in_root(r, Path::new("/etc/passwd")));
        user::ensure_home(&mut env, p.user().uid(), passwd.as_deref());
        p.set_env(Some(env));
    }
    Ok(p)
}

fn parse_user(s: &str) -> anyhow::Result<(u32, Option<u32>)> {
    let bad = || anyhow::anyhow!("exec: invalid --user {s:?}: expected UID[:GID] (numeric)");
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = u.parse().map_err(|_| bad())?;
    let gid = g.map(|g| g.parse().map_err(|_| bad())).transpose()?;
    Ok((uid, gid))
}

pub fn run(g: &Global, args: Exec) -> Status {
    if args.process_label.is_some() {
        bail!("exec: --process-label is not supported (SELinux is not implemented)");
    }
    if args.apparmor.is_some() {
        bail!("exec: --apparmor is not supported for exec");
    }
    if let Some(cwd) = &args.cwd {
        crate::runtime::bundle::check_cwd_not_in_proc(cwd, None, "exec: --cwd")?;
    }
    crate::runtime::seal::ensure_sealed()?;
    let rt = g.runtime()?;
    // Locked while the process is set up, not while it runs.
    let container = rt.load_locked(&args.container_id)?;
    // Without a live init there is nothing to read; engine.exec refuses
    // such a container with its own words.
    let live_root = container.pid().map(user::proc_root);
    let process = build_process(
        &args,
        &container.engine_config_path(),
        container.home_set(),
        live_root.as_deref(),
    )?;
    let proc_file = container
        .scratch_dir()
        .join(format!("exec-{}.json", std::process::id()));
    std::fs::write(&proc_file, serde_json::to_vec(&process)?)
        .with_context(|| format!("write {}", proc_file.display()))?;
    // A foreground terminal process gets a pty joined to our own stdio.
    let terminal = process.terminal() == Some(true);
    let console = if !args.detach && args.console_socket.is_none() && terminal {
        match ConsoleSocket::bind(container.scratch_dir()) {
            Ok(c) => Some(c),
            Err(e) => {
                let _ = std::fs::remove_file(&proc_file);
                return Err(e.into());
            }
        }
    } else {
        None
    };
    let opts = ExecOptions {
        process: proc_file.clone(),
        pid_file: args.pid_file.clone(),
        console_socket: console
            .as_ref()
            .map(|c| c.path().to_path_buf())
            .or_else(|| args.console_socket.clone()),
        preserve_fds: args.preserve_fds,
        // libcontainer only takes a console socket when detached.
        detach: args.detach || console.is_some(),
        ignore_paused: args.ignore_paused,
        sub_cgroup: args.cgroup.clone(),
    };
    let signals = (!args.detach).then(foreground::block);
    let res = rt.exec(&container, &opts);
    let _ = std::fs::remove_file(&proc_file);
    rt.unlock(&args.container_id);
    let pid = res?;
    let proxy = console
        .map(ConsoleSocket::receive)
        .transpose()?
        .map(Proxy::start);
    let status = match &signals {
        None => 0,
        Some(signals) => crate::runtime::wait::Child::new(pid.as_raw()).wait_forwarding(signals),
    };
    if let Some(p) = proxy {
        p.finish();
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        exec: Exec,
    }

    fn exec(args: &[&str]) -> Exec {
        let mut v = vec!["exec"];
        v.extend(args);
        Cli::try_parse_from(v).unwrap().exec
    }

    /// A process as a config would give it: gid 100, one extra group,
    /// caps without an inheritable set.
    fn process(inheritable: Option<&str>) -> Process {
        let mut caps = serde_json::json!({
            "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]
        });
        if let Some(i) = inheritable {
            caps["inheritable"] = serde_json::json!([i]);
        }
        serde_json::from_value(serde_json::json!({
            "user": {"uid": 0, "gid": 100, "additionalGids": [5]},
            "args": ["sh"], "cwd": "/", "env": ["PATH=/bin", "A=1"],
            "capabilities": caps, "noNewPrivileges": false
        }))
        .unwrap()
    }

    fn applied(p: &mut Process, args: &[&str]) -> anyhow::Result<()> {
        apply_flags(p, &exec(args))
    }

    fn names(set: &Option<Capabilities>) -> Vec<String> {
        let mut v: Vec<String> = set
            .iter()
            .flatten()
            .map(|c| {
                serde_json::to_value(c)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn users() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1:2").unwrap(), (1, Some(2)));
        assert!(parse_user("root").is_err());
        assert!(parse_user("1:x").is_err());
    }

    #[test]
    fn user_keeps_gid_unless_given() {
        let mut p = process(None);
        applied(&mut p, &["-u", "65534", "c", "true"]).unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (65534, 100));
        applied(&mut p, &["-u", "7:8", "c", "true"]).unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (7, 8));
    }

    #[test]
    fn additional_gids_append() {
        let mut p = process(None);
        applied(&mut p, &["-g", "7", "-g", "8", "c", "true"]).unwrap();
        assert_eq!(p.user().additional_gids().as_deref(), Some(&[5, 7, 8][..]));
    }

    #[test]
    fn ids_out_of_range() {
        for args in [
            &["-u", "4294967295", "c", "true"][..],
            &["-u", "0:2147483648", "c", "true"],
            &["-g", "4294967295", "c", "true"],
        ] {
            let e = applied(&mut process(None), args).unwrap_err().to_string();
            assert!(e.contains(user::RANGE_MSG), "{args:?}: {e}");
        }
        applied(
            &mut process(None),
            &["-u", "2147483647:2147483647", "c", "true"],
        )
        .unwrap();
    }

    #[test]
    fn cap_follows_runc() {
        // No inheritable set: never inheritable, never ambient.
        let mut p = process(None);
        applied(&mut p, &["--cap", "net_raw", "c", "true"]).unwrap();
        let c = p.capabilities().clone().unwrap();
        let both = ["CAP_KILL", "CAP_NET_RAW"];
        assert_eq!(names(c.bounding()), both);
        assert_eq!(names(c.effective()), both);
        assert_eq!(names(c.permitted()), both);
        assert_eq!(c.inheritable(), &None);
        assert_eq!(c.ambient(), &None);
        // With one, the capability becomes ambient too; inheritable is kept.
        let mut p = process(Some("CAP_KILL"));
        applied(&mut p, &["--cap", "CAP_NET_RAW", "c", "true"]).unwrap();
        let c = p.capabilities().clone().unwrap();
        assert_eq!(names(c.inheritable()), ["CAP_KILL"]);
        assert_eq!(names(c.ambient()), ["CAP_NET_RAW"]);
        // No capabilities at all: an empty start, not oci-spec's default set.
        let mut p = process(None);
        p.set_capabilities(None);
        applied(&mut p, &["--cap", "CAP_CHOWN", "c", "true"]).unwrap();
        let c = p.capabilities().clone().unwrap();
        assert_eq!(names(c.bounding()), ["CAP_CHOWN"]);
        assert_eq!(c.inheritable(), &None);
        let e = applied(&mut p, &["--cap", "CAP_NOPE", "c", "true"]).unwrap_err();
        assert!(e.to_string().contains("CAP_NOPE"), "{e}");
    }

    #[test]
    fn env_cwd_tty_nnp() {
        let mut p = process(None);
        applied(&mut p, &["c", "true"]).unwrap();
        // noNewPrivileges false is left out for libcontainer.
        assert_eq!(p.no_new_privileges(), None);
        assert_eq!(p.terminal(), None);
        applied(
            &mut p,
            &[
                "-e",
                "A=2",
                "-e",
                "B=3",
                "--cwd",
                "/tmp",
                "-t",
                "--no-new-privs",
                "c",
                "true",
            ],
        )
        .unwrap();
        assert_eq!(
            p.env().as_deref(),
            Some(&["PATH=/bin".to_string(), "A=2".into(), "B=3".into()][..])
        );
        assert_eq!(p.cwd(), Path::new("/tmp"));
        assert_eq!(p.terminal(), Some(true));
        assert_eq!(p.no_new_privileges(), Some(true));
        assert!(applied(&mut p, &["-e", "NOEQUALS", "c", "true"]).is_err());
    }
}
