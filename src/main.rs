//! The `leakgate` command: parses arguments and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = leakgate::cli::Cli::parse();
    leakgate::telemetry::init(cli.verbose);
    match leakgate::run(cli) {
        Ok(code) => code.into(),
        Err(error) => {
            eprintln!("leakgate: error: {error:#}");
            leakgate::Exit::Error.into()
        }
    }
}
