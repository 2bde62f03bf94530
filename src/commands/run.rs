use super::create::CreateArgs;
use super::{Global, Status, foreground};
use crate::runtime::console::{ConsoleSocket, Proxy};
use std::path::{Path, PathBuf};

/// Whether the bundle's process asks for a terminal (errors surface in create).
fn wants_terminal(bundle: &Path) -> bool {
    oci_spec::runtime::Spec::load(bundle.join("config.json"))
        .ok()
        .and_then(|s| s.process().as_ref()?.terminal())
        == Some(true)
}

#[derive(clap::Args, Debug)]
pub struct Run {
    #[command(flatten)]
    pub opts: CreateArgs,
    /// Return once the container has started instead of waiting for it
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits (foreground only)
    #[arg(long)]
    pub keep: bool,
    /// Run an ExecutionCell spec instead of a bundle (no container ID needed)
    #[arg(long, conflicts_with_all = ["detach", "keep", "console_socket", "pid_file", "no_pivot", "preserve_fds"])]
    pub cell: Option<PathBuf>,
    #[arg(required_unless_present = "cell")]
    pub container_id: Option<String>,
}

pub fn run(g: &Global, args: Run) -> Status {
    crate::runtime::seal::ensure_sealed()?;
    // `run --cell` is the supervisor's (the binary sends it there).
    let id = args.container_id.clone().unwrap_or_default();
    let rt = g.runtime()?;
    if args.detach {
        let mut c = rt.create(&args.opts.options(&id, true))?;
        rt.lock(&id)?;
        c.start()?;
        return Ok(0);
    }
    if args.opts.console_socket.is_some() {
        anyhow::bail!(
            "--console-socket needs --detach: a foreground run keeps the terminal itself"
        );
    }
    let signals = foreground::block();
    let mut opts = args.opts.options(&id, false);
    // A terminal process gets a pty that we join to our own stdio.
    let console = if wants_terminal(&args.opts.bundle) {
        // The socket lives in the container's scratch dir: take the ID first.
        let dir = rt.claim(&id)?;
        opts.claimed = true;
        let sock = ConsoleSocket::bind(&dir).inspect_err(|_| rt.release(&id))?;
        opts.console_socket = Some(sock.path().to_path_buf());
        opts.detach = true; // libcontainer only allows a console socket when detached
        Some(sock)
    } else {
        None
    };
    let mut c = rt.create(&opts)?;
    let pid = c.pid().unwrap_or(0);
    let proxy = match console.map(ConsoleSocket::receive).transpose() {
        Ok(master) => master.map(Proxy::start),
        Err(e) => {
            let _ = rt.delete(&id, true);
            return Err(e.into());
        }
    };
    // create let go of the lock; start takes it again, and lets it go
    // before the wait so that kill and delete can reach the container.
    rt.lock(&id)?;
    let started = c.start();
    rt.unlock(&id);
    if let Err(e) = started {
        let _ = rt.delete(&id, true);
        return Err(e.into());
    }
    let status = crate::runtime::wait::Child::new(pid).wait_forwarding(&signals);
    if let Some(p) = proxy {
        p.finish();
    }
    if !args.keep
        && let Err(e) = rt.delete(&id, true)
    {
        tracing::error!(
            "delete container {id:?} after run: {}",
            crate::error::chain_message(&e)
        );
    }
    Ok(status)
}
