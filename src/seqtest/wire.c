/* seqtest's 40-byte header and its incremental stream framer (see wire.h). */
#include "seqtest/wire.h"

#include <string.h>

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void wire_hdr_encode(const struct wire_hdr *h, uint8_t *out)
{
    put_le(out + 0, h->seqno, 8);
    put_le(out + 8, h->ts1, 8);
    put_le(out + 16, h->ts2, 8);
    put_le(out + 24, h->ts3, 8);
    put_le(out + 32, h->rdly, 4);
    put_le(out + 36, h->ssz, 2);
    put_le(out + 38, h->rsz, 2);
}

void wire_hdr_decode(const uint8_t *in, struct wire_hdr *h)
{
    h->seqno = get_le(in + 0, 8);
    h->ts1 = get_le(in + 8, 8);
    h->ts2 = get_le(in + 16, 8);
    h->ts3 = get_le(in + 24, 8);
    h->rdly = (uint32_t)get_le(in + 32, 4);
    h->ssz = (uint16_t)get_le(in + 36, 2);
    h->rsz = (uint16_t)get_le(in + 38, 2);
}

static bool size_ok(uint16_t v)
{
    return v >= WIRE_HDR_LEN && v <= WIRE_MSG_MAX;
}

enum wire_bad_field wire_check_sizes(const struct wire_hdr *h, enum wire_stream kind)
{
    if (kind == WIRE_REQUESTS) {
        if (!size_ok(h->ssz))
            return WIRE_BAD_SSZ;
        if (h->rsz != 0 && !size_ok(h->rsz))
            return WIRE_BAD_RSZ;
        return WIRE_BAD_NONE;
    }
    /* A reply is framed by rsz: check it first, it is what decides where the next one is. */
    if (!size_ok(h->rsz))
        return WIRE_BAD_RSZ;
    if (!size_ok(h->ssz))
        return WIRE_BAD_SSZ;
    return WIRE_BAD_NONE;
}

void wire_parser_init(struct wire_parser *p, enum wire_stream kind)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
}

static void consume(const uint8_t **buf, size_t *len, size_t n)
{
    *buf += n;
    *len -= n;
}

/* Collects header bytes; returns the event when the header is complete or input ran out. */
static enum wire_event_type collect_header(struct wire_parser *p, const uint8_t **buf, size_t *len,
                                           struct wire_event *ev)
{
    size_t take = WIRE_HDR_LEN - p->hdr_len;
    if (take > *len)
        take = *len;
    if (p->hdr_len == 0)
        p->msg_start = p->stream_off;
    memcpy(p->hdr_buf + p->hdr_len, *buf, take);
    consume(buf, len, take);
    p->hdr_len = (uint8_t)(p->hdr_len + take);
    p->stream_off += take;
    if (p->hdr_len < WIRE_HDR_LEN)
        return ev->type = WIRE_EV_MORE;

    p->hdr_len = 0;
    wire_hdr_decode(p->hdr_buf, &p->hdr);
    ev->hdr = p->hdr;
    ev->msg_stream_off = p->msg_start;
    ev->bad_field = wire_check_sizes(&p->hdr, p->kind);
    if (ev->bad_field != WIRE_BAD_NONE) {
        p->failed = true;
        return ev->type = WIRE_EV_BAD_SIZE;
    }
    p->in_message = true;
    p->msg_len = p->kind == WIRE_REQUESTS ? p->hdr.ssz : p->hdr.rsz;
    p->msg_have = WIRE_HDR_LEN;
    return ev->type = WIRE_EV_HEADER;
}

enum wire_event_type wire_parse(struct wire_parser *p, const uint8_t **buf, size_t *len,
                                struct wire_event *ev)
{
    ev->data = NULL;
    ev->len = 0;
    ev->offset = 0;
    if (p->failed) {
        ev->hdr = p->hdr;
        ev->msg_stream_off = p->msg_start;
        ev->bad_field = wire_check_sizes(&p->hdr, p->kind);
        return ev->type = WIRE_EV_BAD_SIZE;
    }
    if (!p->in_message) {
        if (*len == 0)
            return ev->type = WIRE_EV_MORE;
        return collect_header(p, buf, len, ev);
    }
    ev->hdr = p->hdr;
    ev->msg_stream_off = p->msg_start;
    if (p->msg_have < p->msg_len) {
        if (*len == 0)
            return ev->type = WIRE_EV_MORE;
        size_t take = (size_t)(p->msg_len - p->msg_have);
        if (take > *len)
            take = *len;
        ev->data = *buf;
        ev->len = take;
        ev->offset = p->msg_have;
        consume(buf, len, take);
        p->msg_have = (uint16_t)(p->msg_have + take);
        p->stream_off += take;
        return ev->type = WIRE_EV_PAYLOAD;
    }
    p->in_message = false;
    return ev->type = WIRE_EV_MESSAGE;
}
