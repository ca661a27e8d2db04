#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""fleetload: many short echo exchanges, or connections held open, for the fleet test.

  fleetload.py echo HOST PORT N [PARALLEL]   N connections: send a line, half-close, expect the
                                             line and "END" back; prints "ok=K fail=F"
  fleetload.py hold HOST PORT N SECONDS      N connections at once, each echoes one line, all
                                             held SECONDS, then closed; prints "ok=K fail=F"
"""
import socket
import sys
import threading
import time


def exchange(host, port, line):
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(line)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            data = s.recv(4096)
            if not data:
                break
            got += data
    return got == line + b"END\n"


def run_echo(host, port, n, parallel):
    counts = {"ok": 0, "fail": 0}
    lock = threading.Lock()
    todo = list(range(n))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            try:
                good = exchange(host, port, b"fleet %d\n" % i)
            except OSError:
                good = False
            with lock:
                counts["ok" if good else "fail"] += 1

    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts


def run_hold(host, port, n, seconds):
    socks, ok = [], 0
    for i in range(n):
        try:
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(b"hold %d\n" % i)
            if s.recv(64) == b"hold %d\n" % i:
                ok += 1
            socks.append(s)
        except OSError:
            pass
    print("held=%d" % ok, flush=True)
    time.sleep(seconds)
    for s in socks:
        s.close()
    return {"ok": ok, "fail": n - ok}


def main():
    mode, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if mode == "echo":
        counts = run_echo(host, port, n, int(sys.argv[5]) if len(sys.argv) > 5 else 4)
    else:
        counts = run_hold(host, port, n, float(sys.argv[5]))
    print("ok=%d fail=%d" % (counts["ok"], counts["fail"]), flush=True)


if __name__ == "__main__":
    main()
