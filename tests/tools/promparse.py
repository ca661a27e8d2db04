#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""promparse.py ROLE SCRAPE [LATER_SCRAPE]: a strict check of Prometheus text format 0.0.4
(HELP and TYPE before samples, names, labels and escapes, _total on counters, cumulative
histograms ending in +Inf equal to _count, no duplicate series, every sample labelled with the
daemon's role first). With a second scrape, no counter may go down. Exit 1 on the first fault."""
# Strict Prometheus text format 0.0.4 check of one scrape; with two, counters must not go down.
import re, sys
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^(%s)(?:\{(%s(?:,%s)*)\})? (\S+)$' % (NAME, LABEL, LABEL))
def parse(path):
    types, helps, series, order = {}, {}, {}, []
    for no, line in enumerate(open(path).read().split('\n'), 1):
        where = '%s:%d: %r' % (path, no, line)
        if line == '':
            continue
        if line.startswith('# HELP '):
            name = line.split(' ')[2]
            assert re.fullmatch(NAME, name) and name not in helps, where
            helps[name] = True
            continue
        if line.startswith('# TYPE '):
            parts = line.split(' ')
            assert len(parts) == 4 and parts[3] in ('counter', 'gauge', 'histogram'), where
            assert parts[2] in helps and parts[2] not in types, where
            types[parts[2]] = parts[3]
            if parts[3] == 'counter':
                assert parts[2].endswith('_total'), where
            order.append(parts[2])
            continue
        assert not line.startswith('#'), where
        m = SAMPLE.match(line)
        assert m, where
        name, labels, value = m.group(1), m.group(2) or '', m.group(3)
        family = order[-1]
        ok = name == family or (types[family] == 'histogram' and name in
                                (family + '_bucket', family + '_sum', family + '_count'))
        assert ok, where + ' (not of family %s)' % family
        assert labels.startswith('role="%s"' % ROLE), where
        v = float(value)
        key = name + '{' + labels + '}'
        assert key not in series, where + ' (duplicate)'
        series[key] = v
    for fam, t in types.items():
        if t != 'histogram':
            continue
        buckets = sorted(((float(re.search(r'[{,]le="([^"]+)"', k).group(1)), v)
                          for k, v in series.items() if k.startswith(fam + '_bucket{')))
        assert buckets and buckets[-1][0] == float('inf'), fam
        assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), fam + ' not cumulative'
        count = [v for k, v in series.items() if k.startswith(fam + '_count{')][0]
        assert count == buckets[-1][1], fam + ' +Inf != _count'
    return types, series
ROLE = sys.argv[1]
t1, s1 = parse(sys.argv[2])
if len(sys.argv) > 3:
    t2, s2 = parse(sys.argv[3])
    for k, v in s1.items():
        fam = re.sub(r'(_bucket|_sum|_count)?\{.*', '', k)
        if t1.get(fam) in ('counter', 'histogram'):
            assert s2.get(k, -1) >= v, 'counter went down: %s %s -> %s' % (k, v, s2.get(k))
print('%d families, %d series' % (len(t1), len(s1)))
