use super::{Global, Status, foreground};
use crate::console::{ConsoleSocket, Proxy};
use crate::engine::ExecOptions;
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::path::PathBuf;

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

/// Build the process.json libcontainer will run: the --process file, or the
/// container's own process with the command swapped in; then every flag is
/// applied on top, so no flag is ever silently dropped.
fn process_json(args: &Exec, base_config: &std::path::Path) -> anyhow::Result<Value> {
    let mut p: Value = match &args.process {
        Some(path) => {
            if !args.command.is_empty() {
                bail!("exec: give either --process or a command, not both");
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read process file {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("parse process file {}", path.display()))?
        }
        None => {
            if args.command.is_empty() {
                bail!("exec: a command is required (or --process FILE)");
            }
            let text = std::fs::read_to_string(base_config)
                .with_context(|| format!("read {}", base_config.display()))?;
            let cfg: Value = serde_json::from_str(&text)?;
            let mut p = cfg.get("process").cloned().unwrap_or_else(|| json!({}));
            p["args"] = json!(args.command);
            p["terminal"] = json!(false);
            p
        }
    };
    if args.tty {
        p["terminal"] = json!(true);
    }
    if let Some(cwd) = &args.cwd {
        p["cwd"] = json!(cwd);
    }
    if !args.env.is_empty() {
        let mut env: Vec<String> = p["env"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        for kv in &args.env {
            let key = kv.split('=').next().unwrap_or_default();
            if key.is_empty() || !kv.contains('=') {
                bail!("exec: invalid --env {kv:?}: expected KEY=VALUE");
            }
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        p["env"] = json!(env);
    }
    if let Some(user) = &args.user {
        let (uid, gid) = parse_user(user)?;
        p["user"]["uid"] = json!(uid);
        p["user"]["gid"] = json!(gid.unwrap_or(0));
    }
    if !args.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(args.additional_gids);
    }
    if args.no_new_privs {
        p["noNewPrivileges"] = json!(true);
    }
    // `false` must be left out: libcontainer would then load seccomp after
    // dropping capabilities, without no_new_privs, and the kernel refuses.
    if p.get("noNewPrivileges") == Some(&json!(false))
        && let Some(o) = p.as_object_mut()
    {
        o.remove("noNewPrivileges");
    }
    for cap in &args.cap {
        let cap = cap.to_ascii_uppercase();
        let cap = if cap.starts_with("CAP_") {
            cap
        } else {
            format!("CAP_{cap}")
        };
        // Checked in the config.json spelling ("CAP_X"): the strum FromStr
        // of oci-spec only knows "X" and would refuse every real name.
        serde_json::from_value::<oci_spec::runtime::Capability>(json!(cap))
            .map_err(|_| anyhow::anyhow!("exec: unknown capability {cap:?}"))?;
        for set in [
            "bounding",
            "effective",
            "permitted",
            "ambient",
            "inheritable",
        ] {
            let list = &mut p["capabilities"][set];
            if !list.is_array() {
                *list = json!([]);
            }
            let arr = list.as_array_mut().expect("array");
            if !arr.iter().any(|v| v == &json!(cap)) {
                arr.push(json!(cap));
            }
        }
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
        crate::bundle::check_cwd_not_in_proc(cwd, None, "exec: --cwd")?;
    }
    crate::seal::ensure_sealed()?;
    let rt = g.runtime()?;
    let container = rt.load(&args.container_id)?;
    let base = container.engine_config_path();
    let process = process_json(&args, &base)?;
    let proc_file = container
        .scratch_dir()
        .join(format!("exec-{}.json", std::process::id()));
    std::fs::write(&proc_file, serde_json::to_vec(&process)?)
        .with_context(|| format!("write {}", proc_file.display()))?;
    // A foreground terminal process gets a pty joined to our own stdio.
    let console = if !args.detach && args.console_socket.is_none() && process["terminal"] == true {
        Some(ConsoleSocket::bind(container.scratch_dir())?)
    } else {
        None
    };
    let opts = ExecOptions {
        process: Some(proc_file.clone()),
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
        ..Default::default()
    };
    let mask = (!args.detach).then(foreground::block);
    let res = rt.exec(&args.container_id, &opts);
    let _ = std::fs::remove_file(&proc_file);
    let pid = res?;
    let proxy = console
        .map(ConsoleSocket::receive)
        .transpose()?
        .map(Proxy::start);
    let status = match mask {
        None => 0,
        Some(mask) => foreground::wait_forwarding(pid.as_raw(), mask),
    };
    if let Some(p) = proxy {
        p.finish();
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::parse_user;

    #[test]
    fn users() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1:2").unwrap(), (1, Some(2)));
        assert!(parse_user("root").is_err());
        assert!(parse_user("1:x").is_err());
    }
}
