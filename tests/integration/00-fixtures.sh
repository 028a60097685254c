#!/bin/bash
# 00-fixtures.sh — the test infrastructure checks itself first: fixture
# images, the three local registries, the token server and every fault-proxy
# mode (fixtures/selftest.sh prints one PASS/FAIL line per check).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
exec bash "$REPO/fixtures/selftest.sh"
