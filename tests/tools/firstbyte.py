#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Connect-to-first-byte latency: connect, send a request, wait for the first byte back
(an echo server answers it), close; N times. Prints one line:
  samples=N median_ms=M min_ms=A max_ms=B all=a,b,c   (failures: exit 1)"""
import socket
import statistics
import sys
import time


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: firstbyte.py HOST PORT [COUNT] [PAUSE_S]")
    host, port = sys.argv[1], int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.05
    samples = []
    for _ in range(count):
        t0 = time.monotonic()
        with socket.create_connection((host, port), timeout=10) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(b"GET / first-byte probe\n")
            if not s.recv(1):
                sys.exit("connection closed before the first byte")
            samples.append((time.monotonic() - t0) * 1000)
        time.sleep(pause)
    print("samples=%d median_ms=%.2f min_ms=%.2f max_ms=%.2f all=%s" % (
        len(samples), statistics.median(samples), min(samples), max(samples),
        ",".join("%.1f" % x for x in samples)))


if __name__ == "__main__":
    main()
