#!/bin/sh
# Scan and write benchmark: `pin --check` over a 100,000-file tree (N files if given),
# offline; then the write phase over 500 and 5,000 files. The release build.
#
#   benches/scan.sh [N]
#
# Prints the best wall time of three runs of each.
# Goal: <= 1.5 s for the 100,000-file --check on 2 cores.
set -eu
cd "$(dirname "$0")/.."

cargo build --release --locked --bin pin --example bench_scan
exec target/release/examples/bench_scan target/release/pin "$@"
