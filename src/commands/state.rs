use super::{Global, Status};

#[derive(clap::Args, Debug)]
pub struct State {
    pub container_id: String,
}

/// Prints only the JSON: go-runc parses stdout and stderr together.
pub fn run(g: &Global, args: State) -> Status {
    let c = g.runtime()?.load(&args.container_id)?;
    println!("{}", serde_json::to_string_pretty(&c.view())?);
    Ok(0)
}
