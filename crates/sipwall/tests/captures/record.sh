#!/usr/bin/env bash
# Records the lab captures that tests/replay.rs replays, with real tools:
# SIPp (Debian sip-tester), sipvicious 0.3.8 (PyPI) and dumpcap (Debian
# tshark). Run once as root, from anywhere; the captures land next to this
# script and are committed (CI only replays them).
#
#   sudo bash crates/sipwall/tests/captures/record.sh
#   sudo ONLY=svwar bash crates/sipwall/tests/captures/record.sh   # one of them
#
# Three network namespaces on a bridge, documentation addresses only:
#   rec-fw 192.0.2.1 (the SIP server, where dumpcap listens on eth0),
#   rec-peer 192.0.2.2 (a legitimate phone), rec-attacker 192.0.2.66.
# No firewall is loaded: the captures are what a server sees on the wire.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
nodes=(fw:192.0.2.1 peer:192.0.2.2 attacker:192.0.2.66)

down() {
  for ns in rec-fw rec-peer rec-attacker rec-sw; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap down EXIT

up() {
  ip netns add rec-sw
  ip -n rec-sw link add br0 type bridge
  ip -n rec-sw link set br0 up
  local i=0
  for n in "${nodes[@]}"; do
    local name=${n%%:*} addr=${n#*:}
    ip netns add "rec-$name"
    ip link add "recv$i" type veth peer name "recb$i"
    ip link set "recv$i" netns "rec-$name"
    ip link set "recb$i" netns rec-sw
    ip -n "rec-$name" link set "recv$i" name eth0
    ip -n "rec-$name" addr add "$addr/24" dev eth0
    ip -n "rec-$name" link set eth0 up
    ip -n "rec-$name" link set lo up
    ip -n rec-sw link set "recb$i" master br0 up
    i=$((i + 1))
  done
  sleep 1
}

in_ns() { local ns=$1; shift; ip netns exec "rec-$ns" "$@"; }

# record NAME SERVER-COMMAND -- CLIENT-NODE CLIENT-COMMAND...
# Starts the server on fw and dumpcap on fw's eth0, runs the client to its
# end, and keeps IPv4 only (no neighbour-discovery noise).
record() {
  local name=$1; shift
  if [ -n "${ONLY:-}" ] && [ "$ONLY" != "$name" ]; then return; fi
  local server=()
  while [ "$1" != -- ]; do server+=("$1"); shift; done
  shift
  local node=$1; shift
  # `ip netns exec` execs its program: $! is dumpcap's (the server's) pid.
  ip netns exec rec-fw dumpcap -q -i eth0 -f ip -P -w "$work/$name.pcap" 2>/dev/null &
  local cap=$!
  (cd "$work" && exec ip netns exec rec-fw "${server[@]}") >/dev/null 2>&1 &
  local srv=$!
  sleep 1
  (cd "$work" && in_ns "$node" timeout 60 "$@") >"$work/$name.log" 2>&1 ||
    { echo "$name: client exited with $?" >&2; tail -5 "$work/$name.log" >&2; }
  sleep 1
  kill -INT "$cap"; wait "$cap" || true
  kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true
  cp "$work/$name.pcap" "$here/$name.pcap"
  echo "$name.pcap: $(stat -c %s "$here/$name.pcap") bytes"
}

up
cp "$here"/*.xml "$work/"
# Two seconds of the G.711 stream SIPp ships (50 packets a second).
editcap -r /usr/share/sip-tester/g711a.pcap "$work/short-rtp.pcap" 1-100

uas=(sipp -sn uas -i 192.0.2.1 -p 5060 -mp 20000 -rtp_echo -nostdin -m 1)
responder=(sipp -sf responder.xml -i 192.0.2.1 -p 5060 -nostdin)

# A call from the peer with RTP, echoed back by the server; then BYE.
record sipp-call "${uas[@]}" -- peer \
  sipp 192.0.2.1:5060 -sf short-call.xml -i 192.0.2.2 -p 5060 -mp 6000 -m 1 -nostdin
# The sipvicious tools from the attacker, one capture each.
record svmap "${responder[@]}" -- attacker sipvicious_svmap 192.0.2.1
record svmap-compact "${responder[@]}" -- attacker sipvicious_svmap -c 192.0.2.1
record svwar "${responder[@]}" -- attacker sipvicious_svwar -e100-105 192.0.2.1
record svcrack "${responder[@]}" -- attacker sipvicious_svcrack -u100 -r1000-1004 192.0.2.1
# 80 OPTIONS at 200 per second from one source.
record flood "${responder[@]}" -- attacker \
  sipp 192.0.2.1:5060 -sf options-flood.xml -i 192.0.2.66 -p 5060 -r 200 -m 80 -nostdin
# A phone that mistypes its password twice, then registers.
record mistyped-password sipp -sf registrar.xml -i 192.0.2.1 -p 5060 -m 1 -nostdin -- peer \
  sipp 192.0.2.1:5060 -sf mistyping-phone.xml -i 192.0.2.2 -p 5060 -m 1 -nostdin
