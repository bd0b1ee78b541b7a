#!/usr/bin/env bash
# Type-checks the k6 scripts (loadtest/k6.sh runs them): installs the pinned TypeScript
# and @types/k6 from loadtest/k6/package-lock.json, then runs tsc over every script and lib/ file.
# Exits non-zero on any type error. Run from anywhere: loadtest/check.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v npm >/dev/null || { echo "check.sh: npm is needed (Debian: apt-get install -y npm)" >&2; exit 1; }
npm ci --prefix loadtest/k6 --no-audit --no-fund --loglevel=error
cd loadtest/k6
npx --no-install tsc --noEmit --checkJs --allowJs -p .
echo "check.sh: k6 scripts type-check"
