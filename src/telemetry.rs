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
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
