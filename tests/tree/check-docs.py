#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The docs say what the daemon does, as TAP.

Every key `mpconvd ROLE --help-keys` lists (with the default its --help states) must be
  1. documented in mpconv.conf(5), in the role's KEYS section, with the same default;
  2. in the role's example configuration etc/ROLE.conf, as "key = value" or "#key = value",
     its first such line showing the default (keys without one may show any example);
and neither may document a key the daemon does not have.
usage: check-docs.py MPCONVD [TOP]
"""
import os
import re
import subprocess
import sys

MPCONVD = sys.argv[1]
TOP = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..")
NONE = {"-", "none", "nobody", "off", "random"}  # no value to compare: an example is fine


def norm(value):
    """One spelling of a value: no roff, lower case, "30 s" as "30s", no final period."""
    v = re.sub(r"\\f[BIRP]|\\&|\\\(..", "", value)
    v = v.replace("\\-", "-").replace("\\%", "").replace('"', "").strip().rstrip(".").lower()
    v = re.sub(r"^(\d+) (ms|s|m|h|k)$", r"\1\2", v)
    return v


def help_keys(role):
    out = subprocess.run([MPCONVD, role, "--help-keys"], check=True, capture_output=True,
                         text=True).stdout
    keys = {}
    for line in out.splitlines():
        key, _, default = line.partition("\t")
        keys[key] = norm(default)
    return keys


def roff_text(lines):
    """The running text of roff lines: macros dropped, their arguments kept."""
    words = []
    for line in lines:
        if line.startswith(".") and not line.startswith((".B", ".I", ".R")):
            continue
        line = re.sub(r"^\.(BR|BI|IR|RB|IB|B|I)\s+", "", line)
        words.append(line.replace('"', ""))
    return " ".join(words)


def man_keys(role):
    """{key: default or None} from the role's KEYS section of mpconv.conf(5)."""
    path = os.path.join(TOP, "docs", "man", "mpconv.conf.5")
    lines = open(path, encoding="utf-8").read().splitlines()
    title = '.SH "%s KEYS"' % role.upper()
    start = lines.index(title) + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith(".SH"))
    keys, i = {}, start
    while i < end:
        if lines[i] != ".TP":
            i += 1
            continue
        m = re.match(r'\.B[IR]?\s+"?([a-z0-9\\-]+) = ', lines[i + 1])
        j = i + 2
        while j < end and lines[j] != ".TP":
            j += 1
        if m:
            key = m.group(1).replace("\\-", "-")
            text = roff_text(lines[i + 2:j])
            d = re.search(r"\bDefault:?\s+([^\s,;()]+(?: [a-z]+\b)?)", text)
            default = None
            if d:
                default = norm(d.group(1).split(" ")[0])
            keys[key] = default
        i = j
    return keys


def example_keys(role):
    """{key: value of its first "key = value" or "#key = value" line} from etc/ROLE.conf."""
    path = os.path.join(TOP, "etc", role + ".conf")
    keys = {}
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^#?([a-z0-9-]+) = (\S.*?)\s*$", line)
        if m and m.group(1) not in keys:
            keys[m.group(1)] = norm(m.group(2))
    return keys


n = failed = 0


def result(ok, what, detail=""):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n, what))
    if not ok:
        failed += 1
        for line in detail.splitlines():
            print("# " + line)


for role in ("converter", "gateway"):
    helped = help_keys(role)
    man = man_keys(role)
    example = example_keys(role)
    missing = [k for k in helped if k not in man]
    result(not missing, "%s: every key of --help is in mpconv.conf(5)" % role,
           "undocumented: " + " ".join(missing))
    unknown = [k for k in man if k not in helped]
    result(not unknown, "%s: mpconv.conf(5) documents no key the daemon lacks" % role,
           "unknown: " + " ".join(unknown))
    # a default in words ("every converter in turn") is compared by its first word
    wrong = ["%s: --help %s, man %s" % (k, d, man.get(k)) for k, d in helped.items()
             if k in man and d not in NONE and man[k] != d.split(" ")[0]]
    result(not wrong, "%s: mpconv.conf(5) states the defaults --help states" % role,
           "\n".join(wrong))
    missing = [k for k in helped if k not in example]
    result(not missing, "%s: etc/%s.conf has a line for every key" % (role, role),
           "missing: " + " ".join(missing))
    unknown = [k for k in example if k not in helped]
    result(not unknown, "%s: etc/%s.conf names no key the daemon lacks" % (role, role),
           "unknown: " + " ".join(unknown))
    wrong = ["%s: --help %s, example %s" % (k, d, example.get(k)) for k, d in helped.items()
             if k in example and d not in NONE and " " not in d and example[k] != d]
    result(not wrong, "%s: etc/%s.conf shows each default --help states" % (role, role),
           "\n".join(wrong))
print("1..%d" % n)
sys.exit(1 if failed else 0)
