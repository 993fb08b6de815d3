//! Logging setup: `tracing` to stderr, `LEAKGATE_LOG` or `-v` to change the level.

use tracing_subscriber::EnvFilter;

/// Starts logging. Warnings by default; `-v` info, `-vv` debug.
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter =
        EnvFilter::try_from_env("LEAKGATE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colours only on a terminal: the hook's stderr goes to the pusher through git, the
    // service's to a log file or journal.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
