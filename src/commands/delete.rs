use super::{Global, Status};

#[derive(clap::Args, Debug)]
pub struct Delete {
    /// Kill the container first if it is still running
    #[arg(short, long)]
    pub force: bool,
    pub container_id: String,
}

/// containerd always follows delete with delete --force: that one succeeds
/// for a container that is gone, and cleans up one a crash left half-made.
pub fn run(g: &Global, args: Delete) -> Status {
    g.runtime()?.delete(&args.container_id, args.force)?;
    Ok(0)
}
