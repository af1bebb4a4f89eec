#!/usr/bin/env bash
# Builds infq at a git ref in a folder of its own, for `npm run bench -- --baseline=DIR` (the
# "before" beside the working tree's "after", in the same run) or `--infq=DIR`.
#
#   bench/build-baseline.sh [REF] [DIR]     REF defaults to HEAD; prints DIR when done
#
# The ref is exported with `git archive` (the checkout and its git state are not touched),
# node_modules is linked from this checkout, and only the server is compiled (no dashboard).
set -euo pipefail
ref=${1:-HEAD}
root=$(git rev-parse --show-toplevel)
sha=$(git -C "$root" rev-parse --short "$ref")
dir=${2:-${TMPDIR:-/tmp}/infq-baseline-$sha}
rm -rf "$dir"
mkdir -p "$dir"
git -C "$root" archive "$ref" | tar -x -C "$dir"
ln -s "$root/node_modules" "$dir/node_modules"
echo "$sha" >"$dir/BASELINE_COMMIT"
(cd "$dir" && "$root/node_modules/.bin/tsc" -p tsconfig.build.json) >&2
echo "$dir"
