#!/usr/bin/env bash
# The test command of README.md: installs the local stand-ins (moto, Azurite, the Kubernetes
# control plane) and runs every test of the workspace, unit, integration and doc tests. Tests
# that need a stand-in start it themselves; none is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/install-moto.sh >/dev/null
scripts/install-azurite.sh >/dev/null
# The control plane builds from the Go module proxy (about 15 minutes once, cached by
# version); it builds while cargo compiles, and the tests start only once both are done.
scripts/install-k8s.sh >/dev/null &
k8s=$!
cargo test --workspace --all-targets --locked --no-run "$@"
wait "$k8s" || { echo "building the local Kubernetes control plane failed" >&2; exit 1; }
cargo test --workspace --all-targets --locked "$@"
cargo test --workspace --doc --locked
# The crate docs build without a broken or private link.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked
