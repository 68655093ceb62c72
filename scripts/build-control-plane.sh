#!/usr/bin/env bash
# Builds the real Kubernetes control plane that prtracker's tests run against: kube-apiserver,
# kube-controller-manager (for garbage collection of owned objects) and kubectl from the
# k8s.io/kubernetes Go module, etcd from go.etcd.io/etcd/server. The binaries go to a
# cache outside the repository and are reused when present, so only the first run pays for the build.
#
# Usage: scripts/build-control-plane.sh        build what is missing, print the directory
#        scripts/build-control-plane.sh --dir  print the directory only (no build)
set -euo pipefail

KUBERNETES_VERSION=v1.35.4 # k8s-openapi 0.29 covers 1.33..1.37; the crates use feature v1_35.
ETCD_VERSION=v3.6.16       # the 3.6 line that Kubernetes 1.35 runs on.
RECIPE=r1                  # bump when this script builds differently, so old caches are not reused.

cache_root=${PRTRACKER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/prtracker}
bin_dir=${PRTRACKER_CONTROL_PLANE_DIR:-$cache_root/control-plane/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION-$RECIPE}

if [[ ${1:-} == --dir ]]; then
  echo "$bin_dir"
  exit 0
fi

kubernetes_binaries=(kube-apiserver kube-controller-manager kubectl)
have_all() {
  for b in "${kubernetes_binaries[@]}" etcd; do [[ -x $bin_dir/$b ]] || return 1; done
}

if have_all; then
  echo "$bin_dir"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "error: the Go toolchain (1.25 or newer) is needed to build kube-apiserver and etcd." >&2
  echo "       install it (on Debian: apt-get install golang-go, or the Go release of your choice)" >&2
  echo "       and run scripts/build-control-plane.sh again." >&2
  exit 1
fi

started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/prtracker-control-plane.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$bin_dir"
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

echo "building ${kubernetes_binaries[*]} $KUBERNETES_VERSION (first run only; several minutes)" >&2
mkdir -p "$work/kubernetes"
(
  cd "$work/kubernetes"
  go mod init prtracker.test/control-plane >/dev/null 2>&1
  # k8s.io/kubernetes replaces its staging modules with ./staging paths, which a dependent module
  # cannot see; pin each to its published version (v0.X.Y for Kubernetes v1.X.Y) instead.
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
  staging_version=v0.${KUBERNETES_VERSION#v1.}
  grep -oE '^\s*k8s.io/[a-z0-9-]+ => ./staging' "$gomod" | awk '{print $1}' | while read -r module; do
    go mod edit -replace "$module=$module@$staging_version"
  done
  for b in "${kubernetes_binaries[@]}"; do
    go get "k8s.io/kubernetes/cmd/$b@$KUBERNETES_VERSION"
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
    go build -trimpath -ldflags="$ldflags" -o "$bin_dir/$b.partial" "k8s.io/kubernetes/cmd/$b"
  done
)

echo "building etcd $ETCD_VERSION" >&2
mkdir -p "$work/etcd"
(
  cd "$work/etcd"
  go mod init prtracker.test/etcd >/dev/null 2>&1
  cat >main.go <<'GO'
// etcd's own main is these lines around its server package.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go mod tidy
  go build -trimpath -ldflags=-s -o "$bin_dir/etcd.partial" .
)

# Rename only once everything built, so an interrupted build never looks complete.
for b in "${kubernetes_binaries[@]}" etcd; do mv "$bin_dir/$b.partial" "$bin_dir/$b"; done
echo "built the control plane in $(( $(date +%s) - started ))s into $bin_dir" >&2
echo "$bin_dir"
