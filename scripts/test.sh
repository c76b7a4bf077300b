#!/usr/bin/env bash
# The test command of README.md: installs the local stand-ins (moto, Azurite) and runs every
# test of the workspace, unit, integration and doc tests. Tests that need a stand-in start it
# themselves; none is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/install-moto.sh >/dev/null
scripts/install-azurite.sh >/dev/null
cargo test --workspace --all-targets --locked "$@"
cargo test --workspace --doc --locked
