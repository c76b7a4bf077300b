#!/usr/bin/env bash
# The figures of issue 18 §2 on the local stand-ins (moto, the ARM + Key Vault emulator, a
# local Kubernetes control plane for the app): kill points, locks, concurrent ephemeral
# environments, faults and a secret scan, on AWS and Azure, printed as one table. Exits
# non-zero only when a correctness target is missed; timings are printed, never asserted.
#
#   scripts/resilience.sh               # the full run
#   scripts/resilience.sh --reduced     # CI's short run (a few minutes)
#   scripts/resilience.sh --reduced --cloud aws --only kill,locks --seed 7
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

scripts/install-moto.sh >/dev/null
# The control plane builds from the Go module proxy (minutes, once), while cargo builds.
scripts/install-k8s.sh >/dev/null &
k8s=$!
# The tests' own build (scripts/test.sh): after them, nothing is compiled again.
cargo test --workspace --all-targets --locked --no-run 2>&1 | { grep -v '^  Executable' || true; } >&2
wait "$k8s" || { echo "building the local Kubernetes control plane failed" >&2; exit 1; }
exec "$CARGO_TARGET_DIR/debug/resilience" "$@"
