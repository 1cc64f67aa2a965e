//! The `pin` binary: parse the command line and run it; everything else is the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    pin::cli::run(pin::cli::Args::parse()).into()
}
