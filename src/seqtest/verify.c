/* Payload patterns and header check values for seqtest -o verify (see verify.h). */
#include "seqtest/verify.h"

#include <string.h>

#define GOLDEN 0x9E3779B97F4A7C15ULL

uint64_t verify_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return x;
}

/* Absorbs one 64-bit word into a running hash state. */
static uint64_t absorb(uint64_t state, uint64_t word)
{
    return verify_mix64(state ^ verify_mix64(word + GOLDEN));
}

bool verify_parse_ts2(uint64_t ts2, uint32_t *conn)
{
    if ((uint32_t)(ts2 >> 32) != VERIFY_TAG)
        return false;
    *conn = (uint32_t)ts2;
    return true;
}

uint64_t verify_hdr_check(const struct wire_hdr *h)
{
    uint64_t s = 0x736571746573742EULL; /* "seqtest." */
    s = absorb(s, h->seqno);
    s = absorb(s, h->ts1);
    s = absorb(s, h->ts2);
    s = absorb(s, ((uint64_t)h->rdly << 32) | ((uint64_t)h->ssz << 16) | h->rsz);
    return s;
}

void verify_seal_request(struct wire_hdr *h, uint32_t conn)
{
    h->ts2 = verify_tag_ts2(conn);
    h->ts3 = verify_hdr_check(h);
}

bool verify_request_ok(const struct wire_hdr *h, uint32_t *conn)
{
    return verify_parse_ts2(h->ts2, conn) && h->ts3 == verify_hdr_check(h);
}

uint64_t verify_key(uint32_t conn, enum verify_dir dir, uint64_t seqno, uint64_t ts1)
{
    uint64_t s = absorb(0x7061796C6F616421ULL, ((uint64_t)dir << 32) | conn); /* "payload!" */
    s = absorb(s, seqno);
    return absorb(s, ts1);
}

static uint64_t pattern_word(uint64_t key, uint32_t index)
{
    return verify_mix64(key + (uint64_t)index * GOLDEN);
}

void verify_fill(uint64_t key, uint32_t offset, uint8_t *buf, size_t len)
{
    size_t i = 0;
    /* Leading bytes up to a word boundary, whole words, then the tail. */
    while (i < len && ((offset + i) & 7) != 0) {
        uint32_t o = (uint32_t)(offset + i);
        buf[i++] = (uint8_t)(pattern_word(key, o / 8) >> (8 * (o & 7)));
    }
    while (len - i >= 8) {
        uint64_t w = pattern_word(key, (uint32_t)((offset + i) / 8));
        for (unsigned b = 0; b < 8; b++)
            buf[i + b] = (uint8_t)(w >> (8 * b));
        i += 8;
    }
    while (i < len) {
        uint32_t o = (uint32_t)(offset + i);
        buf[i++] = (uint8_t)(pattern_word(key, o / 8) >> (8 * (o & 7)));
    }
}

size_t verify_check(uint64_t key, uint32_t offset, const uint8_t *buf, size_t len, size_t *nbad,
                    uint8_t *expected)
{
    uint8_t want[256];
    size_t first = len, bad = 0;
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof want ? len - done : sizeof want;
        verify_fill(key, (uint32_t)(offset + done), want, n);
        if (memcmp(want, buf + done, n) != 0) {
            for (size_t i = 0; i < n; i++) {
                if (want[i] == buf[done + i])
                    continue;
                if (first == len) {
                    first = done + i;
                    if (expected)
                        *expected = want[i];
                }
                bad++;
            }
        }
        done += n;
    }
    if (nbad)
        *nbad = bad;
    return first;
}

void verify_tracker_start(struct verify_tracker *t, uint64_t key)
{
    *t = (struct verify_tracker){.key = key};
}

void verify_tracker_feed(struct verify_tracker *t, uint32_t offset, const uint8_t *data, size_t len)
{
    size_t nbad = 0;
    uint8_t want = 0;
    size_t i = verify_check(t->key, offset, data, len, &nbad, &want);
    if (nbad == 0)
        return;
    if (t->nbad == 0) {
        t->first = offset + (uint32_t)i;
        t->got = data[i];
        t->want = want;
    }
    t->nbad += (uint32_t)nbad;
}
