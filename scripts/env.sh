# Sourced by the project's scripts: caches outside the checkout so repeated runs are fast,
# while a fresh machine still works (everything is created on first use).
export MULTICLOUD_CACHE="${MULTICLOUD_CACHE:-$HOME/.cache/multicloud}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$MULTICLOUD_CACHE/target}"
export MULTICLOUD_MOTO_VENV="${MULTICLOUD_MOTO_VENV:-$MULTICLOUD_CACHE/venv}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# 2-core machines: one link at a time keeps memory and time predictable.
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
mkdir -p "$MULTICLOUD_CACHE"
