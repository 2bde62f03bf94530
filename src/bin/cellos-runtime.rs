//! cellos-runtime: parse the runc-compatible command line, then hand off to the library.

use cellos_runtime::commands::{self, Global};
use cellos_runtime::logging::{self, LogConfig, LogFormat};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "cellos-runtime",
    disable_version_flag = true,
    about = "A runc-compatible OCI runtime with sealed ExecutionCells"
)]
// pub(crate): examples/cellos-gen includes this file for the man pages and completions.
pub(crate) struct Cli {
    /// State directory [default: /run/cellos-runtime; as non-root
    /// $XDG_RUNTIME_DIR/cellos-runtime]
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Log file (errors are also printed on stderr)
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Manage cgroups through systemd (needs systemd as PID 1)
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    /// Debug logging and phase timings
    #[arg(long, global = true)]
    debug: bool,
    /// Print version information
    #[arg(short = 'v', long)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

// Deferred: a call builds the clap definition of its own subcommand only,
// not all nineteen (their code, heap and help texts are peak RSS of every verb).
#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum Command {
    /// Create a container from a bundle, ready to start
    Create(commands::create::Create),
    /// Start the user process of a created container
    Start(commands::start::Start),
    /// Print the state of a container as JSON
    State(commands::state::State),
    /// Send a signal to a container
    Kill(commands::kill::Kill),
    /// Delete a container and everything it holds
    Delete(commands::delete::Delete),
    /// Create and start a container (or run an ExecutionCell with --cell)
    Run(commands::run::Run),
    /// Run a new process in a running container
    Exec(commands::exec::Exec),
    /// List the processes of a container
    Ps(commands::ps::Ps),
    /// List containers
    List(commands::list::List),
    /// Freeze all processes of a container
    Pause(commands::pause::Pause),
    /// Thaw a paused container
    Resume(commands::resume::Resume),
    /// Print container stats as events
    Events(commands::events::Events),
    /// Change the cgroup limits of a running container
    Update(commands::update::Update),
    /// Print the runtime-spec features document
    Features(commands::features::Features),
    /// Write a starter config.json
    Spec(commands::spec::SpecArgs),
    /// Write the OCI bundle for an ExecutionCell spec
    Convert(commands::convert::Convert),
    /// Not supported (no CRIU); fails even with --help
    Checkpoint(commands::checkpoint::Unsupported),
    /// Not supported (no CRIU)
    Restore(commands::checkpoint::Unsupported),
}

fn main() {
    // Before anything else: the kernel's cgroup-join wait runs meanwhile.
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    cellos_runtime::runtime::warmup::start_for(&args);
    cellos_runtime::runtime::seal::seal_early_for(&args);
    cellos_runtime::trace::init(false);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind::*;
            if matches!(
                e.kind(),
                DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                std::process::exit(0);
            }
            // One line, like every other error, and in the log when one was asked for.
            let _ = logging::init(&logging::LogConfig::from_raw_args(args.iter().cloned()));
            logging::report_error(&logging::one_line_usage_error(&e.to_string()));
            std::process::exit(1);
        }
    };
    if cli.version {
        print!("{}", cellos_runtime::version_text());
        return;
    }
    cellos_runtime::trace::init(cli.debug);
    let log = LogConfig {
        path: cli.log.clone(),
        format: cli.log_format,
        debug: cli.debug,
    };
    if let Err(e) = logging::init(&log) {
        logging::report_error(&e.to_string());
        std::process::exit(1);
    }
    let g = Global {
        root: cli.root.unwrap_or_else(commands::default_root),
        systemd_cgroup: cli.systemd_cgroup,
        debug: cli.debug,
    };
    let Some(command) = cli.command else {
        logging::report_error("no command given (see --help)");
        std::process::exit(1);
    };
    let result = match command {
        Command::Create(a) => commands::create::run(&g, a),
        Command::Start(a) => commands::start::run(&g, a),
        Command::State(a) => commands::state::run(&g, a),
        Command::Kill(a) => commands::kill::run(&g, a),
        Command::Delete(a) => commands::delete::run(&g, a),
        Command::Run(a) if a.cell.is_some() => run_cell(&g, a),
        Command::Run(a) => commands::run::run(&g, a),
        Command::Exec(a) => commands::exec::run(&g, a),
        Command::Ps(a) => commands::ps::run(&g, a),
        Command::List(a) => commands::list::run(&g, a),
        Command::Pause(a) => commands::pause::run(&g, a),
        Command::Resume(a) => commands::resume::run(&g, a),
        Command::Events(a) => commands::events::run(&g, a),
        Command::Update(a) => commands::update::run(&g, a),
        Command::Features(a) => commands::features::run(a),
        Command::Spec(a) => commands::spec::run(a),
        Command::Convert(a) => commands::convert::run(a),
        Command::Checkpoint(_) => commands::checkpoint::run("checkpoint"),
        Command::Restore(_) => commands::checkpoint::run("restore"),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // Not `{e:#}`: our errors print their cause already, and anyhow
            // would print it a second time.
            logging::report_error(&cellos_runtime::error::chain_message(e.as_ref()));
            std::process::exit(1);
        }
    }
}

/// `run --cell SPEC`: the supervisor's pipeline with this runtime's --root
/// and cgroup driver. Its exit codes are the supervisor's: a refused
/// setting exits 125 with one `cellos:` line, not with the CLI's 1.
fn run_cell(g: &Global, args: commands::run::Run) -> anyhow::Result<i32> {
    use cellos_runtime::supervisor::{Config, run_cell_file};
    cellos_runtime::runtime::seal::ensure_sealed()?;
    if args.container_id.is_some() {
        anyhow::bail!("run --cell takes no container ID (it is derived from spec.id)");
    }
    let cell = args.cell.unwrap_or_default();
    Ok(match Config::for_runtime(&g.root, g.systemd_cgroup) {
        Ok(cfg) => run_cell_file(&cell, &cfg),
        Err(r) => {
            eprintln!("cellos: {}", r.msg);
            r.code
        }
    })
}
