#!/usr/bin/env bash
# A private Kubernetes control plane on loopback for the tests: etcd, kube-apiserver (TLS, token
# authentication, RBAC) and kube-controller-manager (Job, TTL and garbage-collector controllers),
# plus the test kubelet (tests/infra/kubelet.py) that runs pods as local processes.
#
#   tests/infra/k8s.sh build    build the binaries once per pinned version (cached outside the repo)
#   tests/infra/k8s.sh start    build if needed, start everything; writes $STATE/env.sh for the tests
#   tests/infra/k8s.sh stop     stop everything this script started
#   tests/infra/k8s.sh status   print what is running
#   tests/infra/k8s.sh check-stopped   fail if any component of this control plane is still running
#
# The versions are the ones pinned in tests/infra/k8s/controlplane/go.mod and k8s/etcd/go.mod.
# After start the namespace $NAMESPACE holds the Role README.md documents, bound to the user of
# $STATE/kubeconfig (exported as KUBECONFIG by env.sh); $STATE/admin.kubeconfig is cluster-admin.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STATE=${JOBDECK_K8S_STATE:-/tmp/jobdeck-k8s}
CACHE=${JOBDECK_K8S_CACHE:-/var/cache/jobdeck-k8s}
APISERVER_PORT=${JOBDECK_K8S_APISERVER_PORT:-16443}
ETCD_PORT=${JOBDECK_K8S_ETCD_PORT:-16379}
ETCD_PEER_PORT=${JOBDECK_K8S_ETCD_PEER_PORT:-16380}
KCM_PORT=${JOBDECK_K8S_KCM_PORT:-16257}
KUBELET_PORT=${JOBDECK_K8S_KUBELET_PORT:-16250}
PYTHON=${JOBDECK_K8S_PYTHON:-$REPO/.venv/bin/python}
NAMESPACE=jobdeck
USER_NAME=jobdeck-tester
NODE=jobdeck-node
COMPONENTS=(etcd kube-apiserver kube-controller-manager kubelet) # started in this order

# shellcheck source=tests/infra/daemons.sh
source "$HERE/daemons.sh"

log() { printf '[k8s] %s\n' "$*" >&2; }

pinned() { # pinned GO_MOD MODULE: the version go.mod requires
    awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1"
}

K8S_VERSION=$(pinned "$HERE/k8s/controlplane/go.mod" k8s.io/kubernetes)
ETCD_VERSION=$(pinned "$HERE/k8s/etcd/go.mod" go.etcd.io/etcd/server/v3)
BIN=$CACHE/kubernetes-$K8S_VERSION
ETCD_BIN=$CACHE/etcd-$ETCD_VERSION

build() {
    command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin # where Go's own archive installs it
    command -v go >/dev/null || { log "no Go toolchain on PATH (Go 1.26 is needed to build the control plane)"; return 1; }
    if [[ ! -x $ETCD_BIN/etcd ]]; then
        log "building etcd $ETCD_VERSION into $ETCD_BIN"
        mkdir -p "$ETCD_BIN"
        (cd "$HERE/k8s/etcd" && go build -mod=readonly -trimpath -ldflags '-s -w' -o "$ETCD_BIN/etcd.partial" .)
        mv "$ETCD_BIN/etcd.partial" "$ETCD_BIN/etcd"
    fi
    if [[ ! -x $BIN/kube-apiserver || ! -x $BIN/kube-controller-manager ]]; then
        log "building kube-apiserver and kube-controller-manager $K8S_VERSION into $BIN (a few minutes the first time)"
        local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
        local stamp="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
        stamp+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
        mkdir -p "$BIN/partial"
        (cd "$HERE/k8s/controlplane" && go build -mod=readonly -trimpath -ldflags "-s -w $stamp" -o "$BIN/partial/" \
            k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
        mv "$BIN/partial/kube-apiserver" "$BIN/partial/kube-controller-manager" "$BIN/"
        rmdir "$BIN/partial"
    fi
}

certificate() { # certificate NAME SUBJECT [SAN]: a key and a certificate signed by the state's CA
    local name=$1 subject=$2 san=${3:-} pki=$STATE/pki
    openssl genrsa -out "$pki/$name.key" 2048 2>/dev/null
    openssl req -new -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr" 2>/dev/null
    {
        echo "basicConstraints=CA:FALSE"
        echo "keyUsage=digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=serverAuth,clientAuth"
        [[ -z $san ]] || echo "subjectAltName=$san"
    } >"$pki/$name.ext"
    openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
        -days 7 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
    rm -f "$pki/$name.csr" "$pki/$name.ext"
}

make_pki() {
    local pki=$STATE/pki
    rm -rf "$pki"
    mkdir -p "$pki"
    chmod 700 "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 7 \
        -subj "/CN=jobdeck-test-ca" 2>/dev/null
    local loopback="IP:127.0.0.1,DNS:localhost"
    certificate etcd "/CN=etcd" "$loopback"
    certificate apiserver "/CN=kube-apiserver" "$loopback,DNS:kubernetes,DNS:kubernetes.default,IP:10.96.0.1"
    certificate apiserver-etcd "/CN=kube-apiserver-etcd-client"
    certificate apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client"
    certificate kubelet "/CN=$NODE" "$loopback"
    openssl genrsa -out "$pki/service-account.key" 2048 2>/dev/null
    openssl rsa -in "$pki/service-account.key" -pubout -out "$pki/service-account.pub" 2>/dev/null
}

make_tokens() { # one random bearer token per identity, in the API server's token file
    local who
    : >"$STATE/tokens.csv"
    chmod 600 "$STATE/tokens.csv"
    for who in admin controller-manager kubelet tester; do
        head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/$who.token"
    done
    # token,user,uid,"group1,group2"
    printf '%s,jobdeck-admin,1,"system:masters"\n' "$(cat "$STATE/admin.token")" >>"$STATE/tokens.csv"
    printf '%s,system:kube-controller-manager,2,"system:masters"\n' "$(cat "$STATE/controller-manager.token")" >>"$STATE/tokens.csv"
    # The test kubelet also binds pods (it stands in for the scheduler), which the Node authorizer forbids.
    printf '%s,system:node:%s,3,"system:nodes,system:masters"\n' "$(cat "$STATE/kubelet.token")" "$NODE" >>"$STATE/tokens.csv"
    printf '%s,%s,4\n' "$(cat "$STATE/tester.token")" "$USER_NAME" >>"$STATE/tokens.csv"
}

kubeconfig() { # kubeconfig FILE TOKEN_FILE [NAMESPACE]
    local ns=${3:-default}
    cat >"$1" <<CONF
apiVersion: v1
kind: Config
clusters:
  - name: jobdeck-test
    cluster:
      server: https://127.0.0.1:$APISERVER_PORT
      certificate-authority: $STATE/pki/ca.crt
users:
  - name: user
    user:
      token: $(cat "$2")
contexts:
  - name: jobdeck-test
    context: {cluster: jobdeck-test, user: user, namespace: $ns}
current-context: jobdeck-test
CONF
    chmod 600 "$1"
}

api() { # api METHOD PATH [CONTENT-TYPE BODY-FILE]: a call as the admin; fails on an HTTP error
    local args=(-sS --fail-with-body --max-time 20 --cacert "$STATE/pki/ca.crt"
        -H "Authorization: Bearer $(cat "$STATE/admin.token")" -X "$1")
    [[ -z ${3:-} ]] || args+=(-H "Content-Type: $3" --data-binary "@$4")
    curl "${args[@]}" "https://127.0.0.1:$APISERVER_PORT$2"
}

start_etcd() {
    rm -rf "$STATE/etcd"
    "$ETCD_BIN/etcd" --data-dir "$STATE/etcd" --client-url "https://127.0.0.1:$ETCD_PORT" \
        --peer-url "http://127.0.0.1:$ETCD_PEER_PORT" --cert-file "$STATE/pki/etcd.crt" \
        --key-file "$STATE/pki/etcd.key" --trusted-ca-file "$STATE/pki/ca.crt" \
        >"$STATE/log/etcd.log" 2>&1 &
    echo $! >"$STATE/etcd.pid"
    wait_for 60 etcd grep -q "etcd ready" "$STATE/log/etcd.log"
}

start_apiserver() {
    local pki=$STATE/pki
    "$BIN/kube-apiserver" \
        --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
        --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
        --client-ca-file="$pki/ca.crt" --token-auth-file="$STATE/tokens.csv" \
        --authorization-mode=RBAC --anonymous-auth=false \
        --etcd-servers="https://127.0.0.1:$ETCD_PORT" --etcd-cafile="$pki/ca.crt" \
        --etcd-certfile="$pki/apiserver-etcd.crt" --etcd-keyfile="$pki/apiserver-etcd.key" \
        --service-account-issuer=https://kubernetes.default.svc \
        --service-account-key-file="$pki/service-account.pub" \
        --service-account-signing-key-file="$pki/service-account.key" \
        --service-cluster-ip-range=10.96.0.0/24 --endpoint-reconciler-type=none \
        --kubelet-client-certificate="$pki/apiserver-kubelet.crt" --kubelet-client-key="$pki/apiserver-kubelet.key" \
        --kubelet-certificate-authority="$pki/ca.crt" --kubelet-preferred-address-types=InternalIP \
        --profiling=false >"$STATE/log/kube-apiserver.log" 2>&1 &
    echo $! >"$STATE/kube-apiserver.pid"
    wait_for 60 kube-apiserver api GET /readyz
}

start_controller_manager() {
    kubeconfig "$STATE/controller-manager.kubeconfig" "$STATE/controller-manager.token"
    "$BIN/kube-controller-manager" \
        --kubeconfig="$STATE/controller-manager.kubeconfig" --leader-elect=false \
        --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
        --controllers=job-controller,ttl-after-finished-controller,garbage-collector-controller,serviceaccount-controller,namespace-controller,pod-garbage-collector-controller \
        --profiling=false >"$STATE/log/kube-controller-manager.log" 2>&1 &
    echo $! >"$STATE/kube-controller-manager.pid"
    wait_for 60 kube-controller-manager curl -sfk --max-time 5 "https://127.0.0.1:$KCM_PORT/healthz"
}

start_kubelet() {
    kubeconfig "$STATE/kubelet.kubeconfig" "$STATE/kubelet.token"
    [[ -x $PYTHON ]] || { log "no Python with the kubernetes client at $PYTHON (set JOBDECK_K8S_PYTHON)"; return 1; }
    "$PYTHON" "$HERE/kubelet.py" --kubeconfig "$STATE/kubelet.kubeconfig" --node "$NODE" \
        --port "$KUBELET_PORT" --cert "$STATE/pki/kubelet.crt" --key "$STATE/pki/kubelet.key" \
        --client-ca "$STATE/pki/ca.crt" --work "$STATE/pods" >"$STATE/log/kubelet.log" 2>&1 &
    echo $! >"$STATE/kubelet.pid"
    wait_for 60 "node $NODE Ready" node_ready
}

node_ready() { api GET "/api/v1/nodes/$NODE" | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'; }

documented_rbac() { # the Role and RoleBinding of README.md's Kubernetes section, for our namespace and user
    awk '/^The permissions jobdeck needs/ { found = 1 } found && /^```yaml/ { inside = 1; next }
         inside && /^```/ { exit } inside { print }' "$REPO/README.md" |
        sed -e "s/namespace: team-a/namespace: $NAMESPACE/" -e "s/name: alice@example.org/name: $USER_NAME/"
}

make_namespace() {
    local file=$STATE/rbac.yaml
    printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"}}' "$NAMESPACE" >"$STATE/namespace.json"
    api POST /api/v1/namespaces application/json "$STATE/namespace.json" >/dev/null
    documented_rbac >"$file"
    grep -q "kind: Role$" "$file" && grep -q "kind: RoleBinding" "$file" ||
        { log "README.md has no Role and RoleBinding under 'The permissions jobdeck needs'"; return 1; }
    awk '/^---$/ { exit } { print }' "$file" >"$STATE/role.yaml"
    awk 'found { print } /^---$/ { found = 1 }' "$file" >"$STATE/rolebinding.yaml"
    api POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$NAMESPACE/roles" application/yaml "$STATE/role.yaml" >/dev/null
    api POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$NAMESPACE/rolebindings" application/yaml \
        "$STATE/rolebinding.yaml" >/dev/null
    # Pods are admitted only once the namespace's default ServiceAccount exists.
    wait_for 30 "ServiceAccount $NAMESPACE/default" api GET "/api/v1/namespaces/$NAMESPACE/serviceaccounts/default"
    kubeconfig "$STATE/kubeconfig" "$STATE/tester.token" "$NAMESPACE"
    kubeconfig "$STATE/admin.kubeconfig" "$STATE/admin.token" "$NAMESPACE"
}

write_env() {
    cat >"$STATE/env.sh" <<ENV
export KUBECONFIG=$STATE/kubeconfig
export JOBDECK_TEST_K8S=$STATE
ENV
}

stop_all() { # the reverse order of start: the API server hangs on shutdown when etcd goes first
    local i pids
    for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
        stop_pidfile "$STATE/${COMPONENTS[i]}.pid"
    done
    pids=$(leftovers)
    [[ -n $pids ]] || return 0
    log "stopping what was left running: $(describe $pids)"
    kill -9 $pids 2>/dev/null || true
}

leftovers() { # components of this control plane still running: their command line names $STATE
    local pid
    for pid in $(pgrep -f -- "$STATE/" || true); do
        [[ $pid == "$$" ]] && continue
        case $(cat 2>/dev/null "/proc/$pid/comm") in
            etcd | kube-apiserver | kube-controller | python*) echo "$pid" ;;
        esac
    done
}

status() {
    local c
    for c in "${COMPONENTS[@]}"; do
        if [[ -f $STATE/$c.pid ]] && kill -0 "$(cat "$STATE/$c.pid")" 2>/dev/null; then
            echo "$c running"
        else
            echo "$c stopped"
        fi
    done
}

case ${1:-} in
    build) build ;;
    start)
        build
        stop_all
        rm -rf "$STATE/log" "$STATE/pods"
        mkdir -p "$STATE/log"
        make_pki
        make_tokens
        started=$SECONDS
        start_etcd
        start_apiserver
        log "API server ready after $((SECONDS - started))s"
        start_controller_manager
        make_namespace
        start_kubelet
        write_env
        log "control plane up under $STATE in $((SECONDS - started))s (source $STATE/env.sh)"
        ;;
    stop) stop_all; log "stopped" ;;
    status) status ;;
    check-stopped)
        left=$(leftovers)
        [[ -z $left ]] || { log "still running: $(describe $left)"; exit 1; }
        ;;
    *) echo "usage: $0 build|start|stop|status|check-stopped" >&2; exit 2 ;;
esac
