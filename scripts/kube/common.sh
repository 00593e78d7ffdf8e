# Shared by scripts/kube-up, kube-down and kube-images (sourced, not run).
# Everything a one-node cluster on this machine needs to agree on: versions, paths, addresses.

KUBE_VERSION=${KUBE_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.8}
COREDNS_VERSION=${COREDNS_VERSION:-1.13.1}
CACHE=${FAULTLINE_CACHE:-$HOME/.cache/faultline}
KBIN=$CACHE/kubernetes/$KUBE_VERSION/bin
ETCD_BIN=$CACHE/etcd/$ETCD_VERSION/bin/etcd
COREDNS_BIN=$CACHE/coredns/$COREDNS_VERSION/bin/coredns
KUBECTL=$KBIN/kubectl

# State: PKI, configs, pids, logs, etcd data, containerd's store, kubelet's root.
STATE=${KUBE_STATE_ARG:-${FAULTLINE_KUBE_STATE:-$CACHE/kube-cluster}}
STATE=$(mkdir -p "$STATE" && realpath "$STATE")
KUBECONFIG_OUT=$STATE/admin.kubeconfig
# "The" local cluster's kubeconfig is named here, for the default state dir only (another state dir
# is another cluster: its users are told its kubeconfig)
POINTER=$CACHE/kube-cluster.kubeconfig-path
[ "$STATE" = "$(realpath -m "$CACHE/kube-cluster")" ] || POINTER=

# Addresses. The node IP sits on a port-less bridge: kubelet needs a non-loopback address, and a
# bridge without ports reaches nothing. Pods get 10.244.0.0/24 on their own bridge; services 10.96/16.
NODE_NAME=${FAULTLINE_KUBE_NODE:-fl-node}
NODE_IP=10.77.0.1
NODE_BRIDGE=fl0
POD_BRIDGE=fl-cni0
POD_CIDR=10.244.0.0/24
CLUSTER_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/16
APISERVER_SVC_IP=10.96.0.1
DNS_IP=10.96.0.10
# Two clusters on one host (e.g. one per network namespace) need their own containerd run dir and
# kubelet cgroup root; the defaults suit the usual one.
CTR_DIR=${FAULTLINE_KUBE_RUN_DIR:-/run/fl-containerd}
CGROUP_ROOT=${FAULTLINE_KUBE_CGROUP_ROOT:-/}
CTR_SOCK=$CTR_DIR/containerd.sock
CNI_BIN_DIR=${CNI_BIN_DIR:-/usr/lib/cni}
# Ports the control plane binds on 127.0.0.1 (kubelet on the node IP): refused if taken by another.
PORTS=(2379 2380 2381 6443 10257 10259 10248 10250 10249 10256)

PAUSE_IMAGE=faultline/pause:3.10
COREDNS_IMAGE=faultline/coredns:$COREDNS_VERSION

# Started in this order, stopped in the reverse one.
PROCS=(etcd containerd apiserver controller-manager scheduler kubelet kube-proxy)

T0=${T0:-${EPOCHREALTIME/./}}
say() {
  local d=$((${EPOCHREALTIME/./} - T0))
  printf '[%s %4d.%ds] %s\n' "${SCRIPT_NAME:-kube}" $((d / 1000000)) $((d / 100000 % 10)) "$*"
}
die() {
  echo "${SCRIPT_NAME:-kube}: $*" >&2
  exit 1
}

# A pid file holds "<pid> <start time>": the start time (field 22 of /proc/<pid>/stat) guards
# against signalling a recycled pid that now belongs to someone else.
# A zombie (exited, not yet reaped by init) counts as gone.
starttime() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  st=${st##*) } # fields after "(comm)", which may hold spaces: state is then field 1, start time 20
  set -- $st
  [ "$1" = Z ] || echo "${20}"
}
pid_of() { # name -> pid if that very process is still alive
  local f=$STATE/pids/$1.pid pid st
  [ -f "$f" ] || return 1
  read -r pid st <"$f" || return 1
  [ -n "$pid" ] && [ "$(starttime "$pid")" = "$st" ] && echo "$pid"
}
record_pid() { mkdir -p "$STATE/pids" && echo "$2 $(starttime "$2")" >"$STATE/pids/$1.pid"; }
stop_pid() { # name [timeout_s]: SIGTERM, wait, then SIGKILL; by recorded pid only
  local pid i t=$SECONDS
  if pid=$(pid_of "$1"); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < ${2:-10} * 10; i++)); do
      [ "$(starttime "$pid")" ] || break
      sleep 0.1
    done
    if [ "$(starttime "$pid")" ]; then
      say "$1 (pid $pid) ignored SIGTERM; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    [ $((SECONDS - t)) -lt 2 ] || say "$1 took $((SECONDS - t))s to stop"
  fi
  rm -f "$STATE/pids/$1.pid"
}

# One kube-up/kube-down at a time per state dir: a second caller waits, then finds the cluster up
# (or down). kube-up's own call of kube-down already holds the lock (FAULTLINE_KUBE_LOCKED).
lock_state() {
  [ "${FAULTLINE_KUBE_LOCKED:-}" = "$STATE" ] && return 0
  exec 9>"$STATE/.lock"
  if ! flock -n 9; then
    say "another kube-up/kube-down is running on $STATE: waiting for it"
    flock 9
  fi
  export FAULTLINE_KUBE_LOCKED=$STATE
}

kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_OUT" "$@"; }
ctr_() { ctr -a "$CTR_SOCK" -n k8s.io "$@"; }
