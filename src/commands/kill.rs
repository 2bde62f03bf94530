use super::{Global, Status};

#[derive(clap::Args, Debug)]
pub struct Kill {
    /// Send the signal to every process in the container
    #[arg(short, long)]
    pub all: bool,
    pub container_id: String,
    /// Number or name (9, KILL, SIGKILL, RTMIN+1); default SIGTERM
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(g: &Global, args: Kill) -> Status {
    let sig = crate::signals::parse(&args.signal)?;
    g.runtime()?
        .load_locked(&args.container_id)?
        .kill(sig, args.all)?;
    Ok(0)
}
