use super::{Global, Status};

#[derive(clap::Args, Debug)]
pub struct List {
    /// table or json
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only the IDs
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(g: &Global, args: List) -> Status {
    let containers = g.runtime()?.list()?;
    if args.quiet {
        for c in &containers {
            println!("{}", c.id());
        }
        return Ok(0);
    }
    let views: Vec<_> = containers.iter().map(|c| c.view()).collect();
    if args.format == "json" {
        println!("{}", serde_json::to_string(&views)?);
        return Ok(0);
    }
    println!(
        "{:<20} {:<8} {:<10} {:<40} {:<32} OWNER",
        "ID", "PID", "STATUS", "BUNDLE", "CREATED"
    );
    for v in views {
        println!(
            "{:<20} {:<8} {:<10} {:<40} {:<32} {}",
            v.id,
            v.pid,
            v.status,
            v.bundle.display(),
            v.created,
            if v.owner.is_empty() { "root" } else { &v.owner }
        );
    }
    Ok(0)
}
