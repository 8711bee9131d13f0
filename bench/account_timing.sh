#!/usr/bin/env bash
# Known against unknown accounts, timed, for docs/server.md ("Known and unknown accounts"):
# the median (and p10, p90) time of a session start and of a refused attestation for N
# logins that exist in a real slapd and N that do not, interleaved, on SQLite and on
# PostgreSQL. The program is crates/server/examples/account_timing.rs; it starts slapd,
# PostgreSQL and the server itself (crates/testkit), so slapd and PostgreSQL must be
# installed (scripts/setup-debian). Nothing is asserted: the figures are for reading.
#
# Usage: bench/account_timing.sh [N] [sqlite|postgres|both]   (N = 300 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet -p reclaim-server --example account_timing -- "${1:-300}" "${2:-both}"
