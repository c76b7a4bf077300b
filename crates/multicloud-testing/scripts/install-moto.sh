#!/usr/bin/env bash
# Installs moto (https://github.com/getmoto/moto), the local AWS stand-in used by the
# multicloud-aws integration tests, into a Python virtual environment.
#
#   scripts/install-moto.sh            # venv at $HOME/.cache/multicloud/venv
#   MULTICLOUD_MOTO_VENV=/opt/moto scripts/install-moto.sh
#
# Idempotent: when the venv already imports moto.server at the pinned version it returns
# at once. Progress goes to stderr; the only line on stdout is the venv path, so callers
# can capture it: VENV="$(scripts/install-moto.sh)".
set -euo pipefail

MOTO_VERSION="5.2.5"
VENV="${MULTICLOUD_MOTO_VENV:-${HOME:?HOME is not set}/.cache/multicloud/venv}"

log() { printf 'install-moto: %s\n' "$*" >&2; }

moto_ready() {
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" - "$MOTO_VERSION" >/dev/null 2>&1 <<'EOF'
import sys
import moto
import moto.server  # needs the [server] extra (flask, werkzeug, ...)
sys.exit(0 if moto.__version__ == sys.argv[1] else 1)
EOF
}

# Fast path, before taking any lock.
if moto_ready; then
    printf '%s\n' "$VENV"
    exit 0
fi

mkdir -p "$(dirname "$VENV")"

# Serialise concurrent installs (several test binaries may start at once).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENV.lock"
    flock 9
    if moto_ready; then
        printf '%s\n' "$VENV"
        exit 0
    fi
fi

if ! command -v python3 >/dev/null 2>&1; then
    log "python3 is not installed. Install it first, e.g.:"
    log "    sudo apt-get install -y python3 python3-venv   # Debian/Ubuntu"
    log "    brew install python                           # macOS"
    exit 1
fi

venv_hint() {
    log "could not create a virtual environment: the Python venv module (with ensurepip)"
    log "is not available. Install it and run this script again:"
    log "    sudo apt-get install -y python3-venv   # Debian/Ubuntu"
}

create_venv() {
    log "creating virtual environment at $VENV"
    local existed=0
    [ -e "$VENV" ] && existed=1
    if python3 -m venv "$VENV" >&2; then
        return 0
    fi
    # Remove only what this attempt created, never a directory that was there before.
    if [ "$existed" = 0 ]; then
        rm -rf "$VENV"
    fi
    return 1
}

if [ ! -x "$VENV/bin/python" ] && ! create_venv; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        log "python3-venv seems to be missing; installing it with apt-get (running as root)"
        pyver="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2 || true
        apt-get install -y -qq python3-venv "python$pyver-venv" >&2 ||
            apt-get install -y -qq python3-venv >&2 || true
        if ! create_venv; then
            venv_hint
            exit 1
        fi
    else
        venv_hint
        exit 1
    fi
fi

log "installing moto[server]==$MOTO_VERSION into $VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
    "moto[server]==$MOTO_VERSION" >&2

if ! moto_ready; then
    log "moto was installed but 'import moto.server' still fails in $VENV"
    exit 1
fi

log "moto $MOTO_VERSION ready"
printf '%s\n' "$VENV"
