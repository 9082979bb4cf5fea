#!/usr/bin/env bash
# Run chatroom, ngircd (a C IRC server) and Redis pub/sub through the same scenarios in
# one run, on loopback, measure this disk's fdatasync, and print every figure against its
# target (chatroom.bench.targets) with ✔ or ✘. Installs ngircd and redis-server from
# Debian's packages if they are missing. Extra arguments go to every chatroom-bench run,
# e.g. `chatroom/bench/compare.sh --clients 5000`. The earlier issues' own targets run
# last: one node and then three on PostgreSQL and Redis (issue 15; installs PostgreSQL
# too), and history, unread counts and search on ten million messages (issue 12: the
# database, 1.6 GB, is built once into $TMPDIR/chatroom-bench-conversations, about three
# minutes, and reused). COMPARE_NO_FILES=1, COMPARE_NO_CLUSTER=1 and
# COMPARE_NO_CONVERSATIONS=1 skip the 100 MiB file transfer, the cluster and the
# conversations.
set -euo pipefail
# From the directory that holds this chatroom package (the checkout, or site-packages),
# so that `python3 -m chatroom.bench` measures the code next to this script.
cd "$(dirname "$0")/../.."

if ! command -v ngircd >/dev/null || ! command -v redis-server >/dev/null \
    || ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ngircd redis-server postgresql >/dev/null
fi
ngircd_bin=$(command -v ngircd || echo /usr/sbin/ngircd)

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/ngircd.conf" <<CONF
[Global]
Name = bench.localhost
Info = chatroom comparison
Listen = 127.0.0.1
Ports = $port
PidFile = $work/ngircd.pid
MotdPhrase = bench
[Limits]
# Flood control off (no penalty time), no per-address or channel limits, long pings.
MaxPenaltyTime = 0
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
CONF
wait_for_port() {
    for _ in $(seq 50); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null && return
        sleep 0.1
    done
}

"$ngircd_bin" --nodaemon --config "$work/ngircd.conf" >"$work/ngircd.log" 2>&1 &
ngircd_pid=$!
trap 'kill $ngircd_pid 2>/dev/null; rm -rf "$work"' EXIT
wait_for_port "$port"

# Redis pub/sub, the floor for fan-out: a C server doing nothing else.
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $ngircd_pid $redis_pid 2>/dev/null; rm -rf "$work"' EXIT
wait_for_port "$redis_port"

echo "== fdatasync on this disk" >&2
python3 -m chatroom.bench.fsync --json "$work/fsync.json"
echo "== memory per connection of an asyncio server that does nothing" >&2
python3 -m chatroom.bench.connection_floor --json "$work/floor.json"
echo "== a bare Python server: latency, and stored messages/s this machine could reach" >&2
python3 -m chatroom.bench.python_floor --json "$work/python_floor.json"
echo "== chatroom" >&2
python3 -m chatroom.bench --scenarios fanout,latency,connections,store --receivers 1000 --messages 1000 \
    --json "$work/chatroom.json" "$@"
# Memory per connection above is measured, as ngircd's below, after fan-out and latency:
# the heap those clients left is used again. Here, on a server that has seen nothing.
echo "== chatroom, a fresh server's memory per connection" >&2
python3 -m chatroom.bench --scenarios connections --json "$work/fresh.json" "$@"
echo "== ngircd $("$ngircd_bin" --version | head -1 | cut -d- -f1)" >&2
python3 -m chatroom.bench --protocol irc --port "$port" --server-pid "$ngircd_pid" \
    --scenarios fanout,latency,connections --receivers 1000 --messages 1000 --json "$work/irc.json" "$@"
echo "== redis-server $(redis-server --version | cut -d' ' -f3)" >&2
python3 -m chatroom.bench --protocol redis --port "$redis_port" --server-pid "$redis_pid" \
    --scenarios fanout --receivers 1000 --messages 1000 --json "$work/redis.json" "$@"
if [ -z "${COMPARE_NO_FILES:-}" ]; then
    echo "== files" >&2
    python3 -m chatroom.bench.file_transfer --sizes 100 --repeat 3 --json "$work/files.json"
fi
if [ -z "${COMPARE_NO_CLUSTER:-}" ]; then
    echo "== chatroom, one node on PostgreSQL and Redis" >&2
    # The same scenarios as on SQLite, so that memory per connection is measured alike.
    python3 -m chatroom.bench --store auto --scenarios fanout,latency,connections,store \
        --receivers 1000 --messages 1000 --json "$work/cluster1.json" "$@"
    echo "== chatroom, three nodes on PostgreSQL and Redis" >&2
    python3 -m chatroom.bench --nodes 3 --scenarios fanout,latency,store --receivers 1000 \
        --messages 1000 --json "$work/cluster3.json" "$@"
fi
if [ -z "${COMPARE_NO_CONVERSATIONS:-}" ]; then
    echo "== conversations at size" >&2
    python3 -m chatroom.bench.conversations --fanout-messages 2000 --json "$work/conversations.json"
fi
echo "== private latency during a flood of logins at bcrypt cost 12" >&2
python3 -m chatroom.bench.login_flood --json "$work/login_flood.json"
echo
python3 -m chatroom.bench.targets "$work"
