#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""testserver: the "internet server" of integration tests.

Modes, per connection:
  echo        send back everything received; after the client's FIN, send "END\\n" and close
              (so a test sees half-close relayed both ways)
  send:N      send N bytes of a counter pattern, then close; whatever the client sends is read
  paced:B:K   send B bytes of the pattern at K kbit/s (an application-limited server), close
  sink        read until EOF, then send "GOT <bytes> <sha256>\\n" and close
Listens on every address given (host:port, [v6]:port), TCP or MPTCP (--mptcp). Prints "ready"
once listening. Runs until killed (tests start it under timeout).
"""
import argparse
import hashlib
import socket
import sys
import threading
import time

IPPROTO_MPTCP = 262


def pattern(n):
    block = bytes(range(256)) * 256
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def handle(conn, mode):
    try:
        if mode == "echo":
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
            conn.sendall(b"END\n")
        elif mode.startswith("send:"):
            conn.sendall(pattern(int(mode[5:])))
        elif mode.startswith("paced:"):
            # paced:BYTES:KBIT: an application-limited sender, BYTES at KBIT kbit/s (20 ms
            # slices against the clock, so a slow slice is caught up), then close
            total, kbit = (int(x) for x in mode[6:].split(":"))
            data, sent, start = pattern(total), 0, time.monotonic()
            while sent < total:
                due = min(total, int((time.monotonic() - start + 0.02) * kbit * 125))
                if due > sent:
                    conn.sendall(data[sent:due])
                    sent = due
                time.sleep(0.02)
        elif mode == "sink":
            digest, total = hashlib.sha256(), 0
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                digest.update(data)
                total += len(data)
            conn.sendall(f"GOT {total} {digest.hexdigest()}\n".encode())
    except OSError:
        pass
    finally:
        conn.close()


def serve(sock, mode):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=handle, args=(conn, mode), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="echo")
    ap.add_argument("--mptcp", action="store_true")
    ap.add_argument("listen", nargs="+")
    args = ap.parse_args()
    for spec in args.listen:
        host, port = spec.rsplit(":", 1)
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        proto = IPPROTO_MPTCP if args.mptcp else 0
        sock = socket.socket(family, socket.SOCK_STREAM, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(1024)
        threading.Thread(target=serve, args=(sock, args.mode), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
