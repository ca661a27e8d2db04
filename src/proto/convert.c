// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The RFC 8803 Convert message codec, both directions.
 * Owns: the wire format (fixed header, TLVs, Connect TCP options, Error values) and the
 * mapping from each malformation to the RFC 8803 Error code a peer must be answered with.
 * Never: does I/O, allocates, logs or keeps state; never casts a struct over wire bytes or
 * reads a byte whose presence it has not checked (struct conv_cursor does the checking);
 * never loops without consuming bytes.
 * Reserved/Unassigned fields are ignored on receipt and written as zero (lenient where the
 * RFC is silent); the zero padding that ends a list must be shorter than a word.
 */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>

#include "convert.h"

/* A bounds-checked reader: every read checks what is left, so off never passes len. */
struct conv_cursor {
	const uint8_t *buf;
	size_t len;
	size_t off;
};

static bool cur_u8(struct conv_cursor *c, uint8_t *v)
{
	if (c->len - c->off < 1)
		return false;
	*v = c->buf[c->off++];
	return true;
}

static bool cur_u16(struct conv_cursor *c, uint16_t *v)
{
	if (c->len - c->off < 2)
		return false;
	*v = (uint16_t)(c->buf[c->off] << 8 | c->buf[c->off + 1]);
	c->off += 2;
	return true;
}

static bool cur_take(struct conv_cursor *c, size_t n, const uint8_t **p)
{
	if (c->len - c->off < n)
		return false;
	*p = c->buf + c->off;
	c->off += n;
	return true;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* Bit per known TLV type, for "valid from this sender" and "at most once" sets. */
static int tlv_bit(uint8_t type)
{
	switch (type) {
	case CONV_TLV_INFO:
		return 0;
	case CONV_TLV_CONNECT:
		return 1;
	case CONV_TLV_EXT_TCP_HEADER:
		return 2;
	case CONV_TLV_SUPPORTED_EXT:
		return 3;
	case CONV_TLV_COOKIE:
		return 4;
	case CONV_TLV_ERROR:
		return 5;
	}
	return -1;
}

/* Only for the six known types: tlv_bit() is -1 for any other. */
#define TLV_BIT(t) (1u << tlv_bit(t))

/*
 * RFC 8803 §3.2: Info and Connect come from the Client; Extended TCP Header and Supported TCP
 * Extensions from the Converter; Cookie from both (the Converter hands one out with Missing
 * Cookie, §3.2.7). Error from both: §3.2.8 has Unsupported Version generated "by a Transport
 * Converter (or Client)", and the other validation errors are about "a message received from
 * a peer", so a Client may report a bad reply with an Error TLV.
 */
static unsigned int valid_from(enum conv_sender from)
{
	if (from == CONV_FROM_CLIENT)
		return TLV_BIT(CONV_TLV_INFO) | TLV_BIT(CONV_TLV_CONNECT) |
		       TLV_BIT(CONV_TLV_COOKIE) | TLV_BIT(CONV_TLV_ERROR);
	return TLV_BIT(CONV_TLV_EXT_TCP_HEADER) | TLV_BIT(CONV_TLV_SUPPORTED_EXT) |
	       TLV_BIT(CONV_TLV_COOKIE) | TLV_BIT(CONV_TLV_ERROR);
}

static int errno_for(enum conv_error_code code)
{
	switch (code) {
	case CONV_ERR_UNSUPPORTED_VERSION:
		return EPROTONOSUPPORT;
	case CONV_ERR_UNSUPPORTED_MESSAGE:
		return EOPNOTSUPP;
	case CONV_ERR_UNSUPPORTED_TCP_OPTION:
		return ENOPROTOOPT;
	case CONV_ERR_RESOURCE_EXCEEDED:
		return EMSGSIZE;
	default:
		return EBADMSG;
	}
}

static int reject(struct conv_parse_error *err, enum conv_error_code code, const char *reason,
		  size_t offset)
{
	err->code = code;
	err->reason = reason;
	err->offset = offset;
	return -errno_for(code);
}

/*
 * Reads one kind/length/value option. EOL and NOP are refused: RFC 8803 §3.2.4 says options
 * without a length byte cannot be placed in the Connect TLV. Returns NULL or a reason.
 */
static const char *read_option(struct conv_cursor *c, struct conv_tcp_option *opt)
{
	if (!cur_u8(c, &opt->kind))
		return "TCP option list is empty";
	if (opt->kind == 0 || opt->kind == 1)
		return "EOL or NOP in Connect TCP options";
	if (!cur_u8(c, &opt->len))
		return "TCP option without a length byte";
	if (opt->len < 2)
		return "TCP option length below 2";
	if (!cur_take(c, opt->len - 2u, &opt->value))
		return "TCP option runs past the options list";
	return NULL;
}

/*
 * Walks a Connect TCP Options field. When padded, a zero byte at an option boundary starts
 * the padding, which must be zero to the end and shorter than a word: the field "ends on a
 * 32-bit boundary after being padded with zeros" (§3.2.4), so 4+ zero bytes are an EOL
 * option, which is forbidden. Returns NULL and the unpadded length in *used, or a reason and
 * the offset of the fault in *fault; *ao gets the offset + 1 of the first TCP-AO option.
 */
static const char *walk_options(const uint8_t *p, size_t n, bool padded, size_t *used,
				size_t *fault, size_t *ao)
{
	struct conv_cursor c = { .buf = p, .len = n, .off = 0 };
	struct conv_tcp_option opt;
	const char *why;

	*ao = 0;
	while (c.off < c.len) {
		size_t start = c.off;

		if (padded && p[start] == 0) {
			for (size_t i = start; i < n; i++) {
				if (p[i] != 0 || n - start > 3) {
					*fault = start;
					return "EOL in Connect TCP options";
				}
			}
			*used = start;
			return NULL;
		}
		why = read_option(&c, &opt);
		if (why) {
			*fault = start;
			return why;
		}
		if (opt.kind == CONV_TCPOPT_AO && !*ao)
			*ao = start + 1;
	}
	*used = n;
	return NULL;
}

/* Same rule as the Connect options: kinds end at 1-3 zero bytes of padding. */
static const char *walk_kinds(const uint8_t *p, size_t n, size_t *used, size_t *fault)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0) {
			for (size_t j = i; j < n; j++) {
				if (p[j] != 0 || n - i > 3) {
					*fault = i;
					return "Supported TCP Extensions lists EOL";
				}
			}
			*used = i;
			return NULL;
		}
		if (p[i] <= 2) {
			*fault = i;
			return "Supported TCP Extensions lists NOP or MSS";
		}
	}
	*used = n;
	return NULL;
}

struct parse_state {
	enum conv_sender from;
	unsigned int seen;
	size_t ao_off;	    /* offset of the first TCP-AO option, 0 = none */
	struct conv_message *msg;
	struct conv_parse_error *err;
};

static int parse_connect(struct parse_state *st, const uint8_t *tlv, size_t len, size_t base)
{
	struct conv_connect *cn = &st->msg->connect;
	struct conv_cursor c = { .buf = tlv, .len = len, .off = 2 };
	const uint8_t *addr, *opts;
	size_t used, fault, ao;
	const char *why;

	if (len < CONV_CONNECT_MIN_LEN)
		return reject(st->err, CONV_ERR_MALFORMED_MESSAGE,
			      "Connect TLV shorter than 5 words", base + 1);
	if (!cur_u16(&c, &cn->port) || !cur_take(&c, sizeof(cn->addr), &addr) ||
	    !cur_take(&c, len - CONV_CONNECT_MIN_LEN, &opts))
		return reject(st->err, CONV_ERR_MALFORMED_MESSAGE, "Connect TLV truncated", base);
	memcpy(cn->addr, addr, sizeof(cn->addr));
	why = walk_options(opts, len - CONV_CONNECT_MIN_LEN, true, &used, &fault, &ao);
	if (why)
		return reject(st->err, CONV_ERR_MALFORMED_MESSAGE, why,
			      base + CONV_CONNECT_MIN_LEN + fault);
	cn->options = opts;
	cn->options_len = used;
	if (ao)
		st->ao_off = base + CONV_CONNECT_MIN_LEN + ao - 1;
	st->msg->has_connect = true;
	return 0;
}

static int parse_tlv(struct parse_state *st, uint8_t type, const uint8_t *tlv, size_t len,
		     size_t base)
{
	struct conv_message *m = st->msg;
	size_t used, fault;
	const char *why;
	int bit = tlv_bit(type);

	/* Type 0 is Reserved in the IANA registry: never a real TLV, so the bytes are garbage. */
	if (type == 0)
		return reject(st->err, CONV_ERR_MALFORMED_MESSAGE, "TLV type 0 is reserved", base);
	if (bit < 0 || !(valid_from(st->from) & (1u << bit)))
		return reject(st->err, CONV_ERR_UNSUPPORTED_MESSAGE,
			      "TLV type unknown or not valid from this sender", base);
	/* §3.2.1: a TLV appears at most once; a duplicate closes both connections. */
	if (st->seen & (1u << bit))
		return reject(st->err, CONV_ERR_MALFORMED_MESSAGE, "TLV type appears twice", base);
	st->seen |= 1u << bit;

	switch (type) {
	case CONV_TLV_INFO:
		if (len != 4)
			return reject(st->err, CONV_ERR_MALFORMED_MESSAGE,
				      "Info TLV Length is not 1", base + 1);
		m->has_info = true;
		return 0;
	case CONV_TLV_CONNECT:
		return parse_connect(st, tlv, len, base);
	case CONV_TLV_EXT_TCP_HEADER:
		/* Opaque: the Server's SYN+ACK header as the Converter copied it (§3.2.5). */
		m->has_ext_tcp_header = true;
		m->ext_tcp_header = tlv + 4;
		m->ext_tcp_header_len = len - 4;
		return 0;
	case CONV_TLV_SUPPORTED_EXT:
		why = walk_kinds(tlv + 4, len - 4, &used, &fault);
		if (why)
			return reject(st->err, CONV_ERR_MALFORMED_MESSAGE, why, base + 4 + fault);
		m->has_supported_ext = true;
		m->supported_ext = tlv + 4;
		m->supported_ext_len = used;
		return 0;
	case CONV_TLV_COOKIE:
		m->has_cookie = true;
		m->cookie = tlv + 4;
		m->cookie_len = len - 4;
		return 0;
	default: /* CONV_TLV_ERROR */
		m->has_error = true;
		m->error.code = tlv[2];
		m->error.value = tlv + 3;
		m->error.value_len = len - 3;
		return 0;
	}
}

/* Header checks run on whatever bytes are present, so garbage is refused at once. */
static int parse_header(const uint8_t *buf, size_t len, size_t max_len, unsigned int flags,
			struct conv_parse_error *err)
{
	if (len >= 1 && buf[0] != CONV_VERSION) {
		/* §3.2.8: the value lists the versions we support, one byte each. */
		err->value[0] = CONV_VERSION;
		err->value_len = 1;
		return reject(err, CONV_ERR_UNSUPPORTED_VERSION, "unsupported Convert version", 0);
	}
	if (len >= 2 && buf[1] == 0)
		return reject(err, CONV_ERR_MALFORMED_MESSAGE, "Total Length is zero", 1);
	if (len >= 2 && buf[1] * 4u > max_len)
		/* Well formed but larger than this receiver will buffer: a resource limit. */
		return reject(err, CONV_ERR_RESOURCE_EXCEEDED, "message longer than accepted", 1);
	if ((len >= 3 && buf[2] != (CONV_MAGIC >> 8)) ||
	    (len >= 4 && buf[3] != (CONV_MAGIC & 0xff)))
		return reject(err, CONV_ERR_MALFORMED_MESSAGE, "bad magic number", 2);
	if (len < CONV_HDR_LEN || len < buf[1] * 4u) {
		if (!(flags & CONV_PARSE_EOF))
			return -EAGAIN;
		return reject(err, CONV_ERR_MALFORMED_MESSAGE, "stream ended inside the message",
			      len);
	}
	return 0;
}

int conv_parse(const uint8_t *buf, size_t len, size_t max_len, enum conv_sender from,
	       unsigned int flags, struct conv_message *msg, struct conv_parse_error *err)
{
	/* Errors collect in scratch: -EAGAIN must leave *err untouched, as documented. */
	struct conv_parse_error scratch = { 0 };
	struct parse_state st = { .from = from, .msg = msg, .err = &scratch };
	struct conv_cursor c = { 0 };
	int ret;

	memset(msg, 0, sizeof(*msg));
	if (max_len > CONV_MAX_LEN)
		max_len = CONV_MAX_LEN;
	if ((!buf && len) || max_len < CONV_HDR_LEN ||
	    (from != CONV_FROM_CLIENT && from != CONV_FROM_CONVERTER))
		return -EINVAL;

	ret = parse_header(buf, len, max_len, flags, &scratch);
	if (ret == 0) {
		c = (struct conv_cursor){ .buf = buf, .len = buf[1] * 4u, .off = CONV_HDR_LEN };
		msg->version = buf[0];
		msg->length = c.len;
	}
	/* Each TLV is at least one word and the message is whole words, so this advances. */
	while (ret == 0 && c.off < c.len) {
		size_t base = c.off;
		const uint8_t *tlv;
		uint8_t type, words;

		if (!cur_u8(&c, &type) || !cur_u8(&c, &words)) {
			ret = reject(&scratch, CONV_ERR_MALFORMED_MESSAGE, "truncated TLV", base);
			break;
		}
		if (words == 0) {
			ret = reject(&scratch, CONV_ERR_MALFORMED_MESSAGE, "TLV Length is zero",
				     base + 1);
			break;
		}
		c.off = base;
		if (!cur_take(&c, words * 4u, &tlv)) {
			ret = reject(&scratch, CONV_ERR_MALFORMED_MESSAGE,
				     "TLV runs past the end of the message", base + 1);
			break;
		}
		ret = parse_tlv(&st, type, tlv, words * 4u, base);
	}
	/* Which destinations are refused (§3.2.4: multicast, broadcast, loopback...) is the
	 * destination policy's job (destination.h), the same for every entrance, not the codec's. */
	if (ret == 0 && st.ao_off) {
		/* §3.2.8: the value lists the unsupported option kinds, zero padded. */
		scratch.value[0] = CONV_TCPOPT_AO;
		scratch.value_len = 1;
		ret = reject(&scratch, CONV_ERR_UNSUPPORTED_TCP_OPTION, "Connect asks for TCP-AO",
			     st.ao_off);
	}
	if (ret == 0)
		return (int)msg->length;

	memset(msg, 0, sizeof(*msg));
	if (ret == -EAGAIN)
		return ret;
	if (scratch.code == CONV_ERR_MALFORMED_MESSAGE ||
	    scratch.code == CONV_ERR_UNSUPPORTED_MESSAGE) {
		/* §3.2.8: the value echoes the message "shifted by one byte to keep the original
		 * alignment": one zero byte, then the message as far as we know where it ends. */
		size_t known = len >= 2 && buf[1] ? buf[1] * 4u : CONV_HDR_LEN;

		scratch.value[0] = 0;
		scratch.value_len = 1;
		scratch.echo = buf;
		scratch.echo_len = len < known ? len : known;
	}
	if (err)
		*err = scratch;
	return ret;
}

static bool view_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

bool conv_message_equal(const struct conv_message *a, const struct conv_message *b)
{
	if (a->version != b->version || a->length != b->length || a->has_info != b->has_info ||
	    a->has_connect != b->has_connect || a->has_ext_tcp_header != b->has_ext_tcp_header ||
	    a->has_supported_ext != b->has_supported_ext || a->has_cookie != b->has_cookie ||
	    a->has_error != b->has_error)
		return false;
	if (a->has_connect &&
	    (a->connect.port != b->connect.port ||
	     memcmp(a->connect.addr, b->connect.addr, sizeof(a->connect.addr)) != 0 ||
	     !view_equal(a->connect.options, a->connect.options_len, b->connect.options,
			 b->connect.options_len)))
		return false;
	if (a->has_ext_tcp_header && !view_equal(a->ext_tcp_header, a->ext_tcp_header_len,
						 b->ext_tcp_header, b->ext_tcp_header_len))
		return false;
	if (a->has_supported_ext && !view_equal(a->supported_ext, a->supported_ext_len,
						b->supported_ext, b->supported_ext_len))
		return false;
	if (a->has_cookie && !view_equal(a->cookie, a->cookie_len, b->cookie, b->cookie_len))
		return false;
	if (a->has_error &&
	    (a->error.code != b->error.code ||
	     !view_equal(a->error.value, a->error.value_len, b->error.value, b->error.value_len)))
		return false;
	return true;
}

void conv_opt_iter_init(struct conv_opt_iter *it, const struct conv_connect *connect)
{
	it->buf = connect->options;
	it->len = connect->options ? connect->options_len : 0;
	it->off = 0;
}

int conv_opt_next(struct conv_opt_iter *it, struct conv_tcp_option *opt)
{
	struct conv_cursor c = { .buf = it->buf, .len = it->len, .off = it->off };

	if (c.off >= c.len)
		return 0;
	if (read_option(&c, opt)) {
		it->off = it->len; /* stop: a broken list has no next option */
		return -EBADMSG;
	}
	it->off = c.off;
	return 1;
}

void conv_writer_begin(struct conv_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = CONV_HDR_LEN;
	w->types = 0;
	w->err = buf && cap >= CONV_HDR_LEN ? 0 : -EMSGSIZE;
}

static int fail(struct conv_writer *w, int err)
{
	if (!w->err)
		w->err = err;
	return w->err;
}

/* One TLV: type, length, then pre and body bytes, zero padded to a word. */
static int put_tlv(struct conv_writer *w, uint8_t type, const uint8_t *pre, size_t pre_len,
		   const uint8_t *body, size_t body_len)
{
	size_t limit = w->cap < CONV_MAX_LEN ? w->cap : CONV_MAX_LEN;
	size_t raw, size;
	uint8_t *p;

	if (w->err)
		return w->err;
	if (w->types & TLV_BIT(type))
		return fail(w, -EINVAL);
	if (body_len > CONV_MAX_LEN || (body_len && !body))
		return fail(w, body_len > CONV_MAX_LEN ? -EMSGSIZE : -EINVAL);
	raw = 2 + pre_len + body_len;
	size = pad4(raw);
	/* 255 words is the TLV Length ceiling; the 1020-byte message limit is tighter anyway. */
	if (size / 4 > 255 || size > limit - w->len)
		return fail(w, -EMSGSIZE);
	p = w->buf + w->len;
	p[0] = type;
	p[1] = (uint8_t)(size / 4);
	if (pre_len)
		memcpy(p + 2, pre, pre_len);
	if (body_len)
		memcpy(p + 2 + pre_len, body, body_len);
	memset(p + raw, 0, size - raw);
	w->len += size;
	w->types |= TLV_BIT(type);
	return 0;
}

static const uint8_t zero2[2];

int conv_put_info(struct conv_writer *w)
{
	return put_tlv(w, CONV_TLV_INFO, zero2, 2, NULL, 0);
}

int conv_put_connect(struct conv_writer *w, uint16_t port, const uint8_t addr[16],
		     const uint8_t *options, size_t options_len)
{
	uint8_t pre[18];
	size_t used, fault, ao;

	if (w->err)
		return w->err;
	if (options_len > CONV_MAX_LEN)
		return fail(w, -EMSGSIZE);
	if (!addr || (options_len && !options))
		return fail(w, -EINVAL);
	/* Unpadded walk: the caller's list must be exactly options, the writer adds padding. */
	if (walk_options(options, options_len, false, &used, &fault, &ao) || ao)
		return fail(w, -EINVAL);
	pre[0] = (uint8_t)(port >> 8);
	pre[1] = (uint8_t)port;
	memcpy(pre + 2, addr, 16);
	return put_tlv(w, CONV_TLV_CONNECT, pre, sizeof(pre), options, options_len);
}

int conv_put_ext_tcp_header(struct conv_writer *w, const uint8_t *hdr, size_t len)
{
	return put_tlv(w, CONV_TLV_EXT_TCP_HEADER, zero2, 2, hdr, len);
}

int conv_put_supported_ext(struct conv_writer *w, const uint8_t *kinds, size_t n)
{
	for (size_t i = 0; kinds && i < n; i++)
		if (kinds[i] <= 2)
			return fail(w, -EINVAL);
	return put_tlv(w, CONV_TLV_SUPPORTED_EXT, zero2, 2, kinds, n);
}

int conv_put_cookie(struct conv_writer *w, const uint8_t *cookie, size_t len)
{
	return put_tlv(w, CONV_TLV_COOKIE, zero2, 2, cookie, len);
}

int conv_put_error(struct conv_writer *w, enum conv_error_code code, const uint8_t *value,
		   size_t len)
{
	uint8_t pre = (uint8_t)code;

	return put_tlv(w, CONV_TLV_ERROR, &pre, 1, value, len);
}

int conv_writer_finish(struct conv_writer *w)
{
	if (w->err)
		return w->err;
	w->buf[0] = CONV_VERSION;
	w->buf[1] = (uint8_t)(w->len / 4);
	w->buf[2] = CONV_MAGIC >> 8;
	w->buf[3] = CONV_MAGIC & 0xff;
	return (int)w->len;
}

int conv_write_message(uint8_t *buf, size_t cap, const struct conv_message *m)
{
	struct conv_writer w;

	conv_writer_begin(&w, buf, cap);
	if (m->has_info)
		conv_put_info(&w);
	if (m->has_connect)
		conv_put_connect(&w, m->connect.port, m->connect.addr, m->connect.options,
				 m->connect.options_len);
	if (m->has_ext_tcp_header)
		conv_put_ext_tcp_header(&w, m->ext_tcp_header, m->ext_tcp_header_len);
	if (m->has_supported_ext)
		conv_put_supported_ext(&w, m->supported_ext, m->supported_ext_len);
	if (m->has_cookie)
		conv_put_cookie(&w, m->cookie, m->cookie_len);
	if (m->has_error)
		conv_put_error(&w, m->error.code, m->error.value, m->error.value_len);
	return conv_writer_finish(&w);
}

int conv_write_error_reply(uint8_t *buf, size_t cap, const struct conv_parse_error *err,
			   const uint8_t *cookie, size_t cookie_len)
{
	size_t limit = cap < CONV_MAX_LEN ? cap : CONV_MAX_LEN;
	size_t cookie_tlv = cookie ? 4 + pad4(cookie_len) : 0;
	size_t echo_len = err->echo ? err->echo_len : 0;
	size_t room;
	uint8_t pre[1 + sizeof(err->value)];
	struct conv_writer w;

	if (err->value_len > sizeof(err->value))
		return -EINVAL;
	/* The echo only helps debugging: cut it to what fits beside the header and cookie. */
	if (cookie_len <= CONV_MAX_LEN && CONV_HDR_LEN + cookie_tlv < limit) {
		room = (limit - CONV_HDR_LEN - cookie_tlv) & ~(size_t)3;
		if (room >= 3 + err->value_len && echo_len > room - 3 - err->value_len)
			echo_len = room - 3 - err->value_len;
	}
	pre[0] = (uint8_t)err->code;
	if (err->value_len)
		memcpy(pre + 1, err->value, err->value_len);

	conv_writer_begin(&w, buf, cap);
	put_tlv(&w, CONV_TLV_ERROR, pre, 1 + err->value_len, err->echo, echo_len);
	if (cookie)
		conv_put_cookie(&w, cookie, cookie_len);
	return conv_writer_finish(&w);
}

static bool is_v4_mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

size_t conv_describe_server(const struct conv_server_desc *desc, uint8_t *out, size_t cap)
{
	uint8_t opts[40];
	size_t n = 0, total;

	if (desc->mss) {
		opts[n++] = 2;
		opts[n++] = 4;
		opts[n++] = (uint8_t)(desc->mss >> 8);
		opts[n++] = (uint8_t)desc->mss;
	}
	if (desc->sack) {
		opts[n++] = 4;
		opts[n++] = 2;
	}
	if (desc->timestamps) {
		opts[n++] = 8;
		opts[n++] = 10;
		memset(opts + n, 0, 8);
		n += 8;
	}
	if (desc->wscale >= 0) {
		opts[n++] = 3;
		opts[n++] = 3;
		opts[n++] = (uint8_t)(desc->wscale > 14 ? 14 : desc->wscale);
	}
	if (desc->mptcp) {
		/* MP_CAPABLE as in a SYN+ACK: version 1, flag H (HMAC-SHA256), key not disclosed */
		opts[n++] = CONV_TCPOPT_MPTCP;
		opts[n++] = 12;
		opts[n++] = 0x01;
		opts[n++] = 0x01;
		memset(opts + n, 0, 8);
		n += 8;
	}
	while (n % 4)
		opts[n++] = 1; /* NOP: a TCP header's options end on a 32-bit boundary */
	total = 20 + n;
	if (total > cap)
		return 0;
	memset(out, 0, 20);
	out[0] = (uint8_t)(desc->port >> 8);
	out[1] = (uint8_t)desc->port;
	out[12] = (uint8_t)((total / 4) << 4);
	out[13] = 0x12; /* SYN|ACK */
	memcpy(out + 20, opts, n);
	return total;
}

void conv_connect_to_sockaddr(const struct conv_connect *cn, struct sockaddr_storage *ss,
			      socklen_t *sslen)
{
	memset(ss, 0, sizeof(*ss));
	if (is_v4_mapped(cn->addr)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(cn->port);
		memcpy(&sin->sin_addr, cn->addr + 12, 4);
		*sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(cn->port);
		memcpy(&sin6->sin6_addr, cn->addr, 16);
		*sslen = sizeof(*sin6);
	}
}

int conv_addr_from_sockaddr(const struct sockaddr *sa, socklen_t salen, uint8_t addr[16],
			    uint16_t *port)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (!sa || salen < (socklen_t)sizeof(sa_family_t))
		return -EINVAL;
	/* Copy out: the caller's sockaddr may not be aligned for the specific type. */
	if (sa->sa_family == AF_INET) {
		if (salen < (socklen_t)sizeof(sin))
			return -EINVAL;
		memcpy(&sin, sa, sizeof(sin));
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &sin.sin_addr, 4);
		*port = ntohs(sin.sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		if (salen < (socklen_t)sizeof(sin6))
			return -EINVAL;
		memcpy(&sin6, sa, sizeof(sin6));
		memcpy(addr, &sin6.sin6_addr, 16);
		*port = ntohs(sin6.sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

const char *conv_tlv_name(uint8_t type)
{
	switch (type) {
	case CONV_TLV_INFO:
		return "Info";
	case CONV_TLV_CONNECT:
		return "Connect";
	case CONV_TLV_EXT_TCP_HEADER:
		return "Extended TCP Header";
	case CONV_TLV_SUPPORTED_EXT:
		return "Supported TCP Extensions";
	case CONV_TLV_COOKIE:
		return "Cookie";
	case CONV_TLV_ERROR:
		return "Error";
	}
	return "unknown";
}

const char *conv_error_slug(enum conv_error_code code)
{
	switch (code) {
	case CONV_ERR_UNSUPPORTED_VERSION:
		return "unsupported_version";
	case CONV_ERR_MALFORMED_MESSAGE:
		return "malformed_message";
	case CONV_ERR_UNSUPPORTED_MESSAGE:
		return "unsupported_message";
	case CONV_ERR_MISSING_COOKIE:
		return "missing_cookie";
	case CONV_ERR_NOT_AUTHORIZED:
		return "not_authorized";
	case CONV_ERR_UNSUPPORTED_TCP_OPTION:
		return "unsupported_tcp_option";
	case CONV_ERR_RESOURCE_EXCEEDED:
		return "resource_exceeded";
	case CONV_ERR_NETWORK_FAILURE:
		return "network_failure";
	case CONV_ERR_CONNECTION_RESET:
		return "connection_reset";
	case CONV_ERR_DESTINATION_UNREACHABLE:
		return "destination_unreachable";
	}
	return "unknown";
}

const char *conv_error_name(enum conv_error_code code)
{
	switch (code) {
	case CONV_ERR_UNSUPPORTED_VERSION:
		return "Unsupported Version";
	case CONV_ERR_MALFORMED_MESSAGE:
		return "Malformed Message";
	case CONV_ERR_UNSUPPORTED_MESSAGE:
		return "Unsupported Message";
	case CONV_ERR_MISSING_COOKIE:
		return "Missing Cookie";
	case CONV_ERR_NOT_AUTHORIZED:
		return "Not Authorized";
	case CONV_ERR_UNSUPPORTED_TCP_OPTION:
		return "Unsupported TCP Option";
	case CONV_ERR_RESOURCE_EXCEEDED:
		return "Resource Exceeded";
	case CONV_ERR_NETWORK_FAILURE:
		return "Network Failure";
	case CONV_ERR_CONNECTION_RESET:
		return "Connection Reset";
	case CONV_ERR_DESTINATION_UNREACHABLE:
		return "Destination Unreachable";
	}
	return "unknown";
}
