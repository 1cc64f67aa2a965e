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
[ ${#missing[@]} -eq 0 ] && exit 0

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
cleanup() { [ -n "$created_policy" ] && $sudo rm -f "$policy"; }
trap cleanup EXIT

echo "installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Belt and braces: should a service have started anyway, stop it.
$sudo systemctl stop docker-registry >/dev/null 2>&1 || true
