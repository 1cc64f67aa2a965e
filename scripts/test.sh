#!/usr/bin/env bash
# The test command: install what is missing, then run every test.
#   scripts/test.sh [cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo test --locked --workspace "$@"
