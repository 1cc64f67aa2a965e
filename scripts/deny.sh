#!/usr/bin/env bash
# Check pin's dependencies against deny.toml: licences, banned crates, sources.
# Works offline once cargo-deny is installed (the advisories check, which needs the
# advisory database, is not run).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deny >/dev/null 2>&1 || cargo install --locked cargo-deny
# cargo-deny reads metadata for every target: fetch all crates once, then check offline.
cargo fetch --locked --quiet
cargo deny --offline check licenses bans sources
