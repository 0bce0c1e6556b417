/* libFuzzer harness for UDPing's datagram codec and udping_server's accounting.
 *
 * 1. The whole input is decoded as one datagram: the verdict must be one of the known
 *    ones, decode must not read past the input (ASan), an OK verdict must re-encode to the
 *    same 72 header bytes' fields, and the warning text must be a terminated string.
 * 2. The input is then read as a script of datagrams for the session table: each 16-byte
 *    record picks a source port, a GUID, data or control, a sequence number near or far
 *    from the last, a latency (any sign), a client start and a clock step; sessions are
 *    closed when complete, when their deadline passes, or at random, as the server's
 *    timers would. Invariants: an inferred count never has negative loss (but for packets
 *    too old to be checked for duplicates); a netgrind session without control packet
 *    reports 0, unknown; the table's lists agree with its count and its limits hold;
 *    every bitmap byte comes back to the budget. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "udping/session.h"
#include "udping/wire.h"

#define CHECK(c)     \
    do {             \
        if (!(c))    \
            abort(); \
    } while (0)

static void check_decode(const uint8_t *data, size_t size)
{
    struct udping_hdr h;
    enum udping_verdict v = udping_hdr_decode(data, size, &h);
    CHECK(v >= UDPING_OK_DATA && v <= UDPING_BAD_TIME);
    CHECK(memchr(h.guid, 0, sizeof h.guid) != NULL);
    char text[256];
    udping_verdict_text(v, &h, size, text, sizeof text);
    CHECK(memchr(text, 0, sizeof text) != NULL);
    if (v == UDPING_OK_DATA || v == UDPING_OK_CONTROL) {
        CHECK(size >= UDPING_HDR_LEN && h.size == size);
        uint8_t again[UDPING_HDR_LEN];
        udping_hdr_encode(&h, again);
        struct udping_hdr h2;
        enum udping_verdict v2 = udping_hdr_decode(again, UDPING_HDR_LEN, &h2);
        if (size == UDPING_HDR_LEN)
            CHECK(v2 == v);
        CHECK(h2.seq == h.seq && h2.sent_sec == h.sent_sec && h2.sent_nsec == h.sent_nsec &&
              h2.client_start == h.client_start && strcmp(h2.guid, h.guid) == 0);
    }
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void close_checked(struct udping_table *t, struct udping_session *s,
                          enum udping_trigger trig)
{
    struct udping_summary u;
    udping_table_close(t, s, trig, &u);
    if (u.exp_source == UDPING_EXP_INFERRED)
        CHECK(u.expected + u.unchecked >= u.count); /* an unverified one may be a duplicate */
    if (u.exp_source == UDPING_EXP_NONE)
        CHECK(u.expected == 0 && u.lost == 0);
    CHECK(u.p50_ms == u.p50_ms && u.p99_9_ms == u.p99_9_ms); /* not NaN */
}

static size_t list_len(const struct udping_table *t)
{
    size_t n = 0;
    for (const struct udping_session *s = t->head; s; s = s->next)
        n++;
    return n;
}

static void run_script(const uint8_t *data, size_t size)
{
    static const char *const guids[4] = {
        "00000000000000000000", "11111111111111111111",
        "2222222222222222222a", "333333333333333333ff",
    };
    struct udping_table t;
    if (udping_table_init(&t, 2000000000ull, 1700000000LL * 1000000000LL) < 0)
        return;
    t.max_sessions = 16;
    t.max_sources = 6;
    uint64_t mono = 1000000000000ull;
    int64_t real = 1700000005LL * 1000000000LL;
    uint32_t last_seq[8] = {0};
    for (size_t at = 0; at + 16 <= size; at += 16) {
        const uint8_t *r = data + at;
        uint16_t port = (uint16_t)(20000 + (r[0] & 7));
        const char *guid = guids[(r[0] >> 3) & 3];
        bool control = (r[0] & 0x20) != 0;
        uint32_t raw = get32(r + 1);
        uint32_t seq;
        switch (r[5] & 3) {
        case 0: /* next */
            seq = last_seq[r[0] & 7] + 1;
            break;
        case 1: /* near */
            seq = last_seq[r[0] & 7] + (uint32_t)(int32_t)(int8_t)r[6];
            break;
        case 2: /* far */
            seq = last_seq[r[0] & 7] + (raw & 0x3FFFFF);
            break;
        default: /* anything */
            seq = raw;
            break;
        }
        if (!control)
            last_seq[r[0] & 7] = seq;
        else if ((r[5] & 4) == 0)
            seq = raw & 0xFF; /* a plausible count */
        int64_t latency = (int64_t)(int32_t)get32(r + 7) * ((r[5] & 8) ? 1000 : 1);
        int64_t client_start = 1700000000LL + (int64_t)(int8_t)r[11];
        struct sock_addr from;
        memset(&from, 0, sizeof from);
        struct sockaddr_in *sin = (struct sockaddr_in *)&from.ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr.s_addr = htonl(0x7f000001);
        from.len = sizeof *sin;
        struct udping_hdr h;
        memset(&h, 0, sizeof h);
        h.proto_version = control ? UDPING_PROTO_CONTROL : UDPING_PROTO_DATA;
        h.client_start = client_start;
        memcpy(h.guid, guid, UDPING_GUID_LEN);
        h.seq = seq;
        if (!control) {
            int64_t sent = real - latency;
            h.sent_sec = sent / 1000000000LL;
            h.sent_nsec = sent % 1000000000LL;
            if (h.sent_nsec < 0) {
                h.sent_nsec += 1000000000LL;
                h.sent_sec--;
            }
            if (r[5] & 0x10) /* a wild send time */
                h.sent_sec = (int64_t)((uint64_t)raw << 32 | get32(r + 7));
        }
        h.size = UDPING_HDR_LEN;
        struct udping_rx rx = {&from, &h, control, real, (r[5] & 0x20) != 0, mono};
        struct udping_rx_result res;
        udping_table_receive(&t, &rx, &res);
        if (res.s && res.complete)
            close_checked(&t, res.s, UDPING_TRIGGER_CONTROL);
        /* the clock moves on; timers fire */
        uint64_t step = (uint64_t)r[12] * (r[13] & 1 ? 100000000ull : 1000000ull);
        mono += step;
        real += (int64_t)step;
        for (struct udping_session *s = t.head; s;) {
            struct udping_session *next = s->next;
            if (udping_session_deadline(&t, s) <= mono)
                close_checked(&t, s, s->have_control ? UDPING_TRIGGER_GRACE
                                                     : UDPING_TRIGGER_KEEPALIVE);
            s = next;
        }
        if ((r[14] & 0x1F) == 0 && t.head)
            close_checked(&t, t.head, UDPING_TRIGGER_EXIT);
        CHECK(list_len(&t) == t.nsessions);
        CHECK(t.nsessions <= t.max_sessions);
        CHECK(t.nsources <= t.max_sources);
    }
    while (t.head)
        close_checked(&t, t.head, UDPING_TRIGGER_EXIT);
    CHECK(t.seq_budget == UDPING_SEQ_BUDGET);
    udping_table_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact copy, so ASan sees any read past the end */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    check_decode(copy, size);
    run_script(copy, size);
    free(copy);
    return 0;
}
