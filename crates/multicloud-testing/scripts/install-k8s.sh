#!/usr/bin/env bash
# Builds the real local Kubernetes control plane used by multicloud-k8s's tests from the Go
# module proxy (no Docker, no downloaded binaries): kube-apiserver, kube-controller-manager and
# kube-scheduler (Kubernetes v1.37.2), etcd v3.7.3 and kwok v0.8.0 (simulated nodes). Recipe and
# measurements: ../shared/K8S-CONTROL-PLANE.md.
#
#   scripts/install-k8s.sh        # binaries in $MULTICLOUD_CACHE/k8s/<versions>/bin
#
# Idempotent: a no-op when every binary of the pinned versions is present. The build (about
# 15 minutes cold on 2 cores) uses a Go module and build cache under $MULTICLOUD_CACHE/go, never
# the checkout. Progress goes to stderr; the only line on stdout is the bin directory.
set -euo pipefail

K8S_VERSION="v1.37.2"
STAGING_VERSION="v0.37.2"
ETCD_VERSION="v3.7.3"
KWOK_VERSION="v0.8.0"

CACHE="${MULTICLOUD_CACHE:-${HOME:?HOME is not set}/.cache/multicloud}"
ROOT="$CACHE/k8s/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
BIN="$ROOT/bin"
export GOMODCACHE="${MULTICLOUD_GOMODCACHE:-$CACHE/go/mod}"
export GOCACHE="${MULTICLOUD_GOCACHE:-$CACHE/go/build}"
export GOFLAGS="-buildvcs=false -modcacherw"
export GOTOOLCHAIN=local
export CGO_ENABLED=0

log() { printf 'install-k8s: %s\n' "$*" >&2; }

BINARIES=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok)
ready() {
    for b in "${BINARIES[@]}"; do [ -x "$BIN/$b" ] || return 1; done
    [ -s "$BIN/kwok-stages.yaml" ]
}

if ready; then
    printf '%s\n' "$BIN"
    exit 0
fi
command -v go >/dev/null || { log "go is required (https://go.dev/dl)"; exit 1; }
mkdir -p "$ROOT" "$BIN" "$GOMODCACHE" "$GOCACHE"
exec 9>"$ROOT.lock"
flock 9
if ready; then
    printf '%s\n' "$BIN"
    exit 0
fi

# One wrapper module per binary: go.mod + a tools.go that blank-imports the commands.
wrapper() { # dir module-path imports...
    local dir="$1" module="$2"
    shift 2
    mkdir -p "$dir"
    {
        echo '//go:build tools'
        echo
        echo 'package tools'
        echo
        echo 'import ('
        for i in "$@"; do echo "	_ \"$i\""; done
        echo ')'
    } >"$dir/tools.go"
    printf 'module %s\n\ngo 1.26.0\n\ngodebug default=go1.26\n' "$module" >"$dir/go.mod"
}

build_kubernetes() {
    local dir="$ROOT/src/kubernetes"
    wrapper "$dir" multicloud.local/k8s \
        k8s.io/kubernetes/cmd/kube-apiserver \
        k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler
    (
        cd "$dir"
        go mod edit -require "k8s.io/kubernetes@$K8S_VERSION"
        local gomod
        gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
            sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
        # Every k8s.io staging module k8s.io/kubernetes requires at v0.0.0 gets a replace.
        for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod" | sort -u); do
            go mod edit -replace "$m=$m@$STAGING_VERSION"
        done
        log "kubernetes: go mod tidy"
        go mod tidy >&2
        log "kubernetes: go build (the long part)"
        local v=k8s.io/component-base/version
        local minor="${K8S_VERSION#v1.}"
        minor="${minor%%.*}"
        go build -ldflags="-s -w -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor" \
            -o "$BIN/" k8s.io/kubernetes/cmd/kube-apiserver \
            k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
    )
}

build_etcd() {
    local dir="$ROOT/src/etcd"
    wrapper "$dir" multicloud.local/etcd go.etcd.io/etcd/server/v3
    (
        cd "$dir"
        go mod edit -require "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
        log "etcd: go mod tidy + build"
        go mod tidy >&2
        go build -ldflags="-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
    )
}

build_kwok() {
    local dir="$ROOT/src/kwok"
    wrapper "$dir" multicloud.local/kwok sigs.k8s.io/kwok/cmd/kwok
    (
        cd "$dir"
        go mod edit -require "sigs.k8s.io/kwok@$KWOK_VERSION"
        log "kwok: go mod tidy + build"
        go mod tidy >&2
        go build -ldflags="-s -w" -o "$BIN/kwok" sigs.k8s.io/kwok/cmd/kwok
        local stages="$GOMODCACHE/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
        local out="$BIN/kwok-stages.yaml.tmp" first=1
        : >"$out"
        for s in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready \
            pod/fast/pod-complete pod/fast/pod-delete; do
            [ "$first" = 1 ] || echo '---' >>"$out"
            first=0
            cat "$stages/$s.yaml" >>"$out"
        done
        mv "$out" "$BIN/kwok-stages.yaml"
    )
}

start=$(date +%s)
[ -x "$BIN/etcd" ] || build_etcd
[ -x "$BIN/kwok" ] && [ -s "$BIN/kwok-stages.yaml" ] || build_kwok
{ [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] &&
    [ -x "$BIN/kube-scheduler" ]; } || build_kubernetes
ready || { log "build finished but binaries are missing in $BIN"; exit 1; }
log "control plane built in $(($(date +%s) - start)) s: $BIN"
printf '%s\n' "$BIN"
