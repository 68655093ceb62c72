#!/bin/sh
# Prints a kubeconfig for prtracker's drift checks in a target cluster: the cluster that kubectl
# reaches with the flags given (e.g. --context staging), as the ServiceAccount
# prtracker-system/prtracker-drift that `kubectl apply -k deploy/target-cluster/` creates there.
#
# Usage: deploy/target-cluster/kubeconfig.sh [kubectl flags] > staging.kubeconfig  (see the README)
# Needs only kubectl. SERVER=https://... overrides the apiserver's URL when the operator reaches the
# cluster at another address than you do; TOKEN_WAIT (seconds, default 30) bounds the wait for the
# cluster to mint the token.
set -eu

namespace=prtracker-system
secret=prtracker-drift-token

# The token, decoded by kubectl itself (no base64 tool needed); empty while it is not there yet.
token_of_secret() {
  kubectl "$@" -n "$namespace" get secret "$secret" \
    -o 'go-template={{with .data.token}}{{base64decode .}}{{end}}' 2>/dev/null || true
}

# The cluster's token controller fills the Secret moments after it is created.
wait=${TOKEN_WAIT:-30}
token=$(token_of_secret "$@")
tries=0
while [ -z "$token" ]; do
  tries=$((tries + 1))
  if [ "$tries" -ge "$wait" ]; then
    # Say what kubectl says (a wrong context, Unauthorized, NotFound), then what to do.
    kubectl "$@" -n "$namespace" get secret "$secret" -o name >/dev/null || true
    echo "error: no token in secret $namespace/$secret after ${wait}s." >&2
    echo "       Apply deploy/target-cluster/ to that cluster first (kubectl $* apply -k deploy/target-cluster/);" >&2
    echo "       if it is there, the cluster's controller-manager is not minting service-account tokens." >&2
    exit 1
  fi
  sleep 1
  token=$(token_of_secret "$@")
done

# The CA that verifies the apiserver at $server, base64 as a kubeconfig holds it. Your kubeconfig's
# is known to verify the URL it names (--flatten inlines a CA file); the cluster's own root CA, from
# the token Secret, serves when SERVER names another address, or your kubeconfig has none.
kubeconfig_ca=$(kubectl "$@" config view --minify --flatten -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}')
cluster_ca=$(kubectl "$@" -n "$namespace" get secret "$secret" -o 'jsonpath={.data.ca\.crt}')
if [ -n "${SERVER:-}" ]; then
  ca=${cluster_ca:-$kubeconfig_ca}
else
  ca=${kubeconfig_ca:-$cluster_ca}
fi
server=${SERVER:-$(kubectl "$@" config view --minify -o 'jsonpath={.clusters[0].cluster.server}')}
if [ -z "$server" ]; then
  echo "error: no apiserver URL in your kubeconfig; set SERVER=https://..." >&2
  exit 1
fi
if [ -z "$ca" ]; then
  echo "error: no CA certificate for $server (neither in $namespace/$secret nor in your kubeconfig)" >&2
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
