#!/usr/bin/env bash
# The main job of README.md: a full-stack up -> deploy -> down demo against the local
# stand-ins (the in-memory engine cloud; a moto AWS server and a real local Kubernetes control
# plane, both started by the demo).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/install-moto.sh >/dev/null
scripts/install-k8s.sh >/dev/null
cargo run --locked -p multicloud-examples --bin demo -- "$@"
