#!/usr/bin/env bash
# The main job of README.md: the example spec (examples/stacks/shop-multicloud.yaml) on AWS
# and Azure at once, with the `multicloud` command line on the local stand-ins: moto and the
# ARM + Key Vault emulator (both paced, so that operations take time and progress shows), and
# a local Kubernetes control plane per cloud for the app. Shown in order: up with live
# progress and the outputs, the app Available and reaching the stack's own database and
# cache, down, and a sweep finding nothing left. The stand-ins stop at the end (and on any
# failure or Ctrl-C).
#
#   scripts/demo.sh                       # the example spec
#   scripts/demo.sh path/to/spec.yaml     # another spec
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
spec="${1:-examples/stacks/shop-multicloud.yaml}"

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

say "== installing the stand-ins (cached after the first run) and building multicloud"
scripts/install-moto.sh >/dev/null
# The control plane builds from the Go module proxy (minutes, once), while cargo builds.
scripts/install-k8s.sh >/dev/null &
k8s=$!
# The tests' own build (scripts/test.sh): after them, nothing is compiled again.
cargo test --workspace --all-targets --locked --no-run 2>&1 | { grep -v '^  Executable' || true; } >&2
wait "$k8s" || { echo "building the local Kubernetes control plane failed" >&2; exit 1; }
bin="$CARGO_TARGET_DIR/debug/multicloud"

state="$(mktemp -d)"
session=""
stop() {
    if [ -n "$session" ] && kill -0 "$session" 2>/dev/null; then
        kill -INT "$session" 2>/dev/null || true
        wait "$session" 2>/dev/null || true
    fi
    rm -rf "$state"
}
trap stop EXIT

mc() {
    printf '\n\033[1m$ multicloud %s\033[0m\n' "$*"
    "$bin" "$@" --cloud both --local --state "$state" -f "$spec"
}

say "== \$ multicloud local --cloud both --apps   (moto, the Azure emulator, two control planes)"
"$bin" local --cloud both --apps --state "$state" >"$state/local.log" 2>&1 &
session=$!
for _ in $(seq 1 600); do
    [ -f "$state/local-session.json" ] && break
    kill -0 "$session" 2>/dev/null || { cat "$state/local.log" >&2; exit 1; }
    sleep 0.5
done
[ -f "$state/local-session.json" ] || { echo "the stand-ins did not start" >&2; cat "$state/local.log" >&2; exit 1; }
cat "$state/local.log"

start=$(date +%s)
mc plan
mc up
mc status
mc down
swept="$(mc sweep --dry-run)"
printf '%s\n' "$swept"
if printf '%s\n' "$swept" | grep -q 'sweep found [1-9]'; then
    echo "the sweeper found resources left behind" >&2
    exit 1
fi
say "== the sweeper finds nothing left on either cloud; stopping the stand-ins"
kill -INT "$session"
wait "$session"
session=""
say "== demo finished in $(($(date +%s) - start)) s (after the stand-ins started)"
