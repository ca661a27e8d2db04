#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes the seed corpus for fuzz_convert into tests/fuzz/corpus/convert/: valid and invalid
# Convert messages from both senders, one file per case, named for what it holds. Run once
# when a case is added; the files are committed. Crash inputs found by scripts/fuzz.sh are
# copied in by hand as regression-* and are left alone here.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/corpus/convert
mkdir -p "$out"

hdr() { printf '\x01%b\x22\x63' "$1"; }   # hdr WORDS-as-\xHH
v4() { printf '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff%b' "$1"; }
doc6='\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01'
seed() { cat >"$out/$1"; }

# Client -> Converter, valid.
{ hdr '\x02'; printf '\x01\x01\x00\x00'; } | seed info_only
{ hdr '\x06'; printf '\x0a\x05\x01\xbb'; v4 '\xc0\x00\x02\x01'; } | seed connect_v4_https
{ hdr '\x09'; printf '\x0a\x08\x01\xbb'; v4 '\xc0\x00\x02\x01'
  printf '\x22\x0a\xc0\x0c\x1e\xd1\x0b\xad\xf0\x0d\x00\x00'; } | seed connect_v4_with_tfo_cookie
{ hdr '\x07'; printf '\x0a\x06\x00\x50'; v4 '\xc6\x33\x64\x07'
  printf '\x22\x02\x00\x00'; } | seed connect_v4_with_tfo_cookie_request
{ hdr '\x0a'; printf '\x0a\x09\x00\x50'; printf "$doc6"
  printf '\x1e\x04\x01\x81\x04\x02\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00'; } |
	seed connect_v6_with_mptcp_sack_timestamps
{ hdr '\x0b'; printf '\x0a\x05\x01\xbb'; v4 '\xc0\x00\x02\x01'
  printf '\x16\x05\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10'; } |
	seed connect_with_cookie_tlv
{ hdr '\x06'; printf '\x0a\x05\x01\xbb'; v4 '\xc0\x00\x02\x01'
  printf 'GET / HTTP/1.1\r\nHost: example.com\r\n\r\n'; } | seed connect_followed_by_app_data
{ hdr '\x02'; printf '\x1e\x01\x01\x00'; } | seed error_malformed_from_client
{ hdr '\x01'; } | seed header_only

# Converter -> Client, valid.
{ hdr '\x03'; printf '\x15\x02\x00\x00\x1e\x22\x00\x00'; } | seed supported_ext_mptcp_tfo
{ hdr '\x04'; printf '\x14\x03\x00\x00\x02\x04\x05\xb4\x01\x03\x03\x07'; } |
	seed ext_tcp_header_mss_wscale
{ hdr '\x07'; printf '\x14\x06\x00\x00\x02\x04\x05\xb4\x1e\x0c\x01\x81\x01\x02\x03\x04'
  printf '\x05\x06\x07\x08\x01\x01\x04\x02'; } | seed ext_tcp_header_with_mp_capable
{ hdr '\x02'; printf '\x1e\x01\x00\x01'; } | seed error_unsupported_version_reply
{ hdr '\x03'; printf '\x1e\x02\x01\x00\x01\x01\x22\x64'; } | seed error_malformed_echo_reply
{ hdr '\x04'; printf '\x1e\x01\x03\x00\x16\x02\x00\x00\xaa\xbb\xcc\xdd'; } |
	seed error_missing_cookie_with_cookie
{ hdr '\x02'; printf '\x1e\x01\x21\x1d'; } | seed error_unsupported_tcp_option_ao
{ hdr '\x02'; printf '\x1e\x01\x61\x03'; } | seed error_destination_unreachable
{ hdr '\x02'; printf '\x1e\x01\x60\x00'; } | seed error_connection_reset

# Invalid.
printf '\x02\x02\x22\x63\x01\x01\x00\x00' | seed bad_version_2
printf '\x01\x02\x22\x64\x01\x01\x00\x00' | seed bad_magic
printf '\x01\x00\x22\x63\x01\x01\x00\x00' | seed zero_total_length
{ hdr '\x03'; printf '\x01\x00\x00\x00\x01\x01\x00\x00'; } | seed zero_length_tlv
{ hdr '\x03'; printf '\x16\x03\x00\x00\xaa\xbb\xcc\xdd\x01\x02\x03\x04'; } | seed tlv_past_message_end
{ hdr '\x05'; printf '\x0a\x04\x01\xbb\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff'; } |
	seed connect_shorter_than_5_words
{ hdr '\x03'; printf '\x01\x01\x00\x00\x01\x01\x00\x00'; } | seed duplicate_info
{ hdr '\x02'; printf '\x00\x01\x00\x00'; } | seed reserved_type_zero
{ hdr '\x02'; printf '\x63\x01\x00\x00'; } | seed unknown_type_99
{ hdr '\x06'; printf '\x0a\x05\x00\x50'; v4 '\x7f\x00\x00\x01'; } | seed connect_to_loopback
{ hdr '\x06'; printf '\x0a\x05\x00\x50'; v4 '\xff\xff\xff\xff'; } | seed connect_to_broadcast
{ hdr '\x06'; printf '\x0a\x05\x00\x50\xff\x02'
  printf '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xfb'; } | seed connect_to_v6_multicast
{ hdr '\x08'; printf '\x0a\x07\x01\xbb'; v4 '\xc0\x00\x02\x01'
  printf '\x00\x00\x02\x04\x05\xb4\x00\x00'; } | seed connect_eol_in_options
{ hdr '\x08'; printf '\x0a\x07\x01\xbb'; v4 '\xc0\x00\x02\x01'
  printf '\x02\x04\x05\xb4\x01\x03\x03\x07'; } | seed connect_nop_in_options
{ hdr '\x07'; printf '\x0a\x06\x01\xbb'; v4 '\xc0\x00\x02\x01'; printf '\x22\x01\x00\x00'; } |
	seed connect_option_length_1
{ hdr '\x08'; printf '\x0a\x07\x01\xbb'; v4 '\xc0\x00\x02\x01'
  printf '\x02\x04\x05\xb4\x1d\x04\x01\x02'; } | seed connect_asks_for_tcp_ao
{ hdr '\x03'; printf '\x15\x02\x00\x00\x1e\x01\x00\x00'; } | seed supported_ext_lists_nop
printf '\x01\x06\x22' | seed truncated_header
{ hdr '\x06'; printf '\x0a\x05\x01\xbb\x00\x00\x00\x00'; } | seed truncated_connect
{ hdr '\xff'; printf '\x16\xfe\x00\x00'; head -c 1012 /dev/zero; } | seed total_length_max_255

echo "wrote $(ls "$out" | wc -l) seeds to $out"
