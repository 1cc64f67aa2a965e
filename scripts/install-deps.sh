#!/usr/bin/env bash
# Install what pin's tests and demo need and a fresh machine lacks: Debian's
# docker-registry (the distribution registry), git, and the attr and acl tools
# (setfattr, getfattr, setfacl, getfacl) that the tests of kept file attributes use. The package would start its
# own registry service on :5000 on every interface; a policy-rc.d that exits 101 stops
# that, and is removed again afterwards.
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v setfattr >/dev/null 2>&1 || missing+=(attr)
command -v setfacl >/dev/null 2>&1 || missing+=(acl)
command -v man >/dev/null 2>&1 || missing+=(man-db)
# Python tools the tests run: jsonschema (with rfc3987 for URI formats) validates
# SARIF logs against the official schema (tests/sarif.rs); pre-commit runs pin's
# hooks in a throwaway repository (tests/bot.rs). They come from PyPI, with pip.
command -v python3 >/dev/null 2>&1 || missing+=(python3)
{ command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; } || missing+=(python3-pip)
python_tools() {
  local wanted=()
  python3 -c 'import jsonschema, rfc3987' >/dev/null 2>&1 || wanted+=(jsonschema rfc3987)
  python3 -c 'import pre_commit' >/dev/null 2>&1 || wanted+=(pre-commit)
  [ ${#wanted[@]} -eq 0 ] && return 0
  echo "installing ${wanted[*]} from PyPI ..." >&2
  python3 -m pip install --quiet "${wanted[@]}" \
    || python3 -m pip install --quiet --break-system-packages "${wanted[@]}"
}
[ ${#missing[@]} -eq 0 ] && { python_tools; exit 0; }

sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install as root: apt-get install -y ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi

policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ -n "$created_policy" ]; then $sudo rm -f "$policy"; fi; }
trap cleanup EXIT

echo "installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Belt and braces: should a service have started anyway, stop it.
$sudo systemctl stop docker-registry >/dev/null 2>&1 || true
python_tools
