#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Slow clients for the operator-access tests: open N connections and never finish a request.

  holdconns.py tcp HOST:PORT N SECONDS [--from A,B,...] [--drip]
  holdconns.py unix PATH N SECONDS [--drip]

Connects N clients (TCP ones bound in turn to the --from source addresses, default 127.0.0.1),
prints "connected N" once all are in, then watches them for SECONDS and prints
"closed C of N, last after S s": how many the server closed, and when the last of those went.
--drip: each client sends one byte of a request head every 0.3 s (slowloris) instead of
nothing. Exit 0 unless a connect fails.
"""
import argparse
import select
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["tcp", "unix"])
    ap.add_argument("target")
    ap.add_argument("n", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("--from", dest="sources", default="127.0.0.1")
    ap.add_argument("--drip", action="store_true")
    args = ap.parse_args()
    sources = args.sources.split(",")

    socks = []
    for i in range(args.n):
        if args.kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(args.target)
        else:
            host, port = args.target.rsplit(":", 1)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((sources[i % len(sources)], 0))
            s.connect((host, int(port)))
        socks.append(s)
    start = time.monotonic()
    print("connected", args.n, flush=True)

    head = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n" if args.kind == "tcp" else b"status"
    sent = 0
    closed = {}
    next_drip = start
    while time.monotonic() - start < args.seconds and len(closed) < args.n:
        now = time.monotonic()
        if args.drip and now >= next_drip:
            for s in socks:
                if s not in closed:
                    try:
                        s.send(head[sent % len(head):sent % len(head) + 1])
                    except OSError:
                        closed[s] = now - start
            sent += 1
            next_drip = now + 0.3
        live = [s for s in socks if s not in closed]
        readable, _, _ = select.select(live, [], [], 0.05)
        for s in readable:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                closed[s] = time.monotonic() - start
    last = max(closed.values(), default=0.0)
    print(f"closed {len(closed)} of {args.n}, last after {last:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
