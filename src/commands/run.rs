use super::create::CreateArgs;
use super::{Global, Status, foreground};
use std::path::PathBuf;

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
    crate::seal::ensure_sealed()?;
    if let Some(cell) = &args.cell {
        if args.container_id.is_some() {
            anyhow::bail!("run --cell takes no container ID (it is derived from spec.id)");
        }
        let cfg = crate::supervisor::Config::for_runtime(g)?;
        return Ok(crate::supervisor::run_cell_file(cell, &cfg));
    }
    let id = args.container_id.clone().unwrap_or_default();
    let rt = g.runtime()?;
    if args.detach {
        rt.create(&args.opts.options(&id, true))?.start()?;
        return Ok(0);
    }
    if args.opts.console_socket.is_some() {
        anyhow::bail!(
            "--console-socket needs --detach: a foreground run keeps the terminal itself"
        );
    }
    let mask = foreground::block();
    let mut c = rt.create(&args.opts.options(&id, false))?;
    let pid = c.pid().unwrap_or(0);
    if let Err(e) = c.start() {
        let _ = c.delete(true);
        return Err(e.into());
    }
    let status = foreground::wait_forwarding(pid, mask);
    if !args.keep
        && let Ok(mut c) = rt.load(&id)
        && let Err(e) = c.delete(true)
    {
        tracing::error!("delete container {id:?} after run: {e}");
    }
    Ok(status)
}
