#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# summary.py RAW.tsv [--markdown]: the table, one machine-readable line per metric and contender,
# and the issue-6 targets (met / not met, with the numbers), from bench/run.sh's raw lines
# (phase, metric, contender, round, value, note). Medians over rounds; a ratio is the median of
# the per-round ratios (both sides measured in the same round).
import statistics as st
import sys

ORDER = ["noproxy", "haproxy", "shadowsocks", "dante", "mpconv-pool", "mpconv-tfo"]
MULTIPATH = {"haproxy", "shadowsocks", "mpconv-pool", "mpconv-tfo"}
NA = {
    "noproxy": {"cpu": "n/a: kernel forwarding, no relay process", "idle": "n/a: no relay process",
                "bond": "n/a: plain TCP, one path", "failover": "n/a: one path, a cut link breaks it"},
    "dante": {"bond": "n/a: SOCKS5 over plain TCP, one path",
              "failover": "n/a: one path, a cut link breaks it"},
}

path = sys.argv[1]
markdown = "--markdown" in sys.argv[2:]
header, raw = [], {}
for line in open(path):
    line = line.rstrip("\n")
    if line.startswith("#"):
        header.append(line[2:])
        continue
    f = line.split("\t")
    if len(f) < 5:
        continue
    try:
        v = float(f[4])
    except ValueError:
        continue
    raw.setdefault((f[1], f[2]), {})[int(f[3])] = v


def med(metric, c):
    v = raw.get((metric, c))
    return (st.median(v.values()), len(v)) if v else (None, 0)


def ratio(metric, c, ref):
    a, b = raw.get((metric, c), {}), raw.get((metric, ref), {})
    r = [a[k] / b[k] for k in a if k in b and b[k]]
    return st.median(r) if r else None


def bond_fraction(c):
    b, sa, sb = raw.get(("bonded_mbps", c), {}), raw.get(("single_A_mbps", "link"), {}), \
        raw.get(("single_B_mbps", "link"), {})
    r = [b[k] / (sa[k] + sb[k]) for k in b if k in sa and k in sb and sa[k] + sb[k]]
    return st.median(r) if r else None


def rtts(c):
    """connect-to-first-byte in link-A RTTs (per round), and the extra over noproxy."""
    lat, d, rtt = raw.get(("first_byte_ms", c), {}), raw.get(("first_byte_ms", "noproxy"), {}), \
        raw.get(("rtt_a_ms", "link"), {})
    r = [lat[k] / rtt[k] for k in lat if k in rtt and rtt[k]]
    e = [(lat[k] - d[k]) / rtt[k] for k in lat if k in rtt and k in d and rtt[k]]
    return (st.median(r) if r else None, st.median(e) if e else None)


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


machine, rows = [], []
for c in ORDER:
    if not any(k[1] == c for k in raw):
        continue
    na = NA.get(c, {})
    bulk, n1 = med("bulk_mbps", c)
    cpugb, _ = med("bulk_cpu_s_per_gb", c)
    rate, n2 = med("rate_cps", c)
    cpuc, _ = med("rate_cpu_us_per_conn", c)
    pss, n3 = med("idle_pss_kib_per_conn", c)
    held, _ = med("idle_held", c)
    rss, _ = med("idle_rss_kib_per_conn", c)
    kern, _ = med("idle_kernel_kib_per_conn", c)
    lat, n4 = med("first_byte_ms", c)
    in_rtt, extra = rtts(c)
    bond, n5 = med("bonded_mbps", c)
    frac = bond_fraction(c)
    gap, n6 = med("failover_gap_ms", c)
    lost, _ = med("failover_lost_bytes", c)
    rows.append([
        c,
        f"{fmt(bulk and bulk / 1e3, '.2f')} ({fmt(ratio('bulk_mbps', c, 'haproxy'), '.2f')}× hap, "
        f"{fmt(ratio('bulk_mbps', c, 'noproxy'), '.2f')}× np)",
        na.get("cpu", fmt(cpugb, ".2f")),
        f"{fmt(rate, '.0f')} ({fmt(ratio('rate_cps', c, 'haproxy'), '.2f')}× hap, "
        f"{fmt(ratio('rate_cps', c, 'noproxy'), '.2f')}× np)",
        na.get("cpu", fmt(cpuc, ".0f")),
        na.get("idle", f"{fmt(pss, '.2f')} / {fmt(rss, '.2f')} ({fmt(held, '.0f')} held)") +
        f"; kernel {fmt(kern, '.1f')}",
        f"{fmt(lat, '.1f')} ms = {fmt(in_rtt, '.2f')} RTT ({fmt(extra, '+.2f')})",
        na.get("bond", f"{fmt(bond, '.1f')} = {fmt(frac, '.2f')} of sum") if c in MULTIPATH or c in NA
        else f"{fmt(bond, '.1f')}",
        na.get("failover", f"{fmt(gap, '.0f')} ms / {fmt(lost, '.0f')} B"),
    ])
    for metric, v, n, extra_kv in [
        ("bulk_mbps", bulk, n1, f"ratio_haproxy={fmt(ratio('bulk_mbps', c, 'haproxy'), '.3f')} "
                               f"ratio_noproxy={fmt(ratio('bulk_mbps', c, 'noproxy'), '.3f')}"),
        ("bulk_cpu_s_per_gb", cpugb, n1, ""),
        ("rate_cps", rate, n2, f"ratio_haproxy={fmt(ratio('rate_cps', c, 'haproxy'), '.3f')} "
                              f"ratio_noproxy={fmt(ratio('rate_cps', c, 'noproxy'), '.3f')}"),
        ("rate_cpu_us_per_conn", cpuc, n2, ""),
        ("idle_pss_kib_per_conn", pss, n3, f"held={fmt(held, '.0f')}"),
        ("idle_rss_kib_per_conn", rss, n3, ""),
        ("idle_kernel_kib_per_conn", kern, n3, "the relays' kernel memory (memory cgroup kmem)"),
        ("first_byte_ms", lat, n4, f"rtt={fmt(in_rtt, '.3f')} extra_rtt_vs_noproxy={fmt(extra, '.3f')}"),
        ("bonded_mbps", bond, n5, f"fraction_of_single_link_sum={fmt(frac, '.3f')}"),
        ("failover_gap_ms", gap, n6, ""),
        ("failover_lost_bytes", lost, n6, ""),
    ]:
        if v is not None:
            machine.append(f"BENCH metric={metric} contender={c} median={v:g} n={n} {extra_kv}".rstrip())
for m in ("rtt_a_ms", "single_A_mbps", "single_B_mbps"):
    v, n = med(m, "link")
    if v is not None:
        machine.append(f"BENCH metric={m} contender=link median={v:g} n={n}")

# Targets of issues 6 and 14, checked on mpconv-pool (the default mode); mpconv-tfo shown alongside.
targets = []


def target(name, ok, numbers):
    targets.append(("met" if ok else ("not met" if ok is not None else "not measured"), name, numbers))
    machine.append(f"BENCH target=\"{name}\" status={targets[-1][0].replace(' ', '_')}")


for c in ("mpconv-pool", "mpconv-tfo"):
    rb, rr = ratio("bulk_mbps", c, "haproxy"), ratio("rate_cps", c, "haproxy")
    target(f"{c} throughput >= 1.5x haproxy pair", None if rb is None else rb >= 1.5,
           f"{fmt(rb, '.2f')}x ({fmt(med('bulk_mbps', c)[0], '.0f')} vs {fmt(med('bulk_mbps', 'haproxy')[0], '.0f')} Mbit/s)")
    target(f"{c} connection rate >= 1.5x haproxy pair", None if rr is None else rr >= 1.5,
           f"{fmt(rr, '.2f')}x ({fmt(med('rate_cps', c)[0], '.0f')} vs {fmt(med('rate_cps', 'haproxy')[0], '.0f')} conn/s)")
    cu, ch = med("rate_cpu_us_per_conn", c)[0], med("rate_cpu_us_per_conn", "haproxy")[0]
    target(f"{c} relay CPU per connection below haproxy pair's",
           None if cu is None or ch is None else cu < ch,
           f"{fmt(cu, '.0f')} vs {fmt(ch, '.0f')} µs")
    pss = med("idle_pss_kib_per_conn", c)[0]
    target(f"{c} <= 2 KiB user-space memory per idle connection", None if pss is None else pss <= 2,
           f"{fmt(pss, '.2f')} KiB PSS (RSS {fmt(med('idle_rss_kib_per_conn', c)[0], '.2f')}), "
           f"{fmt(med('idle_held', c)[0], '.0f')} connections held")
    extra = rtts(c)[1]
    target(f"{c} set-up latency within 0.1 RTT of direct", None if extra is None else extra <= 0.1,
           f"{fmt(extra, '+.2f')} RTT ({fmt(med('first_byte_ms', c)[0], '.1f')} vs {fmt(med('first_byte_ms', 'noproxy')[0], '.1f')} ms)")
    frac = bond_fraction(c)
    target(f"{c} bonded goodput >= 0.95 of single-link sum", None if frac is None else frac >= 0.95,
           f"{fmt(frac, '.2f')} ({fmt(med('bonded_mbps', c)[0], '.1f')} Mbit/s vs {fmt(med('single_A_mbps', 'link')[0], '.1f')} + {fmt(med('single_B_mbps', 'link')[0], '.1f')})")
    gap, lost = med("failover_gap_ms", c)[0], med("failover_lost_bytes", c)[0]
    target(f"{c} failover stall <= 1 s with 0 bytes lost",
           None if gap is None else (gap <= 1000 and lost == 0),
           f"{fmt(gap, '.0f')} ms, {fmt(lost, '.0f')} bytes lost (max over rounds "
           f"{fmt(max(raw.get(('failover_gap_ms', c), {0: 0}).values()), '.0f')} ms)")

cols = ["contender", "1. bulk Gbit/s (vs haproxy, vs noproxy)", "1. relay CPU-s/GB",
        "2. conn/s (vs haproxy, vs noproxy)", "2. relay CPU µs/conn",
        "3. idle KiB/conn PSS / RSS; relays' kernel memory", "4. first byte (link-A RTTs; extra vs noproxy)",
        "5. bonded Mbit/s (fraction of A+B)", "6. failover stall / lost"]
if markdown:
    print()
    print(f"## {header[0].split()[1][:10] if header else 'run'} — make bench: all contenders (issues 6, 14)")
    print()
    print("Run: " + "; ".join(h for h in header))
    print()
print("| " + " | ".join(cols) + " |")
print("|" + "---|" * len(cols))
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print("| target | status | measured |")
print("|---|---|---|")
for status, name, numbers in targets:
    print(f"| {name} | **{status}** | {numbers} |")
print()
if markdown:
    print("Machine-readable lines:")
    print()
    print("```")
for m in machine:
    print(m)
if markdown:
    print("```")
