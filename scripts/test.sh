#!/usr/bin/env bash
# The README's test command: everything CI checks, in order of cost.
set -euo pipefail
cd "$(dirname "$0")/.."
npx prettier --check .
npx eslint . --max-warnings 0
npx tsc -p tsconfig.json --noEmit
npx madge --circular --extensions ts --ts-config tsconfig.json src
# The durability test starts the built server as a child process.
npm run build --silent
npx vitest run "$@"
