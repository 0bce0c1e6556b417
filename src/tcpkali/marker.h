#ifndef NETGRIND_TCPKALI_MARKER_H
#define NETGRIND_TCPKALI_MARKER_H

/* Streaming search for a fixed byte string in a byte stream that arrives in pieces (one
 * read() at a time): --latency-marker, --message-stop and the message-marker prefix.
 *
 * The algorithm is Knuth-Morris-Pratt: the compiled pattern holds, for each prefix length
 * j, the length of the longest proper prefix of the pattern that is also a suffix of its
 * first j bytes. A search state is one number, how many pattern bytes the end of the data
 * seen so far matches, so a match that straddles any number of read boundaries is found
 * with no buffering, and an overlapping partial match ("aab" in "aaab") falls back to the
 * right shorter prefix instead of being lost. While nothing is matched the scan jumps to
 * the next occurrence of the first byte with memchr(), which is what makes it fast on bulk
 * data. After a match the state restarts at 0, so matches never overlap (as tcpkali does).
 *
 * Pure; the compiled pattern is read-only once built and may be shared by threads; each
 * stream keeps its own state. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TK_MARKER_MAX_LEN 65536

struct tk_marker {
    uint8_t *pat;
    uint32_t len;
    uint32_t *fail; /* fail[j]: longest proper border of pat[0..j), j = 1..len */
};

/* Compiles pat (1..TK_MARKER_MAX_LEN bytes; copied). 0, -EINVAL or -ENOMEM. */
int tk_marker_init(struct tk_marker *m, const void *pat, size_t len);
void tk_marker_free(struct tk_marker *m);

/* Searches buf[*pos, len) continuing from *state (0 for a new stream). On a match returns
 * true with *pos just past the match's last byte, and *state reset to 0; call again with
 * the same buf to find the next. At the end of buf returns false with *pos == len and
 * *state holding the partial match to carry into the next piece. */
bool tk_marker_find(const struct tk_marker *m, uint32_t *state, const uint8_t *buf, size_t len,
                    size_t *pos);

/* Like tk_marker_find, but the first *skip matches of the stream are passed over (and
 * counted down): --latency-marker-skip, for banners or echoed first messages. */
bool tk_marker_find_skip(const struct tk_marker *m, uint32_t *state, uint64_t *skip,
                         const uint8_t *buf, size_t len, size_t *pos);

/* ---- Message-marker tokens ----------------------------------------------------------
 * tcpkali's `\{message.marker}` writes "TCPKaliMsgTS-" + 16 lowercase hex digits (the send
 * time in microseconds since the Unix epoch) + ".". The receiver finds the prefix with the
 * streaming search above, then reads the digits one at a time, across read boundaries. As
 * in tcpkali a non-hex digit counts as 0; unlike tcpkali, a token must end with "." right
 * after its 16th digit, else it is dropped (so a damaged token cannot run on forever). */
#define TK_MSGMARK_PREFIX "TCPKaliMsgTS-"
#define TK_MSGMARK_DIGITS 16
#define TK_MSGMARK_LEN 30 /* prefix 13 + 16 digits + "." */

struct tk_msgmark_state {
    uint32_t prefix;  /* the prefix search state */
    int32_t digits;   /* -1: looking for the prefix; else digits read so far (0..16) */
    uint64_t value;
};

static inline void tk_msgmark_state_init(struct tk_msgmark_state *s)
{
    s->prefix = 0;
    s->digits = -1;
    s->value = 0;
}

/* Continues parsing buf[*pos, len) with s, using prefix (compiled from TK_MSGMARK_PREFIX).
 * Returns true with *ts_us set and *pos just past the token's "." for each whole token;
 * false at the end of buf, the partial token kept in s. */
bool tk_msgmark_next(const struct tk_marker *prefix, struct tk_msgmark_state *s,
                     const uint8_t *buf, size_t len, size_t *pos, uint64_t *ts_us);

/* Writes a token for ts_us into out (TK_MSGMARK_LEN bytes, no NUL). */
void tk_msgmark_format(uint64_t ts_us, uint8_t out[TK_MSGMARK_LEN]);

#endif
