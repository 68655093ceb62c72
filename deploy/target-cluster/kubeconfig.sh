#!/bin/sh
# Prints a kubeconfig for prtracker's drift checks in a target cluster: the cluster that kubectl
# reaches with the flags given (e.g. --context staging), as the ServiceAccount
# prtracker-system/prtracker-drift that `kubectl apply -k deploy/target-cluster/` creates there.
#
# Usage: deploy/target-cluster/kubeconfig.sh [kubectl flags] > staging.kubeconfig
# Needs kubectl and base64. SERVER=https://... overrides the apiserver's URL when the operator
# reaches the cluster at another address than you do.
set -eu

namespace=prtracker-system
secret=prtracker-drift-token

# The cluster's token controller fills the Secret moments after it is created.
token=
tries=0
while :; do
  token=$(kubectl "$@" -n "$namespace" get secret "$secret" -o 'jsonpath={.data.token}')
  [ -n "$token" ] && break
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then
    echo "error: secret $namespace/$secret has no token after 30s; apply deploy/target-cluster/ first" >&2
    echo "       (kubectl $* apply -k deploy/target-cluster/), and check the cluster's controller-manager" >&2
    exit 1
  fi
  sleep 1
done
token=$(printf '%s' "$token" | base64 -d)
ca=$(kubectl "$@" -n "$namespace" get secret "$secret" -o 'jsonpath={.data.ca\.crt}')
if [ -z "$ca" ]; then
  ca=$(kubectl "$@" config view --minify --raw -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}')
fi
server=${SERVER:-$(kubectl "$@" config view --minify -o 'jsonpath={.clusters[0].cluster.server}')}
if [ -z "$server" ]; then
  echo "error: no apiserver URL in the kubeconfig; set SERVER=https://..." >&2
  exit 1
fi

cat <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: target
    cluster:
      server: $server
      certificate-authority-data: $ca
users:
  - name: prtracker-drift
    user:
      token: $token
contexts:
  - name: prtracker-drift
    context:
      cluster: target
      user: prtracker-drift
current-context: prtracker-drift
KUBECONFIG
