#!/usr/bin/env bash
# Builds the real Kubernetes control plane that prtracker's tests run against: kube-apiserver,
# kube-controller-manager (for garbage collection of owned objects) and kubectl from the
# k8s.io/kubernetes Go module, etcd from go.etcd.io/etcd/server; and, when asked, helm
# (helm.sh/helm/v3), which renders the chart under deploy/helm/ in the packaging tests and charts
# that are targets, and kustomize (sigs.k8s.io/kustomize/kustomize/v5), which builds targets holding
# a kustomization: the versions the image ships (the Dockerfile pins the same; a packaging test holds
# them equal). The binaries go to a cache outside the repository and are reused when present (each
# one: a missing one is built alone), so only the first run pays for the build.
#
# Usage: scripts/build-control-plane.sh                    build what is missing, print the directory
#        scripts/build-control-plane.sh --with-helm        the same, and helm
#        scripts/build-control-plane.sh --with-kustomize   the same, and kustomize (both flags may be
#                                                          given; scripts/test.sh gives both)
#        scripts/build-control-plane.sh --dir              print the directory only (no build)
set -euo pipefail

KUBERNETES_VERSION=v1.35.4 # k8s-openapi 0.29 covers 1.33..1.37; the crates use feature v1_35.
ETCD_VERSION=v3.6.16       # the 3.6 line that Kubernetes 1.35 runs on.
HELM_VERSION=v3.22.0       # renders deploy/helm/prtracker; any v3 does; needs Go 1.26 (fetched if older).
KUSTOMIZE_VERSION=v5.8.2   # builds kustomized targets; the newest asking no newer Go than helm (1.26).
RECIPE=r1                  # bump when this script builds differently, so old caches are not reused.

cache_root=${PRTRACKER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/prtracker}
bin_dir=${PRTRACKER_CONTROL_PLANE_DIR:-$cache_root/control-plane/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION-$RECIPE}

usage="usage: $0 [--with-helm] [--with-kustomize] | $0 --dir"
with_helm=false
with_kustomize=false
if [[ ${1:-} == --dir ]]; then
  [[ $# == 1 ]] || { echo "$usage" >&2; exit 2; }
  echo "$bin_dir"
  exit 0
fi
for arg in "$@"; do
  case $arg in
    --with-helm) with_helm=true ;;
    --with-kustomize) with_kustomize=true ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done

kubernetes_binaries=(kube-apiserver kube-controller-manager kubectl)
have() {
  for b in "$@"; do [[ -x $bin_dir/$b ]] || return 1; done
}

wanted=("${kubernetes_binaries[@]}" etcd)
if $with_helm; then wanted+=(helm); fi
if $with_kustomize; then wanted+=(kustomize); fi
if have "${wanted[@]}"; then
  echo "$bin_dir"
  exit 0
fi

# Go 1.21 and newer fetch the toolchain a module asks for (go.mod says 1.25 here) from the module
# proxy by themselves. An older Go, or none, gets a current toolchain the same way: as a module.
GO_BOOTSTRAP_TOOLCHAIN=go1.25.4
go_bin=go
if ! command -v go >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
    echo "Go is missing: installing Debian's golang-go to bootstrap a current toolchain" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
  else
    echo "error: the Go toolchain is needed to build kube-apiserver and etcd; install Go 1.21 or newer" >&2
    echo "       (on Debian, as root: apt-get install golang-go) and run scripts/build-control-plane.sh again" >&2
    exit 1
  fi
fi
go_minor=$(go version | sed -nE 's/.*go1\.([0-9]+).*/\1/p')
if (( ${go_minor:-0} < 21 )); then
  case $(uname -m) in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  toolchain=golang.org/toolchain@v0.0.1-$GO_BOOTSTRAP_TOOLCHAIN.linux-$arch
  echo "Go $(go version) is too old to build Kubernetes; fetching $toolchain" >&2
  toolchain_dir=$(cd / && GOFLAGS= go mod download -json "$toolchain" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  # Module files are unpacked read-only and without execute bits: copy the toolchain out, as the go
  # command itself does when it switches toolchains.
  goroot=$cache_root/$GO_BOOTSTRAP_TOOLCHAIN
  if [[ ! -x $goroot/bin/go ]]; then
    rm -rf "$goroot.partial" && cp -r "$toolchain_dir" "$goroot.partial" && chmod -R u+w "$goroot.partial"
    chmod +x "$goroot.partial"/bin/* "$goroot.partial"/pkg/tool/*/*
    mv "$goroot.partial" "$goroot"
  fi
  go_bin=$goroot/bin/go
fi
export GOTOOLCHAIN=auto

started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/prtracker-control-plane.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$bin_dir"
# The binaries are what is kept. Go's module and build caches for them come to about 5 GB, needed
# only while building: they live in the scratch directory and go with it, which leaves a fresh
# machine (CI) that much more disk for the Rust build. -modcacherw lets them be removed.
export GOCACHE=$work/go-build GOMODCACHE=$work/go-mod
export GOFLAGS="-mod=mod -modcacherw" GOWORK=off CGO_ENABLED=0

build_kubernetes() {
echo "building ${kubernetes_binaries[*]} $KUBERNETES_VERSION (first run only; several minutes)" >&2
mkdir -p "$work/kubernetes"
(
  cd "$work/kubernetes"
  "$go_bin" mod init prtracker.test/control-plane >/dev/null 2>&1
  # k8s.io/kubernetes replaces its staging modules with ./staging paths, which a dependent module
  # cannot see; pin each to its published version (v0.X.Y for Kubernetes v1.X.Y) instead.
  gomod=$("$go_bin" mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
  staging_version=v0.${KUBERNETES_VERSION#v1.}
  grep -oE '^\s*k8s.io/[a-z0-9-]+ => ./staging' "$gomod" | awk '{print $1}' | while read -r module; do
    "$go_bin" mod edit -replace "$module=$module@$staging_version"
  done
  for b in "${kubernetes_binaries[@]}"; do
    "$go_bin" get "k8s.io/kubernetes/cmd/$b@$KUBERNETES_VERSION"
  done
  # Stamp the release into the binaries as Kubernetes' own build does, so /version and kubectl tell it.
  minor=${KUBERNETES_VERSION#v1.}
  minor=${minor%%.*}
  ldflags="-s"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for b in "${kubernetes_binaries[@]}"; do
    "$go_bin" build -trimpath -ldflags="$ldflags" -o "$bin_dir/$b.partial" "k8s.io/kubernetes/cmd/$b"
  done
)

echo "building etcd $ETCD_VERSION" >&2
mkdir -p "$work/etcd"
(
  cd "$work/etcd"
  "$go_bin" mod init prtracker.test/etcd >/dev/null 2>&1
  cat >main.go <<'GO'
// etcd's own main is these lines around its server package.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  "$go_bin" get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  "$go_bin" mod tidy
  "$go_bin" build -trimpath -ldflags=-s -o "$bin_dir/etcd.partial" .
)

# Rename only once everything built, so an interrupted build never looks complete.
for b in "${kubernetes_binaries[@]}" etcd; do mv "$bin_dir/$b.partial" "$bin_dir/$b"; done
}

build_helm() {
echo "building helm $HELM_VERSION" >&2
mkdir -p "$work/helm"
(
  cd "$work/helm"
  "$go_bin" mod init prtracker.test/helm >/dev/null 2>&1
  "$go_bin" get "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  # Stamp the release, as helm's Makefile does, so `helm version` tells it.
  "$go_bin" build -trimpath -ldflags="-s -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    -o "$bin_dir/helm.partial" helm.sh/helm/v3/cmd/helm
)
mv "$bin_dir/helm.partial" "$bin_dir/helm"
}

build_kustomize() {
echo "building kustomize $KUSTOMIZE_VERSION" >&2
mkdir -p "$work/kustomize"
(
  cd "$work/kustomize"
  "$go_bin" mod init prtracker.test/kustomize >/dev/null 2>&1
  "$go_bin" get "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  # Stamp the release, as kustomize's release build does, so `kustomize version` tells it.
  "$go_bin" build -trimpath \
    -ldflags="-s -X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE_VERSION -X sigs.k8s.io/kustomize/api/provenance.buildDate=1970-01-01T00:00:00Z" \
    -o "$bin_dir/kustomize.partial" sigs.k8s.io/kustomize/kustomize/v5
)
mv "$bin_dir/kustomize.partial" "$bin_dir/kustomize"
}

have "${kubernetes_binaries[@]}" etcd || build_kubernetes
if $with_helm; then have helm || build_helm; fi
if $with_kustomize; then have kustomize || build_kustomize; fi
echo "built the control plane in $(( $(date +%s) - started ))s into $bin_dir" >&2
echo "$bin_dir"
