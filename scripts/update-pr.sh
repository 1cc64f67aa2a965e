#!/usr/bin/env bash
# Open or update one pull request that moves pinned digests to where their tags point
# now. Used by examples/github/pin-update.yml and by the action's `update` mode.
#
#   scripts/update-pr.sh [pin arguments: paths, --mirror, --config …]
#
# Run it at the top of a git checkout of the branch the pull request should target.
# It runs `pin --update --format patch`, applies the patch with `git am` on the branch
# $PIN_BRANCH (default pin/update-digests) started from the current commit, pushes
# that branch to $PIN_REMOTE (default origin) and opens a pull request with `gh`, or
# edits the one that is open, with the patch's table as the description. It does
# nothing when no digest moved, and pushes nothing when the branch already holds
# exactly this change.
#
# Environment: PIN (the pin binary, default `pin`), PIN_BRANCH, PIN_REMOTE, PIN_BASE
# (the pull request's base branch, default the current branch), GH_TOKEN for gh.
# $GITHUB_OUTPUT, when set, receives `changed=true` or `changed=false`.
set -euo pipefail

pin=${PIN:-pin}
branch=${PIN_BRANCH:-pin/update-digests}
remote=${PIN_REMOTE:-origin}

output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1" >>"$GITHUB_OUTPUT"; fi
}

top=$(git rev-parse --show-toplevel)
cd "$top"
base=${PIN_BASE:-$(git symbolic-ref --quiet --short HEAD || true)}
if [ -z "$base" ]; then
  echo "update-pr: HEAD is detached; set PIN_BASE to the branch the pull request targets" >&2
  exit 2
fi
if ! git diff --quiet HEAD --; then
  echo "update-pr: the working tree has changes; run on a clean checkout" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
patch="$work/pin.patch"

# Paths in the patch are relative to the current folder, which is the top level.
"$pin" --update --format patch "$@" >"$patch"
if [ ! -s "$patch" ]; then
  echo "update-pr: every pinned digest is current; nothing to do"
  output "changed=false"
  exit 0
fi

# A committer for `git am` where the checkout has none (CI runners).
if ! git config user.email >/dev/null; then
  export GIT_COMMITTER_NAME=${GIT_COMMITTER_NAME:-pin}
  export GIT_COMMITTER_EMAIL=${GIT_COMMITTER_EMAIL:-pin@users.noreply.github.com}
fi

start=$(git rev-parse HEAD)
git switch --quiet -C "$branch" "$start"
# --keep-cr: a CRLF file's lines keep their CR.
if ! git am --quiet --keep-cr "$patch"; then
  git am --abort || true
  git switch --quiet "$base"
  echo "update-pr: git am refused pin's patch" >&2
  exit 2
fi
subject=$(git log -1 --format=%s)
git log -1 --format=%b >"$work/body.md"
git switch --quiet "$base"

# The branch on the remote already holds this change on this base: nothing to push.
remote_tree=""
if git fetch --quiet "$remote" "+refs/heads/$branch:refs/remotes/$remote/$branch" 2>/dev/null; then
  remote_tree=$(git rev-parse "refs/remotes/$remote/$branch^{tree}")
  remote_parent=$(git rev-parse "refs/remotes/$remote/$branch^")
fi
if [ "$remote_tree" = "$(git rev-parse "$branch^{tree}")" ] && [ "$remote_parent" = "$start" ]; then
  pushed=no
else
  git push --quiet --force "$remote" "refs/heads/$branch:refs/heads/$branch"
  pushed=yes
fi

number=$(gh pr list --head "$branch" --base "$base" --state open --json number --jq '.[0].number // empty')
if [ -n "$number" ]; then
  if [ "$pushed" = yes ]; then
    gh pr edit "$number" --title "$subject" --body-file "$work/body.md"
    echo "update-pr: updated pull request #$number"
  else
    echo "update-pr: pull request #$number already proposes this change; nothing to do"
  fi
else
  gh pr create --base "$base" --head "$branch" --title "$subject" --body-file "$work/body.md"
  echo "update-pr: opened a pull request from $branch"
fi
output "changed=true"
