/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RFC 8803 (0-RTT TCP Convert Protocol) codec: parse a Convert message into views of the
 * caller's buffer, and encode one into a caller's buffer. Pure: no I/O, no allocation, no
 * global state, so it can be called from any thread and fuzzed directly.
 *
 * Wire summary (RFC 8803 §3): a 4-byte fixed header {Version=1, Total Length in 32-bit words
 * including the header, Magic 0x2263}, then TLVs {Type, Length in 32-bit words including Type
 * and Length, Value zero-padded to 32 bits}. The largest message is 255 words = 1020 bytes.
 */
#ifndef MPCONV_CONVERT_H
#define MPCONV_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONV_VERSION	     1
#define CONV_MAGIC	     0x2263
#define CONV_PORT	     5124 /* IANA service port of a Transport Converter */
#define CONV_HDR_LEN	     4
#define CONV_MAX_LEN	     1020 /* Total Length is 8 bits of 32-bit words */
#define CONV_CONNECT_MIN_LEN 20	  /* Connect TLV without options: 5 words */
#define CONV_TCPOPT_AO	     29	  /* TCP-AO: never usable through a Converter (§3.2.8) */
#define CONV_TCPOPT_MPTCP    30	  /* Multipath TCP (RFC 8684) */

enum conv_tlv_type {
	CONV_TLV_INFO = 1,
	CONV_TLV_CONNECT = 10,
	CONV_TLV_EXT_TCP_HEADER = 20,
	CONV_TLV_SUPPORTED_EXT = 21,
	CONV_TLV_COOKIE = 22,
	CONV_TLV_ERROR = 30,
};

/* IANA "Convert Errors" registry (RFC 8803 §3.2.8 and §6). */
enum conv_error_code {
	CONV_ERR_UNSUPPORTED_VERSION = 0,
	CONV_ERR_MALFORMED_MESSAGE = 1,
	CONV_ERR_UNSUPPORTED_MESSAGE = 2,
	CONV_ERR_MISSING_COOKIE = 3,
	CONV_ERR_NOT_AUTHORIZED = 32,
	CONV_ERR_UNSUPPORTED_TCP_OPTION = 33,
	CONV_ERR_RESOURCE_EXCEEDED = 64,
	CONV_ERR_NETWORK_FAILURE = 65,
	CONV_ERR_CONNECTION_RESET = 96,
	CONV_ERR_DESTINATION_UNREACHABLE = 97,
};

/* Who wrote the bytes being parsed; it decides which TLV types are valid. */
enum conv_sender {
	/* A Converter parsing a request: Info, Connect, Cookie, Error. */
	CONV_FROM_CLIENT,
	/* A Client parsing a reply: Extended TCP Header, Supported Extensions, Cookie, Error. */
	CONV_FROM_CONVERTER,
};

/* conv_parse() flag: the stream has ended, so a partial message is Malformed, not -EAGAIN. */
#define CONV_PARSE_EOF 0x1u

struct conv_connect {
	uint16_t port;		/* host byte order */
	uint8_t addr[16];	/* IPv6, or IPv4-mapped ::ffff:a.b.c.d */
	const uint8_t *options; /* view: TCP options without padding; see conv_opt_next() */
	size_t options_len;
};

struct conv_error_tlv {
	uint8_t code;	      /* enum conv_error_code; unknown codes are kept as received */
	const uint8_t *value; /* view: everything after the code, padding included (opaque) */
	size_t value_len;
};

/* A parsed message. Pointers are views into the buffer given to conv_parse(). */
struct conv_message {
	uint8_t version;
	size_t length; /* bytes consumed: Total Length * 4 */
	bool has_info;
	bool has_connect;
	struct conv_connect connect;
	bool has_ext_tcp_header;
	const uint8_t *ext_tcp_header; /* opaque copy of the Server's SYN+ACK header, padded */
	size_t ext_tcp_header_len;
	bool has_supported_ext;
	const uint8_t *supported_ext; /* TCP option kinds, one byte each, padding stripped */
	size_t supported_ext_len;
	bool has_cookie;
	const uint8_t *cookie; /* opaque, padding included (a cookie is compared as sent) */
	size_t cookie_len;
	bool has_error;
	struct conv_error_tlv error;
};

/*
 * Why a parse was rejected, and what to answer. The Error TLV to send is: code, then the
 * value bytes, then the echo bytes (a view into the parsed buffer). Fill one by hand
 * (e.g. { .code = CONV_ERR_NOT_AUTHORIZED }) to send an error the codec did not detect.
 */
struct conv_parse_error {
	enum conv_error_code code;
	uint8_t value[4];    /* leading Value bytes, e.g. {1} supported versions, {29} TCP-AO */
	size_t value_len;    /* 0..4 */
	const uint8_t *echo; /* Malformed/Unsupported Message: the message echoed back (§3.2.8) */
	size_t echo_len;
	const char *reason; /* static string, for logs only */
	size_t offset;	    /* byte offset in the input where the fault was found */
};

struct conv_tcp_option {
	uint8_t kind;
	uint8_t len;	      /* whole option, kind and length bytes included: >= 2 */
	const uint8_t *value; /* view: len - 2 bytes */
};

struct conv_opt_iter {
	const uint8_t *buf;
	size_t len;
	size_t off;
};

/* Encoder state over a caller buffer; the first error sticks and finish() returns it. */
struct conv_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
	unsigned int types; /* TLV types already written: each may appear once */
};

/*
 * Parse one Convert message at the start of buf.
 * buf/len: bytes received so far (may extend past the message: application data follows).
 * max_len: largest message the caller accepts (4..1020; larger means 1020).
 * from: who sent the bytes. flags: CONV_PARSE_EOF when no more bytes will come.
 * Returns the message length in bytes (Total Length * 4, <= len) and fills *msg;
 * -EAGAIN when more bytes are needed (*err untouched);
 * -EPROTONOSUPPORT (Unsupported Version), -EBADMSG (Malformed Message), -EOPNOTSUPP
 * (Unsupported Message), -ENOPROTOOPT (Unsupported TCP Option) or -EMSGSIZE (longer than
 * max_len: Resource Exceeded), with *err saying what to answer; -EINVAL for a bad argument.
 * On any failure *msg is zeroed. err may be NULL when the caller does not answer errors.
 */
int conv_parse(const uint8_t *buf, size_t len, size_t max_len, enum conv_sender from,
	       unsigned int flags, struct conv_message *msg, struct conv_parse_error *err);

/* True when the two messages carry the same values (views compared by content). */
bool conv_message_equal(const struct conv_message *a, const struct conv_message *b);

/* Iterate a Connect TCP options view. Returns 1 and fills *opt, 0 at the end, -EBADMSG on an
 * EOL/NOP, a length below 2 or an option running past the list (never for a parsed view). */
void conv_opt_iter_init(struct conv_opt_iter *it, const struct conv_connect *connect);
int conv_opt_next(struct conv_opt_iter *it, struct conv_tcp_option *opt);

/* Start a message in buf (reserves the header). Sets w->err to -EMSGSIZE if cap < 4. */
void conv_writer_begin(struct conv_writer *w, uint8_t *buf, size_t cap);
/*
 * Append one TLV. Each returns 0 or the writer's (sticky) negative errno: -EMSGSIZE when the
 * buffer or the 1020-byte maximum would overflow; -EINVAL for a TLV type already written or
 * content the decoder would reject (see each). Values are zero-padded to 32 bits.
 */
int conv_put_info(struct conv_writer *w);
/* -EINVAL for options that are not a list of kind/length/value options (EOL, NOP,
 * length < 2, overrun) or that ask for TCP-AO. Which addresses may be named is the
 * destination policy's question (destination.h), not the codec's. */
int conv_put_connect(struct conv_writer *w, uint16_t port, const uint8_t addr[16],
		     const uint8_t *options, size_t options_len);
int conv_put_ext_tcp_header(struct conv_writer *w, const uint8_t *hdr, size_t len);
/* -EINVAL when a kind is 0, 1 or 2 (EOL, NOP, MSS must not be listed, §3.2.3). */
int conv_put_supported_ext(struct conv_writer *w, const uint8_t *kinds, size_t n);
int conv_put_cookie(struct conv_writer *w, const uint8_t *cookie, size_t len);
int conv_put_error(struct conv_writer *w, enum conv_error_code code, const uint8_t *value,
		   size_t len);
/* Write the header. Returns the message length in bytes, or the first error. */
int conv_writer_finish(struct conv_writer *w);

/* Encode every TLV present in msg (canonical order). Returns bytes written or -errno. */
int conv_write_message(uint8_t *buf, size_t cap, const struct conv_message *msg);

/*
 * Build a whole error reply: header, Error TLV {err->code, err->value, err->echo}, then a
 * Cookie TLV when cookie is not NULL (the Missing Cookie answer, §3.2.7). The echo is cut
 * short to fit min(cap, 1020). Returns bytes written, -EMSGSIZE, or -EINVAL.
 */
int conv_write_error_reply(uint8_t *buf, size_t cap, const struct conv_parse_error *err,
			   const uint8_t *cookie, size_t cookie_len);

/*
 * The Extended TCP Header TLV should copy the server's SYN+ACK header. Linux does not hand an
 * application the SYN+ACK of an active open, so a converter describes what was negotiated in
 * the same form: a 20-byte TCP header (source port, SYN|ACK, data offset) followed by the
 * options the server agreed to: MSS, SACK-permitted, timestamps, window scale, and MP_CAPABLE
 * (version 1, flag H) when the server leg is MPTCP. Values kept from the application
 * (sequence numbers, timestamps, the MPTCP key) are zero.
 */
struct conv_server_desc {
	uint16_t port;		    /* the server's port */
	uint16_t mss;		    /* 0 = no MSS option */
	bool sack, timestamps, mptcp;
	int wscale;		    /* -1 = no window scale option, else 0..14 */
};

/* Writes the header into out; returns its length (a multiple of 4, at most 60), or 0 when cap
 * is too small. */
size_t conv_describe_server(const struct conv_server_desc *desc, uint8_t *out, size_t cap);

/* Connect address and port to a socket address: AF_INET for an IPv4-mapped address, else
 * AF_INET6. Always succeeds. */
void conv_connect_to_sockaddr(const struct conv_connect *connect, struct sockaddr_storage *ss,
			      socklen_t *sslen);
/* The reverse: AF_INET becomes IPv4-mapped. Returns 0, -EAFNOSUPPORT, or -EINVAL (short). */
int conv_addr_from_sockaddr(const struct sockaddr *sa, socklen_t salen, uint8_t addr[16],
			    uint16_t *port);

/* Names for logs; never NULL ("unknown" for unregistered values). */
const char *conv_tlv_name(uint8_t type);
const char *conv_error_name(enum conv_error_code code);
/* The same as a label slug ("malformed_message", "resource_exceeded"), "unknown" otherwise:
 * the one spelling of an error code in logs, metrics and JSON, in both roles. */
const char *conv_error_slug(enum conv_error_code code);

#endif
