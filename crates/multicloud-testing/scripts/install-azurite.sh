#!/usr/bin/env bash
# Installs Azurite (https://github.com/Azure/Azurite), Microsoft's Azure Storage emulator,
# used by the multicloud-azure Blob state tests, with the machine's Node.js (npm) into the
# cache directory, keyed by version:
#
#   scripts/install-azurite.sh      # -> $MULTICLOUD_CACHE/azurite/<version>
#   MULTICLOUD_AZURITE_DIR=/opt/azurite scripts/install-azurite.sh
#
# Idempotent: when the pinned version is installed it returns at once. Progress goes to
# stderr; the only line on stdout is the path of the `azurite-blob` executable, so callers
# can capture it: AZURITE_BLOB="$(scripts/install-azurite.sh)".
set -euo pipefail

AZURITE_VERSION="3.35.0"
CACHE="${MULTICLOUD_CACHE:-${HOME:?HOME is not set}/.cache/multicloud}"
DIR="${MULTICLOUD_AZURITE_DIR:-$CACHE/azurite/$AZURITE_VERSION}"
BIN="$DIR/node_modules/.bin/azurite-blob"
STAMP="$DIR/.installed-$AZURITE_VERSION"

log() { printf 'install-azurite: %s\n' "$*" >&2; }

ready() { [ -x "$BIN" ] && [ -f "$STAMP" ]; }

# Fast path, before taking any lock.
if ready; then
    printf '%s\n' "$BIN"
    exit 0
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "Node.js and npm are required to install Azurite $AZURITE_VERSION (Node 18 or newer)."
    log "Install them first, e.g.:"
    log "    sudo apt-get install -y nodejs npm   # Debian/Ubuntu"
    log "    brew install node                    # macOS"
    log "or point MULTICLOUD_AZURITE_BLOB at an azurite-blob executable."
    exit 1
fi

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 18 ]; then
    log "Azurite $AZURITE_VERSION needs Node.js 18 or newer; found $(node --version)."
    exit 1
fi

mkdir -p "$DIR"

# Serialise concurrent installs (several test binaries may start at once).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$DIR.lock"
    flock 9
    if ready; then
        printf '%s\n' "$BIN"
        exit 0
    fi
fi

log "installing azurite@$AZURITE_VERSION into $DIR (about 190 MB)"
# A package.json of our own keeps npm from walking up into some other project.
[ -f "$DIR/package.json" ] ||
    printf '{"name":"multicloud-azurite","private":true}\n' >"$DIR/package.json"
npm install --prefix "$DIR" --no-audit --no-fund --no-save --loglevel=error \
    "azurite@$AZURITE_VERSION" >&2

if [ ! -x "$BIN" ]; then
    log "npm finished but $BIN does not exist"
    exit 1
fi
touch "$STAMP"
log "azurite $AZURITE_VERSION ready"
printf '%s\n' "$BIN"
