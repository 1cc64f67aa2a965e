#!/usr/bin/env bash
# Check Cargo.toml's rust-version against what the code and the locked dependency tree
# need, with whatever toolchain is installed (no second toolchain is downloaded).
#
#   scripts/msrv.sh [--no-clippy] [--manifest-path Cargo.toml]
#
# 1. Every package of Cargo.lock: its declared rust-version, or, when it declares none,
#    the release that introduced its edition (2018: 1.31, 2021: 1.56, 2024: 1.85), or
#    1.88 when an edition-2024 crate uses let-chains (`if let … && let …`), stabilised
#    in 1.88. pin itself is read the same way. The highest must not exceed rust-version.
# 2. clippy's incompatible_msrv (on by default, denied here): no std API newer than
#    rust-version is used.
# Exit 1 when either fails; the minimum found and the crates that set it are printed.
set -euo pipefail
cd "$(dirname "$0")/.."

clippy=yes
manifest=Cargo.toml
while [ $# -gt 0 ]; do
  case "$1" in
    --no-clippy) clippy=no ;;
    --manifest-path) manifest=$2; shift ;;
    *) echo "usage: scripts/msrv.sh [--no-clippy] [--manifest-path Cargo.toml]" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck disable=SC2016 # the Python program is in single quotes on purpose
cargo metadata --locked --format-version 1 --manifest-path "$manifest" | python3 -c '
import json, os, re, sys

EDITION = {"2015": (1, 0), "2018": (1, 31), "2021": (1, 56), "2024": (1, 85)}
LET_CHAINS = (1, 88)
# `&& let PATTERN =` inside an `if`/`while` condition.
LET_CHAIN = re.compile(r"&&\s*let\s[^=;{}]*=")

def version(text):
    parts = [int(p) for p in text.split(".")[:2]]
    return tuple(parts + [0] * (2 - len(parts)))

def uses_let_chains(manifest):
    for root, dirs, files in os.walk(os.path.dirname(manifest)):
        dirs[:] = [d for d in dirs if d not in ("target", ".git", "fuzz")]
        for name in files:
            if name.endswith(".rs"):
                try:
                    with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                        if LET_CHAIN.search(f.read()):
                            return True
                except OSError:
                    pass
    return False

metadata = json.load(sys.stdin)
root_id = metadata["resolve"]["root"]
declared = None
needs = []
for package in metadata["packages"]:
    if package["id"] == root_id:
        declared = version(package["rust_version"])
    why = "rust-version"
    # pin is judged by its code, not by the rust-version under test.
    own = package["id"] == root_id
    need = version(package["rust_version"]) if package.get("rust_version") and not own else None
    if need is None:
        need, why = EDITION[package["edition"]], "edition " + package["edition"]
    if package["edition"] == "2024" and need < LET_CHAINS and uses_let_chains(package["manifest_path"]):
        need, why = LET_CHAINS, "let-chains"
    needs.append((need, package["name"] + " " + package["version"], why))

if declared is None:
    sys.exit("msrv: Cargo.toml has no rust-version")
top = max(n for n, _, _ in needs)
setters = ["%s (%s)" % (name, why) for n, name, why in needs if n == top]
fmt = lambda v: "%d.%d" % v
print("msrv: rust-version %s; the code and %d locked packages need %s: %s"
      % (fmt(declared), len(needs) - 1, fmt(top), ", ".join(setters)))
newer = sorted(((n, name, why) for n, name, why in needs if n > declared), reverse=True)
if newer:
    for n, name, why in newer:
        print("msrv: %s needs Rust %s (%s), above rust-version %s" % (name, fmt(n), why, fmt(declared)), file=sys.stderr)
    sys.exit(1)
if top < declared:
    print("msrv: note: rust-version could be lowered to %s as far as this check sees" % fmt(top))
'

[ "$clippy" = yes ] || exit 0
# std APIs: clippy compares every std item used with rust-version.
cargo clippy --locked --all-targets --quiet --manifest-path "$manifest" -- -D clippy::incompatible_msrv
echo "msrv: clippy::incompatible_msrv: no std API newer than rust-version"
