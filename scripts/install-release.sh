#!/usr/bin/env bash
# Download a released pin binary for this machine into DIR, after checking it against
# the release's SHA256SUMS and, where gh can, the release's build attestation.
#
#   scripts/install-release.sh REPOSITORY VERSION DIR     e.g. owner/pin v0.1.0 ~/.local/pin
#
# The action (action.yml) calls it on a cache miss. Needs curl, tar and sha256sum (or
# shasum on macOS); GH_TOKEN lets gh verify the attestation. PIN_RELEASES_URL replaces
# https://github.com/REPOSITORY/releases/download, for a mirror of the releases; plain
# HTTP is then allowed too. Against a mirror, SHA256SUMS comes from the mirror as well:
# the checksum then catches corruption, and only the attestation catches tampering.
set -euo pipefail

repository=$1
version=$2
dir=$3

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) target=x86_64-unknown-linux-musl ;;
  Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-musl ;;
  Darwin/x86_64) target=x86_64-apple-darwin ;;
  Darwin/arm64) target=aarch64-apple-darwin ;;
  *)
    echo "install-release: no pin release for $(uname -s)/$(uname -m)" >&2
    exit 1
    ;;
esac

archive="pin-$target.tar.gz"
base="${PIN_RELEASES_URL:-https://github.com/$repository/releases/download}/$version"
proto='=https'
if [ -n "${PIN_RELEASES_URL:-}" ]; then proto='=https,http'; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

curl --fail --silent --show-error --location --proto "$proto" --retry 3 \
  --output "$work/$archive" "$base/$archive"
curl --fail --silent --show-error --location --proto "$proto" --retry 3 \
  --output "$work/SHA256SUMS" "$base/SHA256SUMS"

# The archive's line of SHA256SUMS, and nothing else, must match.
expected=$(awk -v f="$archive" '$2 == f || $2 == "*" f {print $1}' "$work/SHA256SUMS")
if [ -z "$expected" ]; then
  echo "install-release: $archive is not listed in the release's SHA256SUMS" >&2
  exit 1
fi
if command -v sha256sum >/dev/null 2>&1; then
  actual=$(sha256sum "$work/$archive" | awk '{print $1}')
else
  actual=$(shasum -a 256 "$work/$archive" | awk '{print $1}')
fi
if [ "$actual" != "$expected" ]; then
  echo "install-release: $archive has SHA-256 $actual, SHA256SUMS says $expected" >&2
  exit 1
fi

# The attestation says which workflow of which repository built the archive. gh
# verifies it where it has the command (gh 2.49 and later) and a token.
if command -v gh >/dev/null 2>&1 && gh attestation --help >/dev/null 2>&1 && [ -n "${GH_TOKEN:-}" ]; then
  gh attestation verify "$work/$archive" --repo "$repository"
else
  echo "install-release: gh attestation is not available; checked the SHA-256 only" >&2
fi

mkdir -p "$dir"
tar -xzf "$work/$archive" -C "$work"
install -m 0755 "$work/pin" "$dir/pin"
"$dir/pin" --version
