#!/usr/bin/env bash
# The demo, end to end on a fresh machine: installs the local registry if missing,
# builds pin, starts a registry on 127.0.0.1, seeds it with the images that
# testdata/demo/ refers to, and runs pin on a copy of testdata/demo/ with --mirror.
#   scripts/demo.sh [--color=auto|always|never]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --locked --quiet --bin pin --example demo
target/debug/examples/demo target/debug/pin "${1:---color=auto}"
