#!/usr/bin/env bash
# Run chatroom and ngircd (a C IRC server) through the same scenarios in one run, on
# loopback, and print chatroom/ngircd ratios. Installs ngircd from Debian's packages if it
# is missing. Extra arguments go to both chatroom-bench runs, e.g.
#   chatroom/bench/compare.sh --receivers 1000 --clients 5000
set -euo pipefail
# From the directory that holds this chatroom package (the checkout, or site-packages),
# so that `python3 -m chatroom.bench` measures the code next to this script.
cd "$(dirname "$0")/../.."

if ! command -v ngircd >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ngircd >/dev/null
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
"$ngircd_bin" --nodaemon --config "$work/ngircd.conf" >"$work/ngircd.log" 2>&1 &
ngircd_pid=$!
trap 'kill $ngircd_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    sleep 0.1
done

scenarios=fanout,latency,connections
echo "== chatroom" >&2
python3 -m chatroom.bench --scenarios "$scenarios" --json "$work/chatroom.json" "$@"
echo "== ngircd $("$ngircd_bin" --version | head -1 | cut -d- -f1)" >&2
python3 -m chatroom.bench --protocol irc --port "$port" --server-pid "$ngircd_pid" \
    --scenarios "$scenarios" --json "$work/irc.json" "$@"

python3 - "$work/chatroom.json" "$work/irc.json" <<'PY'
import json, sys
chat, irc = (json.load(open(path))["results"] for path in sys.argv[1:])
print("\n| scenario | figure | chatroom | ngircd | chatroom/ngircd |")
print("|----------|--------|---------:|-------:|----------------:|")
for ours, theirs in zip(chat, irc):
    for key in ("deliveries_per_s", "p50_ms", "p99_ms", "seconds", "kib_per_connection"):
        if key in ours and key in theirs and theirs[key]:
            print(f"| {ours['scenario']} | {key} | {ours[key]} | {theirs[key]} | {ours[key] / theirs[key]:.2f} |")
PY
