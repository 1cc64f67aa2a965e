#!/usr/bin/env bash
# The pre-commit hook `pin-check`: pin --check on the files being committed, with a pin
# built from this checkout's Cargo.lock.
#
# pre-commit clones pin's repository once per hook revision and runs this script from
# that clone. The first run builds pin there with `cargo build --locked --release`
# (the locked dependency tree, unlike pre-commit's `language: rust`, which runs
# `cargo install` without --locked); every later run of the same revision reuses that
# binary. Users who already have pin on PATH can use the hook `pin-check-system`
# instead, which builds nothing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$here/target}
bin="$target/release/pin"
stamp="$target/release/.pin-hook-built"

if [ ! -x "$bin" ] || [ ! -e "$stamp" ] || [ "$here/Cargo.lock" -nt "$stamp" ]; then
  echo "pin-check: building pin from $here with the locked dependency tree (once per hook revision) ..." >&2
  (cd "$here" && cargo build --locked --release --quiet --bin pin)
  touch "$stamp"
fi
exec "$bin" --check "$@"
