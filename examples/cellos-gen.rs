//! cellos-gen OUTDIR: the package's man pages and shell completions, made
//! from the same clap definitions the binaries parse with. An example
//! (`cargo build --example cellos-gen`, run by `make deb`), so nothing of it
//! is in the runtime.

// The runtime's own command line, compiled in here as it is (its `main`
// goes unused), so that the pages never drift from the parser.
#[allow(dead_code)]
#[path = "../src/bin/cellos-runtime.rs"]
mod runtime_bin;

use clap::{Arg, Command, CommandFactory};
use clap_complete::Shell;
use std::path::{Path, PathBuf};

/// cellos-supervisor parses its one argument by hand; this describes it.
fn supervisor() -> Command {
    Command::new("cellos-supervisor")
        .about("Run one ExecutionCell to completion and exit with its exit code")
        .version(cellos_runtime::VERSION)
        .arg(
            Arg::new("SPEC")
                .required(true)
                .help("The cell spec (JSON, apiVersion cellos.io/v1, kind ExecutionCell)"),
        )
        .after_help(
            "Configured by environment variables (see the README): CELLOS_SUBPROCESS_UNSHARE, \
             CELLOS_DEPLOYMENT_PROFILE, CELLOS_CELL_BACKEND, CELLOS_OCI_RUNTIME, \
             CELLOS_RUN_ARGV0_ALLOW_PREFIXES, CELLOS_EVENT_SINK, CELLOS_USE_NOOP_SINK (alias CELL_OS_USE_NOOP_SINK), \
             CELLOS_STATE_DIR.\n\n\
             Exit codes: the job's own; 124 when its TTL ran out; 125 for a refused spec or \
             a runtime failure before the job ran; 126 and 127 when argv[0] cannot be run \
             or is not found.\n\n\
             As a user other than root, the state lives under $XDG_RUNTIME_DIR, the cell \
             gets a user namespace of its own (the caller is uid 0 in it), and limits need \
             a delegated cgroup.",
        )
}

fn write_man(cmd: &Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // One page for the command and one per subcommand (cellos-runtime-run.1 ...).
    clap_mangen::generate_to(cmd.clone(), dir)
}

fn write_completions(cmd: &Command, dir: &Path) -> std::io::Result<()> {
    let name = cmd.get_name().to_string();
    for (shell, sub, file) in [
        (Shell::Bash, "bash", name.clone()),
        (Shell::Zsh, "zsh", format!("_{name}")),
        (Shell::Fish, "fish", format!("{name}.fish")),
    ] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d)?;
        let mut f = std::fs::File::create(d.join(file))?;
        clap_complete::generate(shell, &mut cmd.clone(), &name, &mut f);
    }
    Ok(())
}

fn main() {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: cellos-gen OUTDIR");
        std::process::exit(2);
    };
    let runtime = runtime_bin::Cli::command().version(cellos_runtime::VERSION);
    let result = [runtime, supervisor()].iter().try_for_each(|cmd| {
        write_man(cmd, &out.join("man"))?;
        write_completions(cmd, &out.join("completions"))
    });
    if let Err(e) = result {
        eprintln!("cellos-gen: {}: {e}", out.display());
        std::process::exit(1);
    }
}
