# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034 # the topology variables are for the sourcing tests
#
# lib.sh: the namespace test bed. Every end-to-end test sources it; so does scripts/demo.sh.
# Sourcing it only defines functions and variables, makes a temp dir and installs the cleanup
# trap; nothing is printed until a function is called, so it works outside TAP runs too.
#
# Hybrid access (topo_hybrid):
#
#   lan ──── gw ══ link A (emu ns: linkemu + tbf) ══ cv ──── srv
#               ══ link B (emu ns: linkemu + tbf) ══
#              [══ link C ...                      ══]
#
#   lan  eth0 10.0.1.2/24 fd00:1::2/64        gw  lan0 10.0.1.1/24 fd00:1::1/64
#   gw   wanX 10.10.i.1/24 fd00:10:i::1/64    cv  accX 10.10.i.2/24 fd00:10:i::2/64
#   cv   lo   10.99.0.1/32 fd00:99::1/128 (the converter's service address)
#   cv   srv0 10.0.2.1/24 fd00:2::1/64        srv eth0 10.0.2.2/24 fd00:2::2/64
#   emu  to-gw <-> to-cv, bridged by linkemu (no addresses, IPv6 off)
#   (i = 1, 2, ... is the link's position in the argument list, X its name)
#
#   Routing: gw: main default via link 1 (10.10.1.2), and per link "ip rule from 10.10.i.1
#   lookup 100+i" with a table routing everything via 10.10.i.2 (same for IPv6), so an MPTCP
#   subflow bound to a link's address leaves by that link. cv reaches each gw link address on
#   the matching link (connected) and routes the LAN prefixes via link 1. lan and srv default to
#   gw and cv. gw and cv forward; rp_filter is 0 everywhere; IPv6 keeps addresses on link down.
#   BED_SRC_ROUTES=0 before topo_*: no per-source rules (the gateway daemon makes its own).
#
# Single proxy (topo_single): a multi-homed MPTCP host directly on the links, srv behind cv.
#   gw ══ links ══ cv ──── srv           (NS_GW is the host, also named NS_HOST)
# Pair (topo_pair): two namespaces joined by the links, nothing else.
#   gw ══ links ══ cv
#
# Link spec: NAME[:key=value,...], NAME = letters/digits (A, B, LTE...); keys:
#   rate=R            tbf rate both ways, tc units (20mbit, 500kbit, 1gbit); "none" = unshaped
#   rate_up=R, rate_down=R          up = gw -> cv, down = cv -> gw
#   delay=MS          one-way delay both ways (decimals ok); delay_up=, delay_down=
#   jitter=MS         uniform extra one-way delay in [0, MS], FIFO kept; jitter_up=, jitter_down=
#   loss=PCT          random loss per direction in percent (1.5 = 1.5 %); loss_up=, loss_down=
#   limit=BYTES       tbf queue (default: one BDP of that direction's rate, at least 64 KiB)
#   down=1            start with the link cut (linkemu drops everything)
#   seed=N            linkemu PRNG seed (default: derived from the link index, reproducible)
#   e.g.  topo_hybrid A:rate=20mbit,delay=10 B:rate=30mbit,delay=25,loss=0.5
#
# Variables set by the builders (X = link name; LINKS lists the names in order):
#   NS_GW NS_CV [NS_LAN NS_SRV] NS_HOST    namespace names (unique per run: mpc-PID-RAND-role)
#   CV_ADDR4 CV_ADDR6                      converter service address (on cv's lo)
#   LAN_ADDR4/6 GW_LAN4/6 LAN_IF LAN_IF_GW lan host, gw's LAN address, interfaces (hybrid)
#   SRV_ADDR4/6 CV_SRV4/6 SRV_IF SRV_IF_CV server, cv's server-side address (hybrid, single)
#   LINK_X_NS                              the link's emulator namespace
#   LINK_X_IF_GW LINK_X_IF_CV              wanX (in gw), accX (in cv)
#   LINK_X_IF_EMU_GW LINK_X_IF_EMU_CV      to-gw, to-cv (in the emulator namespace)
#   LINK_X_GW4 LINK_X_CV4 LINK_X_GW6 LINK_X_CV6 LINK_X_NET4 LINK_X_NET6
#   LINK_X_TABLE LINK_X_INDEX LINK_X_RATE_UP LINK_X_RATE_DOWN LINK_X_DELAY_UP ...
#   LINKEMU MPBULK                         the tools, from $MPCONV_BUILD/tests/tools
#   MPCONVD TESTSERVER                     the daemon (env MPCONVD overrides), tools/testserver.py
#
# Functions (details above each one):
#   TAP        plan N | ok DESC | not_ok DESC | check DESC CMD... | skip DESC WHY | diag TEXT...
#              skip_all WHY | bail WHY | fcmp A OP B (float compare) | kv KEY LINE
#   Bed        require_bed (skip_all unless root, ip netns, MPTCP, tools) | bed_check
#              ns_name ROLE | ns_add NS | n NS CMD... (prints, then runs) | nq NS CMD... (quiet)
#              bed_start NS NAME CMD... | bed_stop NAME | bed_pid NAME | bed_log NAME
#              wait_for SECS CMD... | wait_listen NS [ADDR:]PORT [SECS] | wait_file FILE [SECS]
#              at_cleanup CMD | bed_cleanup
#   mpconvd    require_gateway (require_bed, mpconvd built, nft) | start_converter [ARGS...]
#              start_gateway [ARGS...] | wait_upstreams N [SECS]
#   Topology   topo_hybrid SPEC... | topo_single SPEC... | topo_pair SPEC... | topo_describe
#              link_var X FIELD (= $LINK_X_FIELD, for a link name held in a variable)
#   LAN        lan_hosts N (more LAN hosts: LAN_HOSTS4/6 arrays)
#   Links      link_down X | link_up X [--restore] | restore_routes X | link_cut X
#              link_restore X | link_set X key=value... | link_stats X
#   MPTCP      mptcp_limits NS SUBFLOWS ADD_ADDR_ACCEPTED | mptcp_endpoint_add NS ADDR DEV [FLAGS]
#              mptcp_multilink [FLAGS] | bed_sysctl NS key=value...
#   Mechanism  nstat_reset NS | nstat_ns NS [NAME...] | nstat_delta NS NAME
#              count_subflows NS [SS FILTER] | max_subflows_while PID NS [FILTER]
#              assert_no_fallback NS (counters in BED_FALLBACK_COUNTERS) | dump_state NS...
#   Measure    ping_rtt_ms NS ADDR COUNT [INTERVAL] | ping_rtt (min avg max mdev)
#              tcp_exchange NS HOST PORT TEXT (one request/reply, "reset" or "timeout") | ping_rtt_list
#              ping_loss_pct NS ADDR COUNT [INTERVAL]
#              bulk_server NS PORT [ARGS] | bulk_client NS HOST PORT [ARGS] (prints the line)
#
# What a test runs prints itself, netns.sh-style, as "# [ns] command" diag lines on the TAP stream
# (n, bed_start, link_*): a failing log reads top to bottom. Polling helpers use the quiet nq.
#
# Environment: MPCONV_BUILD (build dir, default build/gcc of this tree), VERBOSE=1 (also print
# every topology step; outside TAP runs, print what n runs, on stderr), BED_DAEMON_TIMEOUT (cap
# on any daemon, default 900 s), BED_LINKEMU_ARGS (extra linkemu options, e.g. "--rt-prio 10"),
# BED_TAP=0 (not a TAP run: nothing printed unless VERBOSE=1, and bail prints "FAILED: ..." on
# stderr instead of a "not ok" line).

BED_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MPCONV_BUILD=${MPCONV_BUILD:-$BED_TOP/build/gcc}
LINKEMU=$MPCONV_BUILD/tests/tools/linkemu
MPBULK=$MPCONV_BUILD/tests/tools/mpbulk
MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
TESTSERVER=$BED_TOP/tests/tools/testserver.py
VERBOSE=${VERBOSE:-0}
BED_DAEMON_TIMEOUT=${BED_DAEMON_TIMEOUT:-900}
BED_LINKEMU_ARGS=${BED_LINKEMU_ARGS:-}
BED_TAP=${BED_TAP:-1}

BED_ID=mpc-$$-$RANDOM
BED_TMP=$(mktemp -d /tmp/mpc-bed.XXXXXX)
BED_NETNS=()
declare -A BED_PID=()
BED_HOOKS=()
BED_MISSING=
LINKS=
# The TAP stream as it was when this file was sourced: what a test runs is printed there, so a
# command whose output the test captures, $(n NS CMD 2>&1), does not capture the line naming it.
exec {BED_OUT}>&1

# ---------------------------------------------------------------------------------------------
# TAP

TAP_N=0
TAP_FAILED=0

# plan N: prints the TAP plan; call it once, before the first result.
plan()
{
	echo "1..$1"
}

ok()
{
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $*"
}

not_ok()
{
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $*"
}

# skip DESC WHY: a result that did not run.
skip()
{
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1 # SKIP $2"
}

# behaviour VALID PRESENT DESC WORKAROUND: not ok unless the probe gave an answer (VALID=1);
# then ok when the behaviour is present, a skip naming the work-around when it is gone.
behaviour()
{
	local name="kernel behaviour, informational (SKIP when gone): $3"
	if [ "$1" != 1 ]; then
		not_ok "$name"
		diag "the probe gave no answer to judge by (see the lines above)"
	elif [ "$2" = 1 ]; then
		ok "$name"
	else
		skip "$name" "no longer true here: $4"
	fi
}

# diag TEXT...: each argument, and each line in it, as a "# " line.
diag()
{
	local line
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/# /'
	done
}

# skip_all WHY: the whole script cannot run here.
skip_all()
{
	echo "1..0 # SKIP $*"
	exit 0
}

# bail WHY: a failure that makes the rest meaningless (topology setup...): one failing line, exit.
# Outside TAP runs (BED_TAP=0, e.g. the demo) it prints "FAILED: WHY" on stderr instead.
bail()
{
	if [ "$BED_TAP" = 1 ]; then
		not_ok "$*"
	else
		echo "FAILED: $*" >&2
	fi
	exit 1
}

# check DESC CMD...: runs CMD; ok when it succeeds. CMD's output (stdout and stderr) follows as
# diag lines, so a check prints what it measured; keep CMD quiet otherwise. Returns its status.
check()
{
	local _chk_desc=$1 _chk_out _chk_rc
	shift
	_chk_out=$("$@" 2>&1)
	_chk_rc=$?
	if [ "$_chk_rc" -eq 0 ]; then
		ok "$_chk_desc"
		[ -n "$_chk_out" ] && diag "$_chk_out"
	else
		not_ok "$_chk_desc"
		[ -n "$_chk_out" ] && diag "$_chk_out"
		diag "(exit $_chk_rc: $*)"
	fi
	return "$_chk_rc"
}

# fcmp A OP B: floating-point comparison, OP one of < <= > >= == !=.
fcmp()
{
	awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
		if (a == "" || b == "") exit 1
		if (op == "<") r = a + 0 < b + 0; else if (op == "<=") r = a + 0 <= b + 0
		else if (op == ">") r = a + 0 > b + 0; else if (op == ">=") r = a + 0 >= b + 0
		else if (op == "==") r = a + 0 == b + 0; else if (op == "!=") r = a + 0 != b + 0
		else exit 2
		exit !r }'
}

# kv KEY LINE: the value of KEY=value in a line of key=value words (mpbulk's result line).
kv()
{
	local word
	for word in $2; do
		case $word in
		"$1="*) echo "${word#*=}"; return 0 ;;
		esac
	done
	return 1
}

# ---------------------------------------------------------------------------------------------
# Prerequisites, namespaces, daemons, cleanup

# bed_check: 0 when the bed can run here; otherwise 1 with the reason in BED_MISSING.
bed_check()
{
	local c probe
	if [ "$(id -u)" -ne 0 ]; then
		BED_MISSING="needs root (network namespaces)"
		return 1
	fi
	for c in ip tc ss nstat ethtool ping timeout awk sysctl; do
		if ! command -v "$c" >/dev/null; then
			BED_MISSING="missing command '$c'"
			return 1
		fi
	done
	if ! ip netns list >/dev/null 2>&1; then
		BED_MISSING="'ip netns' does not work here"
		return 1
	fi
	if [ ! -x "$LINKEMU" ] || [ ! -x "$MPBULK" ]; then
		BED_MISSING="test tools not built in $MPCONV_BUILD/tests/tools (linkemu, mpbulk)"
		return 1
	fi
	probe=$(ns_name probe)
	if ! ns_add "$probe" 2>/dev/null; then
		BED_MISSING="cannot create a network namespace"
		return 1
	fi
	if [ "$(ip netns exec "$probe" sysctl -n net.mptcp.enabled 2>/dev/null)" != 1 ]; then
		BED_MISSING="no MPTCP in this kernel (net.mptcp.enabled != 1 in a new netns)"
		ns_del "$probe"
		return 1
	fi
	ns_del "$probe"
	return 0
}

# require_bed: skip_all unless root, ip netns, MPTCP and the built tools are all here.
require_bed()
{
	bed_check || skip_all "$BED_MISSING"
}

# ns_name ROLE: this run's namespace name for ROLE.
ns_name()
{
	echo "$BED_ID-$1"
}

# ns_add NS: creates NS (removed by the cleanup trap) with lo up and the bed's sysctls.
ns_add()
{
	local ns=$1
	BED_NETNS+=("$ns")
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up
	# set before any interface exists, so "default" covers the ones created later
	ip netns exec "$ns" sh -c '
		for k in all default; do
			sysctl -qw net.ipv4.conf.$k.rp_filter=0
			sysctl -qw net.ipv6.conf.$k.accept_dad=0
			sysctl -qw net.ipv6.conf.$k.keep_addr_on_down=1
			sysctl -qw net.ipv6.conf.$k.accept_ra=0
		done
		sysctl -qw net.mptcp.blackhole_timeout=0 2>/dev/null || true
	'
}

ns_del()
{
	local ns=$1 pid
	for pid in $(ip netns pids "$ns" 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null
	done
	ip netns del "$ns" 2>/dev/null
}

# _bed_say TEXT: one "# TEXT" line on the TAP stream (outside TAP runs: on stderr, VERBOSE=1 only).
_bed_say()
{
	if [ "$BED_TAP" = 1 ]; then
		diag "$*" >&"$BED_OUT"
	elif [ "$VERBOSE" = 1 ]; then
		diag "$*" >&2
	fi
	return 0
}

# _bed_cmdline CMD...: CMD for a person to read: this tree's and the build's paths shortened to
# their file name, arguments with spaces quoted, a multi-line script cut to its first line.
_bed_cmdline()
{
	local a out=
	for a in "$@"; do
		case $a in
		"$MPCONV_BUILD"/* | "$BED_TOP"/*) a=${a##*/} ;;
		esac
		if [[ $a == *$'\n'* ]]; then
			a=${a#"${a%%[![:space:]]*}"}
			a="${a%%$'\n'*} ..."
		fi
		[[ -z $a || $a == *[[:space:]\'\"\$\;\&\|\<\>\(\)]* ]] && a="'$a'"
		out+=" $a"
	done
	printf '%s' "${out# }"
}

# n NS CMD...: prints "# [role] CMD" on the TAP stream, then runs CMD in namespace NS. For what a
# test does; a helper that polls uses nq.
n()
{
	local ns=$1
	shift
	_bed_say "[${ns#"$BED_ID"-}] $(_bed_cmdline "$@")"
	ip netns exec "$ns" "$@"
}

# nq NS CMD...: n without the line (polling, probing, measuring inside helpers).
nq()
{
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# bed_start NS NAME CMD...: starts daemon NAME in NS, under timeout BED_DAEMON_TIMEOUT, with
# stdout in $BED_TMP/NAME.out and stderr in $BED_TMP/NAME.err. Does not wait for readiness.
bed_start()
{
	local ns=$1 name=$2
	shift 2
	if [ -n "${BED_PID[$name]:-}" ] && kill -0 "${BED_PID[$name]}" 2>/dev/null; then
		diag "bed_start: daemon $name is already running"
		return 1
	fi
	_bed_say "[${ns#"$BED_ID"-}] (daemon $name) $(_bed_cmdline "$@")"
	timeout --kill-after=5 "$BED_DAEMON_TIMEOUT" ip netns exec "$ns" "$@" \
		>"$BED_TMP/$name.out" 2>"$BED_TMP/$name.err" </dev/null {BED_OUT}>&- &
	BED_PID[$name]=$!
}

# bed_pid NAME: pid of the timeout wrapper around daemon NAME (signals are forwarded to it).
bed_pid()
{
	echo "${BED_PID[$1]:-}"
}

# bed_log NAME: the daemon's stdout then stderr.
bed_log()
{
	cat "$BED_TMP/$1.out" "$BED_TMP/$1.err" 2>/dev/null
}

# bed_stop NAME [SIGNAL]: signals daemon NAME (TERM), waits up to 5 s, then kills it.
# Returns the daemon's exit status.
bed_stop()
{
	local name=$1 sig=${2:-TERM} pid rc=0
	pid=${BED_PID[$name]:-}
	[ -n "$pid" ] || return 0
	# timeout passes TERM, INT, HUP... on to the daemon but cannot pass KILL (it dies of it):
	# KILL goes to the whole group, which timeout leads
	if [ "$sig" = KILL ]; then
		kill -KILL -- "-$pid" 2>/dev/null
	else
		kill -"$sig" "$pid" 2>/dev/null
	fi
	# timeout leads its own process group: KILL the group, or the daemon would outlive it
	wait_for 5 _bed_gone "$pid" || kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || rc=$?
	unset "BED_PID[$name]"
	return "$rc"
}

_bed_gone()
{
	! kill -0 "$1" 2>/dev/null
}

# wait_for SECS CMD...: polls CMD every 50 ms until it succeeds; 1 if SECS (decimals ok) pass
# first.
wait_for()
{
	local secs=$1 deadline
	shift
	deadline=$((${EPOCHREALTIME/./} + $(awk -v s="$secs" 'BEGIN { printf "%d", s * 1e6 }')))
	until "$@" >/dev/null 2>&1; do
		[ "${EPOCHREALTIME/./}" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# _bed_listening NS [ADDR:]PORT: something listens on PORT (on ADDR, as ss prints it: 10.0.0.1,
# [fd00::1], *) in NS.
_bed_listening()
{
	local port=${2##*:}
	ip netns exec "$1" ss -ltnH "sport = :$port" 2>/dev/null |
		awk -v want="$2" -v port="$port" '
			want == port || $4 == want { found = 1 } END { exit !found }'
}

# wait_listen NS [ADDR:]PORT [SECS]: waits until something listens on TCP PORT (on ADDR if
# given, e.g. 10.99.0.1:5124) in NS (MPTCP too).
wait_listen()
{
	wait_for "${3:-10}" _bed_listening "$1" "$2"
}

# wait_file FILE [SECS]: waits until FILE exists and is not empty.
wait_file()
{
	wait_for "${2:-10}" test -s "$1"
}

# at_cleanup CMD: a command string run (eval) by the cleanup, before daemons are stopped.
at_cleanup()
{
	BED_HOOKS+=("$1")
}

# bed_cleanup: runs hooks, stops every daemon, deletes every namespace and the temp dir.
# Installed as the EXIT trap; keeps the script's exit status.
bed_cleanup()
{
	local rc=$? hook name ns i
	trap - EXIT
	for hook in "${BED_HOOKS[@]}"; do
		eval "$hook" >/dev/null 2>&1
	done
	for name in "${!BED_PID[@]}"; do
		kill -TERM "${BED_PID[$name]}" 2>/dev/null
	done
	for name in "${!BED_PID[@]}"; do
		wait_for 3 _bed_gone "${BED_PID[$name]}" || kill -KILL -- "-${BED_PID[$name]}" 2>/dev/null
		wait "${BED_PID[$name]}" 2>/dev/null
	done
	for ((i = ${#BED_NETNS[@]} - 1; i >= 0; i--)); do
		ns=${BED_NETNS[$i]}
		ns_del "$ns"
	done
	rm -rf "$BED_TMP"
	exit "$rc"
}

trap bed_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Topology

CV_ADDR4=10.99.0.1
CV_ADDR6=fd00:99::1

# _bx CMD...: a topology step that must work; on failure shows it and bails out.
_bx()
{
	local out
	[ "$VERBOSE" = 1 ] && diag "$*" >&2
	if ! out=$("$@" 2>&1); then
		diag "topology step failed: $*" "$out"
		bail "test bed setup"
	fi
}

# _nx NS CMD...: _bx inside a namespace.
_nx()
{
	local ns=$1
	shift
	_bx ip netns exec "$ns" "$@"
}

# link_var X FIELD: the value of LINK_X_FIELD.
link_var()
{
	local v=LINK_${1}_$2
	echo "${!v:-}"
}

_link_set_var()
{
	printf -v "LINK_${1}_$2" '%s' "$3"
}

# _rate_bps RATE: bits per second of a tc rate (bit, kbit, mbit, gbit), or 0 for none.
_rate_bps()
{
	awk -v r="$1" 'BEGIN {
		if (r == "" || r == "none") { print 0; exit 0 }
		if (!match(r, /^[0-9.]+/)) exit 1
		v = substr(r, 1, RLENGTH); u = tolower(substr(r, RLENGTH + 1))
		if (u == "bit") m = 1; else if (u == "kbit") m = 1e3
		else if (u == "mbit") m = 1e6; else if (u == "gbit") m = 1e9
		else exit 1
		printf "%d\n", v * m }'
}

# _link_parse X SPEC-KEYS: sets LINK_X_* parameters from "key=value,..." (over the current ones).
_link_parse()
{
	local x=$1 keys=$2 kvp k v
	local IFS=,
	for kvp in $keys; do
		[ -n "$kvp" ] || continue
		k=${kvp%%=*}
		v=${kvp#*=}
		[ "$k" != "$kvp" ] || v=1
		case $k in
		rate) _link_set_var "$x" RATE_UP "$v"; _link_set_var "$x" RATE_DOWN "$v" ;;
		rate_up) _link_set_var "$x" RATE_UP "$v" ;;
		rate_down) _link_set_var "$x" RATE_DOWN "$v" ;;
		delay) _link_set_var "$x" DELAY_UP "$v"; _link_set_var "$x" DELAY_DOWN "$v" ;;
		delay_up) _link_set_var "$x" DELAY_UP "$v" ;;
		delay_down) _link_set_var "$x" DELAY_DOWN "$v" ;;
		jitter) _link_set_var "$x" JITTER_UP "$v"; _link_set_var "$x" JITTER_DOWN "$v" ;;
		jitter_up) _link_set_var "$x" JITTER_UP "$v" ;;
		jitter_down) _link_set_var "$x" JITTER_DOWN "$v" ;;
		loss) _link_set_var "$x" LOSS_UP "$v"; _link_set_var "$x" LOSS_DOWN "$v" ;;
		loss_up) _link_set_var "$x" LOSS_UP "$v" ;;
		loss_down) _link_set_var "$x" LOSS_DOWN "$v" ;;
		limit) _link_set_var "$x" LIMIT "$v" ;;
		down) _link_set_var "$x" START_DOWN "$v" ;;
		seed) _link_set_var "$x" SEED "$v" ;;
		*)
			diag "link $x: unknown key '$k' in '$keys'"
			return 1
			;;
		esac
		case $k in
		rate*) _rate_bps "$v" >/dev/null || { diag "link $x: bad rate '$v'"; return 1; } ;;
		delay* | jitter* | loss* | limit | seed)
			[[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || { diag "link $x: bad $k '$v'"; return 1; } ;;
		esac
	done
}

# _tbf NS DEV RATE DELAY_RTT_MS LIMIT: shapes DEV's egress (or removes shaping for rate none).
# burst: 10 full frames or 2 ms at the rate; queue: one BDP at least 64 KiB, like a router.
_tbf()
{
	local ns=$1 dev=$2 rate=$3 rtt=$4 limit=$5 bps burst
	bps=$(_rate_bps "$rate")
	if [ "$bps" -eq 0 ]; then
		ip -n "$ns" link show "$dev" >/dev/null && \
			{ tc -n "$ns" qdisc del dev "$dev" root 2>/dev/null; true; }
		return
	fi
	burst=$(awk -v b="$bps" 'BEGIN { x = b / 8 * 0.002; printf "%d", (x > 15140 ? x : 15140) }')
	[ -n "$limit" ] ||
		limit=$(awk -v b="$bps" -v r="$rtt" \
			'BEGIN { x = b / 8 * r / 1000; printf "%d", (x > 65536 ? x : 65536) }')
	tc -n "$ns" qdisc replace dev "$dev" root tbf rate "$rate" burst "$burst" limit "$limit"
}

# _link_apply X: (re)applies tbf and (re)starts linkemu for link X with its current parameters.
_link_apply()
{
	local x=$1 ns rtt args=()
	ns=$(link_var "$x" NS)
	rtt=$(awk -v u="$(link_var "$x" DELAY_UP)" -v d="$(link_var "$x" DELAY_DOWN)" \
		'BEGIN { print u + d }')
	_bx _tbf "$ns" to-cv "$(link_var "$x" RATE_UP)" "$rtt" "$(link_var "$x" LIMIT)"
	_bx _tbf "$ns" to-gw "$(link_var "$x" RATE_DOWN)" "$rtt" "$(link_var "$x" LIMIT)"

	bed_stop "linkemu-$x"
	rm -f "$BED_TMP/linkemu-$x.pid"
	args=(--pidfile "$BED_TMP/linkemu-$x.pid" --seed "$(link_var "$x" SEED)"
		--delay-ab "$(link_var "$x" DELAY_UP)" --delay-ba "$(link_var "$x" DELAY_DOWN)"
		--jitter-ab "$(link_var "$x" JITTER_UP)" --jitter-ba "$(link_var "$x" JITTER_DOWN)"
		--loss-ab "$(link_var "$x" LOSS_UP)" --loss-ba "$(link_var "$x" LOSS_DOWN)")
	[ "$(link_var "$x" START_DOWN)" = 1 ] && args+=(--down)
	# shellcheck disable=SC2206 # word splitting wanted: extra options
	args+=($BED_LINKEMU_ARGS)
	bed_start "$ns" "linkemu-$x" "$LINKEMU" "${args[@]}" to-gw to-cv
	if ! wait_file "$BED_TMP/linkemu-$x.pid" 5; then
		diag "linkemu for link $x did not start:" "$(bed_log "linkemu-$x")"
		bail "test bed setup: linkemu $x"
	fi
	_link_set_var "$x" PID "$(cat "$BED_TMP/linkemu-$x.pid")"
}

# _link_add INDEX SPEC: creates link INDEX (1-based) from SPEC between NS_GW and NS_CV.
_link_add()
{
	local i=$1 spec=$2 x keys ns ifg ifc kv
	x=${spec%%:*}
	keys=
	[ "$x" != "$spec" ] && keys=${spec#*:}
	x=${x^^}
	[[ $x =~ ^[A-Z0-9]{1,8}$ ]] || { diag "bad link name in '$spec'"; bail "test bed setup"; }
	case " $LINKS " in *" $x "*) diag "link $x given twice"; bail "test bed setup" ;; esac
	LINKS=${LINKS:+$LINKS }$x

	ns=$(ns_name "emu$x")
	ifg=wan$x
	ifc=acc$x
	for kv in NS="$ns" IF_GW="$ifg" IF_CV="$ifc" IF_EMU_GW=to-gw IF_EMU_CV=to-cv INDEX="$i" \
		GW4=10.10.$i.1 CV4=10.10.$i.2 NET4=10.10.$i.0/24 \
		GW6=fd00:10:$i::1 CV6=fd00:10:$i::2 NET6=fd00:10:$i::/64 TABLE=$((100 + i)) \
		RATE_UP=none RATE_DOWN=none DELAY_UP=0 DELAY_DOWN=0 JITTER_UP=0 JITTER_DOWN=0 \
		LOSS_UP=0 LOSS_DOWN=0 LIMIT= START_DOWN=0 SEED=$((1000 + i)); do
		_link_set_var "$x" "${kv%%=*}" "${kv#*=}"
	done
	_link_parse "$x" "$keys" || bail "test bed setup: link spec '$spec'"

	ns_add "$ns" || bail "test bed setup: namespace $ns"
	_nx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	_bx ip link add "$ifg" netns "$NS_GW" type veth peer name to-gw netns "$ns"
	_bx ip link add "$ifc" netns "$NS_CV" type veth peer name to-cv netns "$ns"
	# Offloads off, or linkemu captures partial-checksum frames and GSO super-frames.
	_nx "$NS_GW" ethtool -K "$ifg" tx off tso off gso off gro off
	_nx "$NS_CV" ethtool -K "$ifc" tx off tso off gso off gro off
	_nx "$ns" ethtool -K to-gw rx off tx off tso off gso off gro off
	_nx "$ns" ethtool -K to-cv rx off tx off tso off gso off gro off
	_bx ip -n "$ns" link set to-gw up
	_bx ip -n "$ns" link set to-cv up

	_bx ip -n "$NS_GW" addr add "10.10.$i.1/24" dev "$ifg"
	_bx ip -n "$NS_GW" addr add "fd00:10:$i::1/64" dev "$ifg" nodad
	_bx ip -n "$NS_GW" link set "$ifg" up
	_bx ip -n "$NS_CV" addr add "10.10.$i.2/24" dev "$ifc"
	_bx ip -n "$NS_CV" addr add "fd00:10:$i::2/64" dev "$ifc" nodad
	_bx ip -n "$NS_CV" link set "$ifc" up
	# BED_SRC_ROUTES=0: no per-source rules, for tests of a daemon that makes its own.
	if [ "${BED_SRC_ROUTES:-1}" = 1 ]; then
		_bx ip -n "$NS_GW" rule add from "10.10.$i.1" lookup $((100 + i)) pref $((100 + i))
		_bx ip -n "$NS_GW" -6 rule add from "fd00:10:$i::1" lookup $((100 + i)) pref $((100 + i))
	fi
	_bx restore_routes "$x"
	_link_apply "$x"
}

# restore_routes X: (re)adds the bed's gw routes for link X, which "ip link set down" deletes:
# the per-source table, and the main default route when X is the first link.
restore_routes()
{
	local x=$1 i ifg
	i=$(link_var "$x" INDEX)
	ifg=$(link_var "$x" IF_GW)
	[ -n "$i" ] || return 1
	ip -n "$NS_GW" route replace "10.10.$i.0/24" dev "$ifg" src "10.10.$i.1" table $((100 + i)) &&
	ip -n "$NS_GW" route replace default via "10.10.$i.2" dev "$ifg" table $((100 + i)) &&
	ip -n "$NS_GW" -6 route replace "fd00:10:$i::/64" dev "$ifg" table $((100 + i)) &&
	ip -n "$NS_GW" -6 route replace default via "fd00:10:$i::2" dev "$ifg" table $((100 + i)) ||
		return 1
	if [ "$i" = 1 ]; then
		ip -n "$NS_GW" route replace default via "10.10.$i.2" dev "$ifg" &&
		ip -n "$NS_GW" -6 route replace default via "fd00:10:$i::2" dev "$ifg" || return 1
	fi
}

# _veth NS_A IF_A NS_B IF_B ADDR_A4 ADDR_B4 ADDR_A6 ADDR_B6 (prefixes included): a plain segment.
_veth()
{
	_bx ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	_bx ip -n "$1" addr add "$5" dev "$2"
	_bx ip -n "$1" addr add "$7" dev "$2" nodad
	_bx ip -n "$3" addr add "$6" dev "$4"
	_bx ip -n "$3" addr add "$8" dev "$4" nodad
	_bx ip -n "$1" link set "$2" up
	_bx ip -n "$3" link set "$4" up
}

_forwarding()
{
	_nx "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

_topo_ping()
{
	nq "$1" ping -q -c 1 -W 1 "$2"
}

# _topo_build MODE SPEC...: MODE is hybrid, single or pair.
_topo_build()
{
	local mode=$1 i=0 spec x
	shift
	[ $# -ge 1 ] || bail "topo_$mode: give at least one link spec"
	[ -z "$LINKS" ] || bail "topo_$mode: one topology per test run"
	BED_MODE=$mode
	NS_GW=$(ns_name gw)
	NS_CV=$(ns_name cv)
	NS_HOST=$NS_GW
	NS_LAN=
	NS_SRV=
	ns_add "$NS_GW" || bail "test bed setup: namespace $NS_GW"
	ns_add "$NS_CV" || bail "test bed setup: namespace $NS_CV"
	_bx ip -n "$NS_CV" addr add "$CV_ADDR4/32" dev lo
	_bx ip -n "$NS_CV" addr add "$CV_ADDR6/128" dev lo
	for spec in "$@"; do
		i=$((i + 1))
		_link_add "$i" "$spec"
	done

	if [ "$mode" != pair ]; then
		NS_SRV=$(ns_name srv)
		SRV_IF=eth0 SRV_IF_CV=srv0
		SRV_ADDR4=10.0.2.2 CV_SRV4=10.0.2.1 SRV_ADDR6=fd00:2::2 CV_SRV6=fd00:2::1
		ns_add "$NS_SRV" || bail "test bed setup: namespace $NS_SRV"
		_veth "$NS_CV" srv0 "$NS_SRV" eth0 10.0.2.1/24 10.0.2.2/24 fd00:2::1/64 fd00:2::2/64
		_bx ip -n "$NS_SRV" route add default via "$CV_SRV4"
		_bx ip -n "$NS_SRV" -6 route add default via "$CV_SRV6"
		_forwarding "$NS_CV"
	fi
	if [ "$mode" = hybrid ]; then
		NS_LAN=$(ns_name lan)
		LAN_IF=eth0 LAN_IF_GW=lan0
		LAN_ADDR4=10.0.1.2 GW_LAN4=10.0.1.1 LAN_ADDR6=fd00:1::2 GW_LAN6=fd00:1::1
		ns_add "$NS_LAN" || bail "test bed setup: namespace $NS_LAN"
		_veth "$NS_GW" lan0 "$NS_LAN" eth0 10.0.1.1/24 10.0.1.2/24 fd00:1::1/64 fd00:1::2/64
		_bx ip -n "$NS_LAN" route add default via "$GW_LAN4"
		_bx ip -n "$NS_LAN" -6 route add default via "$GW_LAN6"
		x=${LINKS%% *}
		_bx ip -n "$NS_CV" route add 10.0.1.0/24 via "$(link_var "$x" GW4)"
		_bx ip -n "$NS_CV" -6 route add fd00:1::/64 via "$(link_var "$x" GW6)"
	fi
	_forwarding "$NS_GW"

	# Ready when every link that starts up and lossless answers a ping both ways, v4 and v6.
	for x in $LINKS; do
		[ "$(link_var "$x" START_DOWN)" = 1 ] && continue
		fcmp "$(link_var "$x" LOSS_UP)" == 0 && fcmp "$(link_var "$x" LOSS_DOWN)" == 0 ||
			continue
		wait_for 5 _topo_ping "$NS_GW" "$(link_var "$x" CV4)" &&
			wait_for 5 _topo_ping "$NS_GW" "$(link_var "$x" CV6)" || {
			dump_state "$NS_GW" "$NS_CV"
			bail "test bed setup: no ping across link $x"
		}
	done
	return 0
}

# topo_hybrid SPEC...: lan ── gw ══ links ══ cv ── srv (see the top of this file).
topo_hybrid()
{
	_topo_build hybrid "$@"
}

# lan_hosts N (hybrid): N more LAN hosts behind the gateway, as addresses of the lan namespace
# (10.0.1.3..., fd00:1::3...; a host is an address to the gateway, which limits per host). Sets
# LAN_HOSTS4 and LAN_HOSTS6 (arrays; [0] is LAN_ADDR4/6, the first host). Clients bind to one.
lan_hosts()
{
	local i
	[ -n "$NS_LAN" ] || bail "lan_hosts: only on topo_hybrid"
	LAN_HOSTS4=("$LAN_ADDR4")
	LAN_HOSTS6=("$LAN_ADDR6")
	for ((i = 3; i < $1 + 3; i++)); do
		_bx ip -n "$NS_LAN" addr add "10.0.1.$i/24" dev "$LAN_IF"
		_bx ip -n "$NS_LAN" addr add "fd00:1::$i/64" dev "$LAN_IF" nodad
		LAN_HOSTS4+=("10.0.1.$i")
		LAN_HOSTS6+=("fd00:1::$i")
	done
}

# topo_single SPEC...: a multi-homed MPTCP host (NS_GW = NS_HOST) ══ links ══ cv ── srv.
topo_single()
{
	_topo_build single "$@"
}

# topo_pair SPEC...: NS_GW ══ links ══ NS_CV, nothing else.
topo_pair()
{
	_topo_build pair "$@"
}

# topo_describe: the topology and its link parameters, as diag lines.
topo_describe()
{
	local x
	case $BED_MODE in
	hybrid) diag "topology: lan ── gw ══ {$LINKS} ══ cv ── srv   (cv service $CV_ADDR4 $CV_ADDR6)" ;;
	single) diag "topology: host ══ {$LINKS} ══ cv ── srv   (cv service $CV_ADDR4 $CV_ADDR6)" ;;
	pair) diag "topology: gw ══ {$LINKS} ══ cv   (cv service $CV_ADDR4 $CV_ADDR6)" ;;
	esac
	for x in $LINKS; do
		diag "$(printf 'link %-3s gw %-9s %-12s cv %-9s up: %s %sms jitter %sms loss %s%%  down: %s %sms jitter %sms loss %s%%' \
			"$x" "$(link_var "$x" IF_GW)" "$(link_var "$x" GW4)" "$(link_var "$x" CV4)" \
			"$(link_var "$x" RATE_UP)" "$(link_var "$x" DELAY_UP)" \
			"$(link_var "$x" JITTER_UP)" "$(link_var "$x" LOSS_UP)" \
			"$(link_var "$x" RATE_DOWN)" "$(link_var "$x" DELAY_DOWN)" \
			"$(link_var "$x" JITTER_DOWN)" "$(link_var "$x" LOSS_DOWN)")"
	done
}

# ---------------------------------------------------------------------------------------------
# Link control

# link_down X: "ip link set down" on gw's side of link X: the realistic failure. The kernel
# deletes the IPv4 routes through it (main and per-source table) and does not restore them.
link_down()
{
	_bed_say "link $1: down ([gw] ip link set $(link_var "$1" IF_GW) down)"
	ip -n "$NS_GW" link set "$(link_var "$1" IF_GW)" down
}

# link_up X [--restore]: sets it up again; with --restore, also re-adds the bed's routes.
link_up()
{
	_bed_say "link $1: up ([gw] ip link set $(link_var "$1" IF_GW) up)${2:+, routes restored by the bed}"
	ip -n "$NS_GW" link set "$(link_var "$1" IF_GW)" up || return 1
	[ "${2:-}" = --restore ] && restore_routes "$1"
	return 0
}

# link_cut X / link_restore X: silent blackhole in the emulator (SIGUSR1/SIGUSR2): every packet
# is dropped, both ways, interfaces and routes stay as they are.
link_cut()
{
	_bed_say "link $1: cut (the emulator drops everything)"
	kill -USR1 "$(link_var "$1" PID)"
}

link_restore()
{
	_bed_say "link $1: restored"
	kill -USR2 "$(link_var "$1" PID)"
}

# link_set X key=value...: changes link X's parameters (same keys as the spec), re-applies tbf
# and restarts its linkemu (packets queued in the emulator at that moment are lost). Keys not
# given keep their value, down=1 included (give down=0 to start the new emulator up).
link_set()
{
	local x=${1^^}
	shift
	local IFS=,
	_link_parse "$x" "$*" || return 1
	unset IFS
	_link_apply "$x"
}

# link_stats X: linkemu's current counters for link X (two lines, ab = up, ba = down).
link_stats()
{
	local x=$1 before
	before=$(grep -c ' rx=' "$BED_TMP/linkemu-$x.err" 2>/dev/null)
	kill -HUP "$(link_var "$x" PID)" || return 1
	wait_for 2 _bed_lines_grew "$BED_TMP/linkemu-$x.err" "$((before + 2))" || return 1
	grep ' rx=' "$BED_TMP/linkemu-$x.err" | tail -n 2
}

_bed_lines_grew()
{
	[ "$(grep -c ' rx=' "$1")" -ge "$2" ]
}

# ---------------------------------------------------------------------------------------------
# MPTCP setup

# mptcp_limits NS SUBFLOWS ADD_ADDR_ACCEPTED
mptcp_limits()
{
	ip -n "$1" mptcp limits set subflows "$2" add_addr_accepted "$3"
}

# mptcp_endpoint_add NS ADDR DEV [FLAGS...]: FLAGS default to "subflow".
mptcp_endpoint_add()
{
	local ns=$1 addr=$2 dev=$3
	shift 3
	[ $# -gt 0 ] || set -- subflow
	ip -n "$ns" mptcp endpoint add "$addr" dev "$dev" "$@"
}

# mptcp_multilink [FLAGS...]: the plain kernel-PM setup for multi-link MPTCP from gw to cv: a
# "subflow" endpoint (or FLAGS) on gw for the v4 and v6 address of every link but the first
# (the initial subflow leaves by the main route, link 1), limits 8/8 on both sides.
mptcp_multilink()
{
	local x
	for x in $LINKS; do
		[ "$(link_var "$x" INDEX)" = 1 ] && continue
		mptcp_endpoint_add "$NS_GW" "$(link_var "$x" GW4)" "$(link_var "$x" IF_GW)" "$@" &&
		mptcp_endpoint_add "$NS_GW" "$(link_var "$x" GW6)" "$(link_var "$x" IF_GW)" "$@" ||
			return 1
	done
	mptcp_limits "$NS_GW" 8 8 && mptcp_limits "$NS_CV" 8 8
}

# bed_sysctl NS key=value...: sets each sysctl that exists in NS (missing ones are skipped).
bed_sysctl()
{
	local ns=$1 kv
	shift
	for kv in "$@"; do
		nq "$ns" sysctl -n "${kv%%=*}" >/dev/null 2>&1 || continue
		n "$ns" sysctl -qw "$kv" || return 1
	done
}

# ---------------------------------------------------------------------------------------------
# mpconvd: the daemon under test, as most gateway tests start it

# require_gateway: skip_all unless the bed runs here (require_bed), mpconvd is built and nft (the
# gateway's interception) is installed.
require_gateway()
{
	require_bed
	[ -x "$MPCONVD" ] || skip_all "mpconvd not built in $MPCONV_BUILD"
	command -v nft >/dev/null || skip_all "nft not installed"
}

# _bed_has OPT ARGS...: 0 when OPT is one of ARGS.
_bed_has()
{
	local opt=$1 a
	shift
	for a in "$@"; do
		[ "$a" = "$opt" ] && return 0
	done
	return 1
}

# start_converter [--name NAME] [ARGS...]: starts "mpconvd converter ARGS" in NS_CV as daemon NAME
# (default converter), on --listen $CV_ADDR4:5124 --allow 10.10.0.0/16 (the gw links) unless ARGS
# give their own --listen; waits until it listens on that address, else dumps cv and bails.
start_converter()
{
	local name=converter listen=$CV_ADDR4:5124 a prev=
	if [ "${1:-}" = --name ]; then
		name=$2
		shift 2
	fi
	if _bed_has --listen "$@"; then
		for a in "$@"; do
			[ "$prev" = --listen ] && listen=$a
			prev=$a
		done
	else
		set -- --listen "$listen" --allow 10.10.0.0/16 "$@"
	fi
	bed_start "$NS_CV" "$name" "$MPCONVD" converter "$@"
	wait_listen "$NS_CV" "$listen" || { dump_state "$NS_CV"; bail "converter $name on $listen"; }
}

# start_gateway [--name NAME] [ARGS...]: starts "mpconvd gateway ARGS" in NS_GW as daemon NAME
# (default gateway), with --converter $CV_ADDR4 and --lan $LAN_IF_GW unless ARGS give their own
# (or a --config file); waits until it listens on :5126, else dumps gw and bails.
start_gateway()
{
	local name=gateway
	if [ "${1:-}" = --name ]; then
		name=$2
		shift 2
	fi
	if ! _bed_has --config "$@"; then
		_bed_has --lan "$@" || set -- --lan "$LAN_IF_GW" "$@"
		_bed_has --converter "$@" || set -- --converter "$CV_ADDR4" "$@"
	fi
	bed_start "$NS_GW" "$name" "$MPCONVD" gateway "$@"
	wait_listen "$NS_GW" 5126 || { dump_state "$NS_GW"; bail "gateway $name"; }
}

_bed_upstreams()
{
	[ "$(nq "$NS_GW" ss -MnH state established '( dport = :5124 )' | wc -l)" -ge "$1" ]
}

# wait_upstreams N [SECS]: waits until the gateway holds N established MPTCP connections to the
# converter (:5124), e.g. its pool filled (pool-min, default 2). Idle pooled connections have one
# subflow each: the second joins once data flows (13-kernel-behaviours).
wait_upstreams()
{
	wait_for "${2:-5}" _bed_upstreams "$1"
}

# ---------------------------------------------------------------------------------------------
# Mechanism: counters, subflows, fallback

_nstat()
{
	local ns=$1
	shift
	ip netns exec "$ns" env NSTAT_HISTORY="$BED_TMP/nstat.${ns#"$BED_ID"-}" nstat "$@"
}

# nstat_reset NS: starts a delta period for nstat_delta (per-namespace history file).
nstat_reset()
{
	_nstat "$1" -n
}

# nstat_ns NS [NAME...]: absolute counter values ("NAME VALUE" lines, zeros included).
nstat_ns()
{
	local ns=$1
	shift
	_nstat "$ns" -az "$@" | awk '!/^#/ { print $1, $2 }'
}

# nstat_delta NS NAME: how much counter NAME grew since nstat_reset NS (0 if it does not exist).
nstat_delta()
{
	_nstat "$1" -sz "$2" | awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }'
}

# count_subflows NS [SS FILTER...]: established TCP sockets in NS that are MPTCP subflows.
count_subflows()
{
	local ns=$1
	shift
	ip netns exec "$ns" ss -tniH state established "$@" | grep -c 'tcp-ulp-mptcp'
}

# conn_subflows NS [FILTER...]: subflows of the MPTCP connection that has the most (subflows
# of one connection share the peer's token, printed by ss as "token:LOCAL(id:N)/PEER(id:M)").
conn_subflows()
{
	local ns=$1
	shift
	ip netns exec "$ns" ss -tniH state established "$@" |
		grep -o 'token:[0-9a-f]*(id:[0-9]*)/[0-9a-f]*' | sed 's/.*\///' | sort | uniq -c |
		sort -rn | awk 'NR == 1 { print $1 } END { if (NR == 0) print 0 }'
}

# max_subflows_while PID NS [FILTER...]: samples count_subflows every 0.2 s while PID lives and
# prints the highest count seen.
max_subflows_while()
{
	_max_while count_subflows "$@"
}

# max_conn_subflows_while PID NS [FILTER...]: the same with conn_subflows (one connection's).
max_conn_subflows_while()
{
	_max_while conn_subflows "$@"
}

_max_while()
{
	local counter=$1 pid=$2 ns=$3 max=0 c
	shift 3
	while kill -0 "$pid" 2>/dev/null; do
		c=$("$counter" "$ns" "$@")
		[ "$c" -gt "$max" ] && max=$c
		sleep 0.2
	done
	echo "$max"
}

BED_FALLBACK_COUNTERS="MPTcpExtMPCapableFallbackACK MPTcpExtMPCapableFallbackSYNACK
	MPTcpExtMPFallbackTokenInit MPTcpExtMPCapableDataFallback MPTcpExtDssFallback
	MPTcpExtDSSCorruptionFallback MPTcpExtInfiniteMapTx MPTcpExtInfiniteMapRx
	MPTcpExtMD5SigFallback MPTcpExtSimultConnectFallback MPTcpExtFallbackFailed
	MPTcpExtMPCapableSYNTXDrop MPTcpExtMPCapableSYNTXDisabled MPTcpExtBlackhole"

# assert_no_fallback NS [IGNORED...]: 0 when no fallback-to-TCP counter (those this kernel has,
# but the ignored ones) grew since nstat_reset NS; otherwise prints the ones that did.
assert_no_fallback()
{
	local ns=$1 c v bad=0
	shift
	for c in $BED_FALLBACK_COUNTERS; do
		case " $* " in *" $c "*) continue ;; esac
		v=$(nstat_delta "$ns" "$c")
		if [ "$v" -ne 0 ]; then
			echo "${ns#"$BED_ID"-}: $c=$v"
			bad=1
		fi
	done
	return "$bad"
}

# dump_state NS...: sockets, MPTCP endpoints and limits, routes, MPTCP counters and daemon logs,
# as diag lines; call it when a check fails.
dump_state()
{
	local ns name
	for ns in "$@"; do
		[ -n "$ns" ] || continue
		diag "==== ${ns#"$BED_ID"-} ===="
		diag "$(ip -n "$ns" -br addr 2>&1)"
		diag "$(ip -n "$ns" rule 2>&1)"
		diag "$(ip -n "$ns" route show table all 2>&1 | grep -v '^local\|^broadcast\|^multicast\|fe80::\|ff00::')"
		diag "$(ip -n "$ns" mptcp endpoint show 2>&1)" "$(ip -n "$ns" mptcp limits show 2>&1)"
		diag "$(ip netns exec "$ns" ss -Menita 2>&1)"
		diag "$(_nstat "$ns" -az 2>&1 | awk '/^MPTcp/ && $2 != 0 { print $1, $2 }')"
	done
	for name in "${!BED_PID[@]}"; do
		diag "---- $name ----" "$(bed_log "$name" | tail -n 20)"
	done
}

# ---------------------------------------------------------------------------------------------
# Measurement

# _ping NS ADDR COUNT INTERVAL: raw ping summary. Exactly COUNT probes (no -w: with a deadline
# ping keeps sending until COUNT replies came back, which biases loss), 1 s wait for the last.
_ping()
{
	local ns=$1 addr=$2 count=$3 ival=${4:-0.02} cap
	cap=$(awk -v c="$count" -v i="$ival" 'BEGIN { printf "%d", c * i * 2 + 10 }')
	ip netns exec "$ns" timeout "$cap" ping -q -n -c "$count" -i "$ival" -W 1 "$addr" 2>&1
}

# ping_rtt NS ADDR COUNT [INTERVAL]: "min avg max mdev" of the RTT in ms (1 if none came back).
ping_rtt()
{
	_ping "$@" | awk -F'[/ =]+' '/^rtt|^round-trip/ { print $6, $7, $8, $9; found = 1 }
		END { exit !found }'
}

# ping_rtt_ms NS ADDR COUNT [INTERVAL]: average RTT in ms (1 if nothing came back).
ping_rtt_ms()
{
	_ping "$@" | awk -F'[/ =]+' '/^rtt|^round-trip/ { print $7; found = 1 } END { exit !found }'
}

# ping_rtt_list NS ADDR COUNT [INTERVAL]: each reply's RTT in ms, one per line, in arrival order.
ping_rtt_list()
{
	local ns=$1 addr=$2 count=$3 ival=${4:-0.02} cap
	cap=$(awk -v c="$count" -v i="$ival" 'BEGIN { printf "%d", c * i * 2 + 10 }')
	ip netns exec "$ns" timeout "$cap" ping -n -c "$count" -i "$ival" -W 1 "$addr" 2>&1 |
		sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p'
}

# ping_loss_pct NS ADDR COUNT [INTERVAL]: percentage of pings lost (two decimals).
ping_loss_pct()
{
	_ping "$@" | awk '/packets transmitted/ {
		tx = $1; rx = $4; printf "%.2f\n", tx ? (tx - rx) * 100 / tx : 100; found = 1 }
		END { exit !found }'
}

# bulk_server NS PORT [ARGS...]: starts "mpbulk server -p PORT ARGS" as daemon mpbulk-PORT and
# waits until it listens. Its result lines go to $BED_TMP/mpbulk-PORT.out (bed_log).
bulk_server()
{
	local ns=$1 port=$2
	shift 2
	bed_start "$ns" "mpbulk-$port" "$MPBULK" server -p "$port" "$@"
	wait_listen "$ns" "$port" 5
}

# tcp_exchange NS HOST PORT TEXT: one plain-TCP exchange from NS: connect, send TEXT, half-close,
# read to EOF. Prints the reply with newlines as "|", or "reset" / "timeout".
tcp_exchange()
{
	_bed_say "[${1#"$BED_ID"-}] tcp_exchange $2 $3 $(printf '%q' "$4")"
	nq "$1" timeout 15 python3 -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=8)
    s.sendall(sys.argv[3].encode()); s.shutdown(socket.SHUT_WR); d = b""
    while True:
        c = s.recv(4096)
        if not c: break
        d += c
    print(d.decode().replace("\n", "|"))
except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError): print("reset")
except socket.timeout: print("timeout")
except OSError as e:  # a reset that beat our shutdown(SHUT_WR) leaves the socket unconnected
    if e.errno != 107: raise
    print("reset")' "$2" "$3" "$4" 2>&1
}

# bulk_client NS HOST PORT [ARGS...]: runs one mpbulk client (capped at 120 s) and prints its
# result line; the status is mpbulk's.
bulk_client()
{
	local ns=$1
	shift
	n "$ns" timeout --kill-after=5 120 "$MPBULK" client "$@"
}
