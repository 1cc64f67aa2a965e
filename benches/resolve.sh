#!/bin/sh
# Resolution benchmark: 500 Dockerfiles, 200 distinct images, a token-auth registry
# behind a proxy adding LATENCY_MS (default 50) to every request; the release `pin`
# binary, dry run, default settings unless PIN_ARGS are given after `--`.
#
#   benches/resolve.sh [LATENCY_MS] [--faults] [--per-host N] [--files N] [--images N]
#                      [-- PIN_ARGS...]
#
# --faults: 10 % of all requests get 429 with Retry-After: 1, 5 % get 500 (which
# ones: a fixed random sequence, --seed N to draw another).
# --per-host N: the same lookups through the library with a per-registry cap of N.
# --files N, --images N: another size of tree (2,000 images in 5,000 files: <= 8 s).
# --signed: every image signed, and a [[trust]] rule requires it (the verify stage).
# Prints wall time, requests per distinct reference by kind and peak memory.
# Goals: <= 1.1 requests per distinct reference; at 50 ms a dry run <= 0.8 s and
# `-- --write` <= 1.0 s; faults at most 1.2 s over the clean run; < 30 MB peak memory.
set -eu
cd "$(dirname "$0")/.."

scripts/install-deps.sh
if [ ! -x /usr/bin/time ]; then
    { apt-get update -qq && apt-get install -y -qq time >/dev/null; } || echo "no /usr/bin/time: peak memory unknown" >&2
fi

cargo build --release --bin pin --example bench_resolve
exec target/release/examples/bench_resolve target/release/pin "$@"
