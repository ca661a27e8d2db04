#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""kernel_probe: small reproducers of Linux MPTCP behaviours mpconv works around.

  sockopts                         which options an MPTCP socket refuses (TCP_SYNCNT, IP_RECVERR)
  server PORT --tfo|--no-tfo [--wait-key]
                                   one-shot MPTCP listener: accept, read the request, write
                                   "reply" at once (or once MPTCP_INFO shows the remote key),
                                   then hold the connection 5 s without writing again
  client HOST PORT                 MPTCP + TFO client (data in the SYN, no cookie): prints
                                   reply_ms=<time to the reply, or timeout> mptcp=<TCP_IS_MPTCP>
"""
import errno
import socket
import struct
import sys
import time

IPPROTO_MPTCP, SOL_MPTCP, MPTCP_INFO, TCP_IS_MPTCP = 262, 284, 1, 43
TCP_FASTOPEN, TCP_FASTOPEN_NO_COOKIE = 23, 34
REMOTE_KEY_RECEIVED = 1 << 1


def sockopts():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    for name, level, opt in (("syncnt", socket.IPPROTO_TCP, socket.TCP_SYNCNT),
                             ("recverr", socket.IPPROTO_IP, 11)):
        try:
            s.setsockopt(level, opt, 1)
            print(f"{name}=accepted")
        except OSError as e:
            print(f"{name}={errno.errorcode[e.errno]}")


def server(port, tfo, wait_key):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if tfo:
        ls.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN, 16)
        ls.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(8)
    print("ready", flush=True)
    conn, _ = ls.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.recv(64)
    if wait_key:
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                info = conn.getsockopt(SOL_MPTCP, MPTCP_INFO, 96)
            except OSError:
                break  # fell back to TCP: nothing to wait for
            if struct.unpack_from("=I", info, 8)[0] & REMOTE_KEY_RECEIVED:
                break
            time.sleep(0.002)
    conn.send(b"reply")
    time.sleep(5)


def client(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    s.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, 1)
    start = time.time()
    s.sendto(b"hello-in-syn", socket.MSG_FASTOPEN, (host, port))
    s.settimeout(3)
    try:
        s.recv(16)
        took = "%.0f" % ((time.time() - start) * 1000)
    except socket.timeout:
        took = "timeout"
    print(f"reply_ms={took} mptcp={s.getsockopt(socket.IPPROTO_TCP, TCP_IS_MPTCP)}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "sockopts":
        sockopts()
    elif cmd == "server":
        server(int(sys.argv[2]), sys.argv[3] == "--tfo", "--wait-key" in sys.argv)
    elif cmd == "client":
        client(sys.argv[2], int(sys.argv[3]))
