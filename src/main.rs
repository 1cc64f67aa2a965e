use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    pin::cli::run(pin::cli::Args::parse()).into()
}
