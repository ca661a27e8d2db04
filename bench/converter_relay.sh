#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# converter_relay.sh: goodput and relay CPU per GB of the converter for socket-buffer sizes,
# splice vs copy and pipe sizes, on the single-proxy bed (tests/integration/lib.sh):
#
#   host (convclient, MPTCP) ══ link(s) (linkemu [+ tbf]) ══ cv (mpconvd converter) ──── srv
#
#   download: srv (sends N bytes) -> converter -> host   (server leg -> relay -> MPTCP leg)
#   upload:   host (N bytes)      -> converter -> srv    (MPTCP leg -> relay -> server leg)
#
# Each scenario (a link setup) runs in its own child process with its own namespaces; per
# round every configuration gets one fresh converter, one download and one upload, so noise on
# this shared VM spreads over all configurations instead of hitting one. The "no proxy" row is
# mpbulk host -> cv over the same links (MPTCP end to end, no converter, no server leg).
# CPU is the converter process's utime+stime (/proc/PID/stat, all threads) around each
# transfer; it does not include softirq work done on behalf of the converter in other contexts.
#
# usage: bench/converter_relay.sh [-n ROUNDS] [-s SCENARIO,...] [-o RESULTS.tsv]
#   scenarios: unshaped, shaped200, multi2x100 (default: all three)
# env: MPCONV_BUILD (build dir), MPCONVD (daemon binary), BYTES_UNSHAPED (default 256Mi),
#      BYTES_SHAPED (default 50M), CONFIGS_UNSHAPED / CONFIGS_SHAPED (space-separated config
#      names from config_args below), REF_PY=1 (also a python-over-MPTCP no-proxy row).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
ROUNDS=3
SCENARIOS=unshaped,shaped200,multi2x100
OUT=
CHILD=

while [ $# -gt 0 ]; do
	case $1 in
	-n) ROUNDS=$2; shift 2 ;;
	-s) SCENARIOS=$2; shift 2 ;;
	-o) OUT=$2; shift 2 ;;
	--child) CHILD=$2; OUT=$3; shift 3 ;;
	-h | --help) sed -n '3,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown argument: $1" >&2; exit 2 ;;
	esac
done

BYTES_UNSHAPED=${BYTES_UNSHAPED:-268435456}
BYTES_SHAPED=${BYTES_SHAPED:-50000000}
CONFIGS_UNSHAPED=${CONFIGS_UNSHAPED:-"sb0 sb1m sb4m sb16m sb0-copy sb4m-copy sb4m-pipe64k sb4m-tcpdown sb4m-tcpdown-copy"}
CONFIGS_SHAPED=${CONFIGS_SHAPED:-"sb0 sb1m sb4m sb16m sb4m-copy sb0-copy"}

# config_args NAME: the converter options of configuration NAME.
#   sbX         --socket-buffer X (0 = autotuning), splice with the default 1 MiB pipe
#   -copy       --no-splice (copy through the relay's 64 KiB buffer)
#   -pipe64k    --pipe-size 64k
#   -tcpdown    --no-downstream-mptcp: the server leg is a plain TCP socket instead of an MPTCP
#               socket that fell back, so splice from it takes the TCP zero-copy path
config_args()
{
	local name=$1 sb
	sb=${name%%-*}
	sb=${sb#sb}
	printf -- '--socket-buffer %s' "$sb"
	case $name in *-copy*) printf ' --no-splice' ;; esac
	case $name in *-pipe64k*) printf ' --pipe-size 64k' ;; esac
	case $name in *-tcpdown*) printf ' --no-downstream-mptcp' ;; esac
	echo
}

# ---------------------------------------------------------------------------------------------
# Parent: runs each scenario in a child, then prints the summary.

summary()
{
	python3 - "$1" <<'EOF'
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
# scenario config dir round bytes secs mbps cpu_s cpu_per_gb emu_util
groups, order = {}, []
for r in rows:
    key = (r[0], r[1], r[2])
    if key not in groups:
        groups[key] = []
        order.append(key)
    groups[key].append(r)
def med(v):
    return st.median(v)
ref = {}
for (s, c, d), g in groups.items():
    if c.startswith("noproxy"):
        ref[(s, d)] = max(ref.get((s, d), 0), med([float(x[6]) for x in g]))
print("| scenario | config | dir | n | Mbit/s median [min-max] | vs best no-proxy | relay CPU-s/GB median [min-max] | linkemu util |")
print("|---|---|---|---|---|---|---|---|")
for key in order:
    s, c, d = key
    g = groups[key]
    mb = [float(x[6]) for x in g]
    cpu = [float(x[8]) for x in g if x[8] != "-"]
    emu = [float(x[9]) for x in g if x[9] != "-"]
    ratio = "%.2f" % (med(mb) / ref[(s, d)]) if (s, d) in ref and not c.startswith("noproxy") else "-"
    cpus = "%.2f [%.2f-%.2f]" % (med(cpu), min(cpu), max(cpu)) if cpu else "-"
    emus = "%.2f" % med(emu) if emu else "-"
    print(f"| {s} | {c} | {d} | {len(g)} | {med(mb):.0f} [{min(mb):.0f}-{max(mb):.0f}] | {ratio} | {cpus} | {emus} |")
EOF
}

if [ -z "$CHILD" ]; then
	[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
	[ -n "$OUT" ] || OUT=$(mktemp /tmp/converter_relay.XXXXXX.tsv)
	: >"$OUT"
	start=$SECONDS
	echo "# kernel $(uname -r), cc $(sysctl -n net.ipv4.tcp_congestion_control)," \
		"rmem_max $(sysctl -n net.core.rmem_max), wmem_max $(sysctl -n net.core.wmem_max)," \
		"tcp_rmem '$(sysctl -n net.ipv4.tcp_rmem)', tcp_wmem '$(sysctl -n net.ipv4.tcp_wmem)'," \
		"$(nproc) CPUs" | tee -a "$OUT"
	for sc in ${SCENARIOS//,/ }; do
		echo "== scenario $sc ($((SECONDS - start)) s elapsed)"
		bash "$0" -n "$ROUNDS" --child "$sc" "$OUT" || echo "scenario $sc failed" >&2
	done
	echo "== done in $((SECONDS - start)) s; raw results in $OUT"
	summary "$OUT"
	exit 0
fi

# ---------------------------------------------------------------------------------------------
# Child: one scenario, one bed.

BED_TAP=0
# shellcheck source=../tests/integration/lib.sh
source "$TOP/tests/integration/lib.sh"
require_bed
MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
CONVCLIENT=$MPCONV_BUILD/tools/convclient
[ -x "$MPCONVD" ] && [ -x "$CONVCLIENT" ] || bail "mpconvd/convclient not built in $MPCONV_BUILD"
T=$BED_TMP

case $CHILD in
unshaped)
	topo_single A:rate=none,delay=0 || bail topology
	BYTES=$BYTES_UNSHAPED CONFIGS=$CONFIGS_UNSHAPED ;;
shaped200)
	topo_single A:rate=200mbit,delay=5 || bail topology
	BYTES=$BYTES_SHAPED CONFIGS=$CONFIGS_SHAPED ;;
multi2x100)
	topo_single A:rate=100mbit,delay=5 B:rate=100mbit,delay=20 || bail topology
	mptcp_multilink || bail "MPTCP endpoints"
	BYTES=$BYTES_SHAPED CONFIGS=$CONFIGS_SHAPED ;;
*) bail "unknown scenario $CHILD" ;;
esac

# A bulk server that does not limit: 1 MiB recv_into / sendall of one preallocated buffer.
# "sink" answers "GOT <bytes>" after EOF; "send" sends BYTES then closes; "client-recv" and
# "client-send" are the matching clients (the server alone, and the no-proxy reference); a 5th
# argument "mptcp" makes it an MPTCP socket.
cat >"$T/bulk.py" <<'EOF'
import socket, sys, time
mode, host, port, nbytes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
proto = 262 if len(sys.argv) > 5 and sys.argv[5] == "mptcp" else 0
buf = memoryview(bytearray(1 << 20))

def send_all(c, n):
    while n:
        k = min(n, len(buf))
        c.sendall(buf[:k])
        n -= k

def recv_all(c):
    total = 0
    while True:
        k = c.recv_into(buf)
        if not k:
            return total
        total += k

if mode.startswith("client"):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    c.connect((host, port))
    t = time.monotonic()
    if mode == "client-recv":
        got = recv_all(c)
    else:
        send_all(c, nbytes)
        c.shutdown(socket.SHUT_WR)
        got = nbytes
        c.recv(100)
    dt = time.monotonic() - t
    print(f"bytes={got} seconds={dt:.3f} mbps={got * 8 / dt / 1e6:.0f}")
    sys.exit(0)
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port))
ls.listen(16)
while True:
    c, _ = ls.accept()
    try:
        if mode == "sink":
            got = recv_all(c)
            c.sendall(f"GOT {got}\n".encode())
        else:
            send_all(c, nbytes)
    except OSError:
        pass
    c.close()
EOF

bed_start "$NS_SRV" sink python3 "$T/bulk.py" sink "$SRV_ADDR4" 7001 0
bed_start "$NS_SRV" send python3 "$T/bulk.py" send "$SRV_ADDR4" 7002 "$BYTES"
bulk_server "$NS_CV" 5001 || bail "mpbulk server"
# the python reference: MPTCP sink/send on cv, on the converter's address
bed_start "$NS_CV" ref-sink python3 "$T/bulk.py" sink "$CV_ADDR4" 5011 0 mptcp
bed_start "$NS_CV" ref-send python3 "$T/bulk.py" send "$CV_ADDR4" 5012 "$BYTES" mptcp
wait_listen "$NS_CV" 5011 && wait_listen "$NS_CV" 5012 || bail "reference servers"
wait_listen "$NS_SRV" 7001 && wait_listen "$NS_SRV" 7002 || bail "bulk servers"

emu_pids=()
for x in $LINKS; do emu_pids+=("$(link_var "$x" PID)"); done

# cpu_ticks PID...: utime+stime of the processes (all their threads), in clock ticks.
cpu_ticks()
{
	local p sum=0 f
	for p in "$@"; do
		read -r -a f <"/proc/$p/stat" || return 1
		# fields 14 and 15 (1-based); comm has no spaces for our processes
		sum=$((sum + f[13] + f[14]))
	done
	echo "$sum"
}
HZ=$(getconf CLK_TCK)
now() { echo "$EPOCHREALTIME"; }

# record CONFIG DIR ROUND BYTES T0 T1 CPU0 CPU1 EMU0 EMU1 (CPU0/CPU1 "-" when not measured)
record()
{
	local line
	line=$(awk -v s="$CHILD" -v c="$1" -v d="$2" -v r="$3" -v b="$4" -v t0="$5" -v t1="$6" \
		-v c0="$7" -v c1="$8" -v e0="$9" -v e1="${10}" -v hz="$HZ" -v ne="${#emu_pids[@]}" '
		BEGIN {
			dt = t1 - t0; mbps = b * 8 / dt / 1e6
			if (c0 == "-") { cpu = "-"; gb = "-" }
			else { cpu = sprintf("%.2f", (c1 - c0) / hz); gb = sprintf("%.3f", (c1 - c0) / hz / (b / 1e9)) }
			emu = sprintf("%.2f", (e1 - e0) / hz / dt / ne)
			printf "%s\t%s\t%s\t%s\t%d\t%.3f\t%.1f\t%s\t%s\t%s\n", s, c, d, r, b, dt, mbps, cpu, gb, emu
		}')
	echo "$line" >>"$OUT"
	printf '  %-20s %-8s round %s: %s\n' "$1" "$2" "$3" "$(echo "$line" | cut -f6-10 |
		awk '{ printf "%s s, %s Mbit/s, cpu %s s, %s CPU-s/GB, linkemu %s", $1, $2, $3, $4, $5 }')"
}

# The server alone, without link or converter (python at both ends, cv -> srv veth).
if [ "$CHILD" = unshaped ]; then
	for mode in send recv; do
		port=7001
		[ $mode = recv ] && port=7002
		echo "  server alone ($mode, python client in cv): $(n "$NS_CV" python3 "$T/bulk.py" \
			"client-$mode" "$SRV_ADDR4" $port "$BYTES")"
	done
fi

conv_pid=
conv_start()
{
	# shellcheck disable=SC2046 # word splitting wanted: the options
	bed_start "$NS_CV" conv "$MPCONVD" converter --listen "$CV_ADDR4:5124" \
		--allow 10.10.0.0/16 --log-level warning $(config_args "$1")
	wait_listen "$NS_CV" 5124 || { bed_log conv >&2; bail "converter did not start"; }
	conv_pid=$(pgrep -P "$(bed_pid conv)")
	[ -n "$conv_pid" ] || bail "no converter pid"
}

download()
{
	local cfg=$1 r=$2 t0 t1 c0 c1 e0 e1 got
	c0=$(cpu_ticks "$conv_pid") e0=$(cpu_ticks "${emu_pids[@]}") t0=$(now)
	got=$(n "$NS_GW" timeout 60 "$CONVCLIENT" "$CV_ADDR4:5124" "$SRV_ADDR4:7002" \
		</dev/null 2>"$T/line" | wc -c)
	t1=$(now) c1=$(cpu_ticks "$conv_pid") e1=$(cpu_ticks "${emu_pids[@]}")
	if [ "$got" != "$BYTES" ] || ! grep -q result=converted "$T/line"; then
		echo "  $cfg download round $r FAILED: got $got bytes, $(cat "$T/line")" >&2
		return 1
	fi
	record "$cfg" download "$r" "$BYTES" "$t0" "$t1" "$c0" "$c1" "$e0" "$e1"
}

upload()
{
	local cfg=$1 r=$2 t0 t1 c0 c1 e0 e1 got
	c0=$(cpu_ticks "$conv_pid") e0=$(cpu_ticks "${emu_pids[@]}") t0=$(now)
	got=$(head -c "$BYTES" /dev/zero | n "$NS_GW" timeout 60 "$CONVCLIENT" \
		"$CV_ADDR4:5124" "$SRV_ADDR4:7001" 2>"$T/line")
	t1=$(now) c1=$(cpu_ticks "$conv_pid") e1=$(cpu_ticks "${emu_pids[@]}")
	if [ "$got" != "GOT $BYTES" ] || ! grep -q result=converted "$T/line"; then
		echo "  $cfg upload round $r FAILED: got '$got', $(cat "$T/line")" >&2
		return 1
	fi
	record "$cfg" upload "$r" "$BYTES" "$t0" "$t1" "$c0" "$c1" "$e0" "$e1"
}

noproxy()
{
	local dir=$1 r=$2 t0 t1 e0 e1 line args=()
	[ "$dir" = download ] && args=(--download)
	e0=$(cpu_ticks "${emu_pids[@]}") t0=$(now)
	line=$(bulk_client "$NS_GW" "$CV_ADDR4" 5001 --bytes "$BYTES" "${args[@]}")
	t1=$(now) e1=$(cpu_ticks "${emu_pids[@]}")
	case $line in *verified=1*) ;; *) echo "  noproxy $dir FAILED: $line" >&2; return 1 ;; esac
	record noproxy "$dir" "$r" "$BYTES" "$t0" "$t1" - - "$e0" "$e1"
}

# noproxy_py DIR ROUND: the same bytes host -> cv by python over MPTCP, no converter and no
# pattern check (mpbulk generates and verifies its pattern, which costs CPU on this small VM).
noproxy_py()
{
	local dir=$1 r=$2 t0 t1 e0 e1 line mode=client-send port=5011
	[ "$dir" = download ] && mode=client-recv port=5012
	e0=$(cpu_ticks "${emu_pids[@]}") t0=$(now)
	line=$(n "$NS_GW" timeout 120 python3 "$T/bulk.py" $mode "$CV_ADDR4" $port "$BYTES" mptcp)
	t1=$(now) e1=$(cpu_ticks "${emu_pids[@]}")
	case $line in "bytes=$BYTES "*) ;; *) echo "  noproxy-py $dir FAILED: $line" >&2; return 1 ;; esac
	record noproxy-py "$dir" "$r" "$BYTES" "$t0" "$t1" - - "$e0" "$e1"
}

echo "  links: $LINKS; $BYTES bytes per transfer; configs: noproxy $CONFIGS"
for ((round = 1; round <= ROUNDS; round++)); do
	noproxy download "$round"
	noproxy upload "$round"
	if [ "${REF_PY:-0}" = 1 ]; then
		noproxy_py download "$round"
		noproxy_py upload "$round"
	fi
	for cfg in $CONFIGS; do
		conv_start "$cfg"
		download "$cfg" "$round"
		upload "$cfg" "$round"
		bed_stop conv
	done
done
