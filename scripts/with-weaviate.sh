#!/usr/bin/env bash
# with-weaviate.sh CMD [ARG...] runs CMD with a throwaway weaviate-server on loopback and exports
# its address as ATELIER_WEAVIATE=127.0.0.1:PORT; it stops the server afterwards and exits with
# CMD's status. If ATELIER_WEAVIATE is already set, CMD simply runs against that server.
#
# Environment: WEAVIATE_SERVER (the binary; default weaviate-server on PATH or in GOBIN or
# GOPATH/bin, built by "make weaviate"), WEAVIATE_PORT (HTTP port, default 8089; the five ports
# above it serve gRPC, gossip, cluster data and Raft).
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: $0 CMD [ARG...]" >&2
	exit 2
fi
if [ -n "${ATELIER_WEAVIATE:-}" ]; then
	exec "$@"
fi

gobin=$(go env GOBIN)
bin=${WEAVIATE_SERVER:-$(command -v weaviate-server || echo "${gobin:-$(go env GOPATH)/bin}/weaviate-server")}
if [ ! -x "$bin" ]; then
	echo "$0: no weaviate-server at $bin (run: make weaviate)" >&2
	exit 1
fi
port=${WEAVIATE_PORT:-8089}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	echo "$0: port $port is in use; set WEAVIATE_PORT" >&2
	exit 1
fi

data=$(mktemp -d "${TMPDIR:-/tmp}/weaviate.XXXXXX")
log=$data/weaviate.log
env CLUSTER_HOSTNAME=node1 CLUSTER_ADVERTISE_ADDR=127.0.0.1 CLUSTER_BIND_ADDR=127.0.0.1 \
	CLUSTER_GOSSIP_BIND_PORT=$((port + 2)) CLUSTER_DATA_BIND_PORT=$((port + 3)) \
	RAFT_PORT=$((port + 4)) RAFT_INTERNAL_RPC_PORT=$((port + 5)) RAFT_BOOTSTRAP_EXPECT=1 \
	GRPC_PORT=$((port + 1)) PERSISTENCE_DATA_PATH="$data/db" \
	AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true DEFAULT_VECTORIZER_MODULE=none ENABLE_MODULES= \
	DISABLE_TELEMETRY=true GO_PROFILING_DISABLE=true PROMETHEUS_MONITORING_ENABLED=false \
	LOG_LEVEL=warning QUERY_DEFAULTS_LIMIT=25 \
	"$bin" --host 127.0.0.1 --port "$port" --scheme http >"$log" 2>&1 &
pid=$!
stop() {
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 40); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.25
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -rf "$data"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ready=
for _ in $(seq 1 120); do
	if curl -fsS "http://127.0.0.1:$port/v1/.well-known/ready" >/dev/null 2>&1; then
		ready=1
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		break
	fi
	sleep 0.5
done
if [ -z "$ready" ]; then
	echo "$0: weaviate-server did not become ready; its log:" >&2
	tail -n 30 "$log" >&2
	exit 1
fi

export ATELIER_WEAVIATE=127.0.0.1:$port
status=0
"$@" || status=$?
exit "$status"
