use super::{Global, Status};

#[derive(clap::Args, Debug)]
pub struct Resume {
    pub container_id: String,
}

pub fn run(g: &Global, args: Resume) -> Status {
    g.runtime()?.load_locked(&args.container_id)?.resume()?;
    Ok(0)
}
