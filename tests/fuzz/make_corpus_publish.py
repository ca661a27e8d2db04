#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes the seed corpus for fuzz_publish into tests/fuzz/corpus/publish/: the inbound-session
# messages of a reverse connection (src/proto/publish.h), valid and invalid, one file per case.
# Run once when a case is added; the files are committed. The MAC is computed here with
# Python's hmac module, independently of the C code.
import hashlib, hmac, os, struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "publish")
os.makedirs(out, exist_ok=True)


def seed(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def hdr(body):
    return bytes([1, (len(body) + 4) // 4, 0x22, 0x63]) + body


def v4(a):
    return bytes(10) + b"\xff\xff" + bytes(a)


nonce = bytes(range(0xA0, 0xB0))
key = bytes(range(32))
seed("challenge", hdr(bytes([0xC0, 5, 0, 0]) + nonce))
tlv = bytes([0xC1, 14, 0, 0]) + b"cpe1".ljust(32, b"\0") + struct.pack("!HH", 8001, 80) + v4([192, 168, 1, 10])
mac = hmac.new(key, b"mpconv inbound register v1\0" + nonce + tlv, hashlib.sha256).digest()
seed("register_one_v4_service", hdr(tlv + bytes([0xC2, 9, 0, 0]) + mac))
tlv2 = (bytes([0xC1, 19, 0, 0]) + b"home-2".ljust(32, b"\0") + struct.pack("!HH", 8001, 80)
        + v4([192, 168, 1, 10]) + struct.pack("!HH", 2222, 22)
        + bytes.fromhex("fd000001000000000000000000000010"))
seed("register_v4_and_v6", hdr(tlv2 + bytes([0xC2, 9, 0, 0]) + bytes(32)))
seed("register_without_auth", hdr(tlv))
seed("accept_three", hdr(bytes([0xC3, 2, 3, 0, 0, 1, 2, 0])))
seed("error_not_authorized", hdr(bytes([0x1E, 1, 32, 0])))
seed("open_v4_with_client",
     hdr(bytes([10, 5]) + struct.pack("!H", 443) + v4([192, 168, 1, 10]) + bytes([0xC4, 5])
         + struct.pack("!H", 40000) + v4([198, 51, 100, 7])) + b"GET / HTTP/1.1\r\n\r\n")
seed("open_connect_only", hdr(bytes([10, 5]) + struct.pack("!H", 443) + v4([192, 168, 1, 10])))
seed("tlv_length_zero", hdr(bytes([0xC3, 0, 1, 0])))
seed("duplicate_challenge", hdr(bytes([0xC0, 5, 0, 0]) + nonce + bytes([0xC0, 5, 0, 0]) + nonce))
seed("header_only", bytes([1, 1, 0x22, 0x63]))
