#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""convload: many concurrent Convert sessions through a converter, all open at the same time.

Each session: MPTCP connect to the converter, send header + Connect (to an echo server) + a
payload, read the converter's reply (header, then Total Length), read the payload back. When
all are open and verified it prints "open N", then waits until --hold-file exists (so the
caller can look at the converter at its peak), half-closes every session and checks that the
echo server's "END\\n" arrives through each. Last line: "opened=N converted=N verified=N".
"""
import argparse
import asyncio
import errno
import hashlib
import hmac
import ipaddress
import os
import socket
import struct
import sys
import time

IPPROTO_MPTCP = 262


def cpe_cookie(cpe_id, key, raw, dest_port):
    """The Cookie TLV carrying a CPE credential (src/proto/cpe.h), for a converter with a
    cpe-table: id, epoch, HMAC-SHA256(key, label, id, epoch, Connect address and port)."""
    ident = cpe_id.encode()
    epoch = struct.pack("!I", int(time.time()) // 60)
    mac = hmac.new(key, b"mpconv-cpe1" + bytes([len(ident)]) + ident + epoch + raw +
                   struct.pack("!H", dest_port), hashlib.sha256).digest()[:16]
    value = bytes([1, len(ident)]) + ident + epoch + mac
    value += bytes(-(4 + len(value)) % 4)
    return struct.pack("!BBH", 22, (4 + len(value)) // 4, 0) + value


def request(dest_ip, dest_port, cpe=None):
    addr = ipaddress.ip_address(dest_ip)
    raw = (ipaddress.IPv6Address("::ffff:" + dest_ip).packed if addr.version == 4 else addr.packed)
    tlvs = struct.pack("!BBH", 10, 5, dest_port) + raw
    if cpe:
        tlvs += cpe_cookie(cpe[0], cpe[1], raw, dest_port)
    return struct.pack("!BBH", 1, 1 + len(tlvs) // 4, 0x2263) + tlvs


async def recv_exact(loop, sock, n):
    buf = b""
    while len(buf) < n:
        chunk = await loop.sock_recv(sock, n - len(buf))
        if not chunk:
            raise ConnectionError("closed early")
        buf += chunk
    return buf


async def open_one(loop, args, i, req):
    family = socket.AF_INET6 if ":" in args.converter_ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, IPPROTO_MPTCP if not args.tcp else 0)
    sock.setblocking(False)
    payload = os.urandom(args.payload)
    # asyncio's sock_connect resolves through getaddrinfo, which rejects proto 262: connect
    # by hand and wait for writability.
    err = sock.connect_ex((args.converter_ip, args.converter_port))
    if err not in (0, errno.EINPROGRESS):
        raise ConnectionError(os.strerror(err))
    writable = loop.create_future()
    loop.add_writer(sock.fileno(), writable.set_result, None)
    try:
        await writable
    finally:
        loop.remove_writer(sock.fileno())
    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        raise ConnectionError(os.strerror(err))
    await loop.sock_sendall(sock, req + payload)
    hdr = await recv_exact(loop, sock, 4)
    if hdr[0] != 1 or hdr[2:4] != b"\x22\x63":
        raise ConnectionError(f"bad reply header {hdr.hex()}")
    body = await recv_exact(loop, sock, hdr[1] * 4 - 4)
    if body[:1] == b"\x1e":
        raise ConnectionError(f"error TLV code {body[2]}")
    echoed = await recv_exact(loop, sock, len(payload))
    if echoed != payload:
        raise ConnectionError("echo mismatch")
    return sock


async def close_one(loop, sock):
    sock.shutdown(socket.SHUT_WR)
    tail = await recv_exact(loop, sock, 4)
    sock.close()
    return tail == b"END\n"


async def main_async(args):
    loop = asyncio.get_running_loop()
    cpes = []
    if args.cpe_table:  # session i speaks as CPE i (modulo the table)
        with open(args.cpe_table) as f:
            cpes = [(l.split()[0], bytes.fromhex(l.split()[1])) for l in f if l.strip()]
    reqs = [request(args.dest_ip, args.dest_port, c) for c in cpes] or \
        [request(args.dest_ip, args.dest_port)]
    sem = asyncio.Semaphore(args.parallel)

    async def guarded(i):
        async with sem:
            return await open_one(loop, args, i, reqs[i % len(reqs)])

    results = await asyncio.gather(*(guarded(i) for i in range(args.count)), return_exceptions=True)
    socks = [r for r in results if isinstance(r, socket.socket)]
    errors = [r for r in results if not isinstance(r, socket.socket)]
    for e in errors[:5]:
        print(f"# error: {e!r}", flush=True)
    print(f"open {len(socks)}", flush=True)
    if args.hold_file:
        while not os.path.exists(args.hold_file):
            await asyncio.sleep(0.05)
    done = await asyncio.gather(*(close_one(loop, s) for s in socks), return_exceptions=True)
    verified = sum(1 for d in done if d is True)
    print(f"opened={args.count} converted={len(socks)} verified={verified}", flush=True)
    return 0 if verified == args.count else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("converter")
    ap.add_argument("dest")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--parallel", type=int, default=200, help="connects in flight at once")
    ap.add_argument("--payload", type=int, default=512)
    ap.add_argument("--hold-file")
    ap.add_argument("--cpe-table", help="ID KEY lines: session i sends CPE i's credential")
    ap.add_argument("--tcp", action="store_true")
    args = ap.parse_args()
    args.converter_ip, port = args.converter.rsplit(":", 1)
    args.converter_ip = args.converter_ip.strip("[]")
    args.converter_port = int(port)
    args.dest_ip, port = args.dest.rsplit(":", 1)
    args.dest_ip = args.dest_ip.strip("[]")
    args.dest_port = int(port)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
