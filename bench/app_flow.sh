#!/usr/bin/env bash
# The app's flow time: the real app under Xvfb, driven through WebDriver, from the first
# screen to the new password accepted, with a file-backed camera (frames played at 5 fps,
# the rate the liveness checks were calibrated on), against a real `reclaim serve`.
# Prints the wall time and the app process's CPU time of each run.
#   bench/app_flow.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
for i in $(seq "$runs"); do
  cargo test -q -p reclaim-app --test e2e a_first_time_reset -- --nocapture 2>&1 |
    grep 'flow time' || { echo "run $i failed" >&2; exit 1; }
done
