use super::{Global, Status};

#[derive(clap::Args, Debug)]
pub struct Pause {
    pub container_id: String,
}

pub fn run(g: &Global, args: Pause) -> Status {
    g.runtime()?.load_locked(&args.container_id)?.pause()?;
    Ok(0)
}
