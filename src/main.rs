use clap::Parser;

fn main() {
    let args = pin::cli::Args::parse();
    let status = pin::cli::run(args);
    std::process::exit(status as i32);
}
