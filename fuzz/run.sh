#!/usr/bin/env bash
# Fuzz every target for a bounded time (not part of CI).
#   fuzz/run.sh [SECONDS_PER_TARGET]      default 60
# The corpus of each target is seeded from testdata/. Crashes land in
# fuzz/artifacts/<target>/; turn each into a regression test.
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1

seed() {
  local target=$1; shift
  mkdir -p "corpus/$target"
  for f in "$@"; do
    [ -f "$f" ] && cp "$f" "corpus/$target/$(sha256sum "$f" | cut -c1-16)"
  done
  return 0
}
shopt -s globstar nullglob
seed dockerfile ../testdata/**/*Dockerfile* ../testdata/**/*.dockerfile
seed yaml ../testdata/**/*.yaml ../testdata/**/*.yml
seed settings ../testdata/**/*.toml
mkdir -p corpus/reference
printf 'python:3.12' > corpus/reference/a
printf 'localhost:5000/a/b:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' > corpus/reference/b
printf '[::1]:5000/x' > corpus/reference/c

for target in dockerfile yaml reference settings; do
  echo "== $target ($seconds s)"
  cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=65536
done
