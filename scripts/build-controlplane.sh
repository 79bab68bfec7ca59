#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-controller-manager, etcd)
# from their Go modules into a cache outside the repository, keyed by version.
#
#   scripts/build-controlplane.sh [--kube-version v1.35.4] [--etcd-version v3.6.16] [--print-dir]
#
# Environment: KUBE_VERSION, ETCD_VERSION, CALICO_MIGRATION_CACHE (default
# ~/.cache/calico-datastore-migration). With the binaries present it only checks
# them and exits. A cold build takes many minutes on two cores.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wrappers="$here/tools/controlplane"

committed_kube="$(sed -n 's/^\s*k8s.io\/kubernetes \(v[0-9.]*\).*/\1/p' "$wrappers/kubernetes/go.mod" | head -1)"
committed_etcd="$(sed -n 's/^\s*go.etcd.io\/etcd\/server\/v3 \(v[0-9.]*\).*/\1/p' "$wrappers/etcd/go.mod" | head -1)"
kube_version="${KUBE_VERSION:-$committed_kube}"
etcd_version="${ETCD_VERSION:-$committed_etcd}"
print_dir=0
while [ $# -gt 0 ]; do
  case "$1" in
    --kube-version) kube_version="$2"; shift 2 ;;
    --etcd-version) etcd_version="$2"; shift 2 ;;
    --print-dir) print_dir=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "build-controlplane: unknown argument '$1' (expected --kube-version, --etcd-version, --print-dir)" >&2; exit 2 ;;
  esac
done

cache="${CALICO_MIGRATION_CACHE:-$HOME/.cache/calico-datastore-migration}"
kube_dir="$cache/bin/kubernetes-$kube_version"
etcd_dir="$cache/bin/etcd-$etcd_version"
log() { [ "$print_dir" = 1 ] || echo "build-controlplane: $*" >&2; }

done_marker() { [ -f "$1/.complete" ] && [ "$(cat "$1/.complete")" = "$2" ]; }

if done_marker "$kube_dir" "$kube_version" && done_marker "$etcd_dir" "$etcd_version"; then
  log "kubernetes $kube_version and etcd $etcd_version already built in $cache/bin"
  if [ "$print_dir" = 1 ]; then printf '%s\n%s\n' "$kube_dir" "$etcd_dir"; fi
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
    if [ -x "$candidate" ]; then PATH="$(dirname "$candidate"):$PATH"; break; fi
  done
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-controlplane: no Go toolchain found. The test control plane is built from Go modules;" >&2
  echo "  install Go >= 1.25 (https://go.dev/doc/install or 'apt-get install golang-go') and run again." >&2
  exit 1
fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod
# Peak memory of the kube-apiserver link is the limit on small machines.
export GOMAXPROCS="${GOMAXPROCS:-$(nproc)}"

# The wrapper module for a version: the committed one, or a temporary copy
# re-pointed at another version (the version is a parameter).
wrapper_for() { # name committed wanted edit-cmd...
  local name="$1" committed="$2" wanted="$3"; shift 3
  if [ "$wanted" = "$committed" ]; then echo "$wrappers/$name"; return; fi
  local tmp; tmp="$(mktemp -d)"
  cp "$wrappers/$name/go.mod" "$wrappers/$name/go.sum" "$tmp/"
  (cd "$tmp" && "$@" && go mod tidy >&2)
  echo "$tmp"
}

build_kube() {
  local minor="${kube_version#v1.}"; minor="${minor%%.*}"
  local staging="v0.${kube_version#v1.}"
  retarget() {
    go mod edit -require="k8s.io/kubernetes@$kube_version"
    # every staging module k8s.io/<name> is replaced by its v0.<minor>.<patch> tag
    local m
    go mod edit -json | grep -o '"Old": {[^}]*}' | sed -n 's/.*"Path": "\([^"]*\)".*/\1/p' | while read -r m; do
      go mod edit -replace="$m=$m@$staging"
    done
  }
  local dir; dir="$(wrapper_for kubernetes "$committed_kube" "$kube_version" retarget)"
  local ld=""
  local key
  for key in "gitVersion=$kube_version" "gitMajor=1" "gitMinor=$minor" "gitTreeState=clean" \
             "buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
    ld="$ld -X k8s.io/component-base/version.$key -X k8s.io/client-go/pkg/version.$key"
  done
  mkdir -p "$kube_dir"
  rm -f "$kube_dir/.complete"
  log "building kube-apiserver and kube-controller-manager $kube_version (cold: 10-25 min on 2 cores) ..."
  local start=$SECONDS
  (cd "$dir" && go build -trimpath -ldflags "-s -w $ld" -o "$kube_dir/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
  echo "$kube_version" > "$kube_dir/.complete"
  log "kubernetes $kube_version built in $((SECONDS - start)) s into $kube_dir"
}

build_etcd() {
  retarget() { go mod edit -require="go.etcd.io/etcd/server/v3@$etcd_version"; }
  local dir; dir="$(wrapper_for etcd "$committed_etcd" "$etcd_version" retarget)"
  mkdir -p "$etcd_dir"
  rm -f "$etcd_dir/.complete"
  log "building etcd $etcd_version ..."
  local start=$SECONDS
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$etcd_dir/etcd" go.etcd.io/etcd/server/v3)
  echo "$etcd_version" > "$etcd_dir/.complete"
  log "etcd $etcd_version built in $((SECONDS - start)) s into $etcd_dir"
}

done_marker "$etcd_dir" "$etcd_version" || build_etcd
done_marker "$kube_dir" "$kube_version" || build_kube
if [ "$print_dir" = 1 ]; then printf '%s\n%s\n' "$kube_dir" "$etcd_dir"; fi
