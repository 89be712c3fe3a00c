#!/usr/bin/env bash
# The Next.js example front end (examples/nextjs): install its packages from its lockfile, then
# lint, type-check and build it. tests/webapp/test_ui_nextjs.py runs the build in a browser.
# Without Node.js it says so and does nothing (the browser test then skips).
set -euo pipefail
cd "$(dirname "$0")/../examples/nextjs"
export NEXT_TELEMETRY_DISABLED=1
# Left unset, the build reads the backend's address when it starts (the browser test's is a
# free port); set at build time, it would be fixed in the build.
unset NEXT_PUBLIC_API_URL
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "scripts/nextjs.sh: Node.js 20.9+ and npm are not installed: the Next.js example is NOT checked." >&2
    exit 0
fi
# `npm ci` starts from an empty node_modules each time (~20 s): skipped while the packages
# installed are the lockfile's, as the stamp it leaves says.
stamp=node_modules/.lockfile.sha256
if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum package-lock.json)" ]; then
    npm ci --no-audit --no-fund
    sha256sum package-lock.json >"$stamp"
fi
npm run --silent gen:api -- --check
npm run lint
npm run typecheck
npm run build
