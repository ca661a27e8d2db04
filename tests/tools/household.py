#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""household: a LAN host's everyday connections, against an echo server (testserver.py echo).

  household.py burst HOST PORT --from ADDR [--parallel 100] [--rounds 5] [--pause 0.5]
  household.py hold HOST PORT --from ADDR [--count 30] [--seconds 20]
  household.py paced HOST PORT --from ADDR [--count 10] [--interval 0.5]

burst: browser-like: PARALLEL short request/response connections opened at once, ROUNDS times;
  each sends a line, half-closes and must read "line + END" back.
hold: COUNT keep-alive connections opened, left idle SECONDS, then each must still echo.
paced: COUNT sequential-ish connections, one every INTERVAL s, each in its own task; reports
  the slowest.
Every connection has --timeout seconds (default 5) in all. Last line:
  "ok=N failed=M reset=R timeout=T max_ms=X slow=S" (failed counts resets, timeouts and
  wrong answers; slow: connections over --slow-ms, default 1500); exit 0 when failed=0.
"""
import argparse
import asyncio
import socket
import sys
import time


async def exchange(args, text, hold_s=0.0):
    """One connection: connect from --from, (idle hold_s,) send text, half-close, read to EOF."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    start = time.monotonic()
    try:
        sock.bind((args.source, 0))
        await asyncio.wait_for(loop.sock_connect(sock, (args.host, args.port)), args.timeout)
        if hold_s:
            await asyncio.sleep(hold_s)
            start = time.monotonic()
        await loop.sock_sendall(sock, text)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            left = args.timeout - (time.monotonic() - start)
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 4096), max(left, 0.01))
            if not chunk:
                break
            data += chunk
        ok = data == text + b"END\n"
        return ("ok" if ok else "failed", (time.monotonic() - start) * 1000)
    except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError):
        return ("reset", (time.monotonic() - start) * 1000)
    except (asyncio.TimeoutError, TimeoutError):
        return ("timeout", (time.monotonic() - start) * 1000)
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return ("failed", (time.monotonic() - start) * 1000)
    finally:
        sock.close()


async def run(args):
    results = []
    if args.mode == "burst":
        for r in range(args.rounds):
            tasks = [exchange(args, b"GET /%d/%d\n" % (r, i)) for i in range(args.parallel)]
            results += await asyncio.gather(*tasks)
            await asyncio.sleep(args.pause)
    elif args.mode == "hold":
        tasks = [exchange(args, b"keepalive %d\n" % i, args.seconds) for i in range(args.count)]
        results = await asyncio.gather(*tasks)
    else:
        tasks = []
        for i in range(args.count):
            tasks.append(asyncio.ensure_future(exchange(args, b"paced %d\n" % i)))
            await asyncio.sleep(args.interval)
        results = await asyncio.gather(*tasks)
    counts = {k: sum(1 for r in results if r[0] == k) for k in ("ok", "failed", "reset", "timeout")}
    failed = len(results) - counts["ok"]
    worst = max((r[1] for r in results), default=0)
    slow = sum(1 for r in results if r[1] > args.slow_ms)
    print(f"ok={counts['ok']} failed={failed} reset={counts['reset']} "
          f"timeout={counts['timeout']} max_ms={worst:.0f} slow={slow}")
    return failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["burst", "hold", "paced"])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--from", dest="source", required=True)
    ap.add_argument("--parallel", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pause", type=float, default=0.5)
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("--slow-ms", type=float, default=1500)
    args = ap.parse_args()
    sys.exit(1 if asyncio.run(run(args)) else 0)


if __name__ == "__main__":
    main()
