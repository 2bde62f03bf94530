//! cellos-supervisor SPEC.json: run one ExecutionCell to completion and exit
//! with its exit code. Configured by CELLOS_* variables (see README).

use cellos_runtime::supervisor::{self, Config, exit};

fn main() {
    cellos_runtime::trace::init(false);
    let mut args = std::env::args_os().skip(1);
    let (Some(spec), None) = (args.next(), args.next()) else {
        eprintln!("usage: cellos-supervisor SPEC.json");
        std::process::exit(exit::REFUSED);
    };
    if spec == "--version" {
        print!("{}", cellos_runtime::version_text());
        return;
    }
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(r) => {
            eprintln!("cellos: {}", r.msg);
            std::process::exit(r.code);
        }
    };
    cellos_runtime::runtime::warmup::start();
    // The built-in engine forks into the cell: seal the binary first (CVE-2019-5736).
    if cfg.backend == supervisor::Backend::Builtin
        && let Err(e) = cellos_runtime::runtime::seal::ensure_sealed()
    {
        eprintln!("cellos: {}", cellos_runtime::error::chain_message(&e));
        std::process::exit(exit::REFUSED);
    }
    std::process::exit(supervisor::run_cell_file(std::path::Path::new(&spec), &cfg));
}
