#ifndef NETGRIND_CORE_STATSD_H
#define NETGRIND_CORE_STATSD_H

/* StatsD output: pure line builders, a batcher that packs lines into datagrams, and a tiny
 * sender on a connected UDP socket.
 *
 * Line forms (every line ends in '\n', as UDPing's datagrams and tcpkali's libstatsd
 * batches have it):
 *   plain:      <prefix>.<name>:<value>|<type>          (no "<prefix>." when prefix is
 *                                                        NULL or "")
 *   tag style:  <metric>.<name>,<k1>=<v1>,<k2>=<v2>:<value>|<type>   (InfluxDB/Telegraf;
 *                                                        UDPing's -t)
 * <type> is c (counter), g (gauge) or ms (timer). No sample rate is ever written.
 *
 * Names are not trusted: in prefix, name, metric, tag keys and tag values the bytes that
 * would break a line (':', '|', '@', ',', '=', whitespace and control bytes) are written
 * as '_'. '.' is kept: it is the path separator. Values come from the statsd_fmt_*
 * formatters below (C locale, never NaN).
 *
 * Builders and the batcher are pure and not thread-safe (one per thread or per sink); the
 * sender makes syscalls. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum statsd_type {
    STATSD_COUNTER, /* "c" */
    STATSD_GAUGE,   /* "g" */
    STATSD_TIMER,   /* "ms" */
};

/* "c", "g" or "ms". */
const char *statsd_type_str(enum statsd_type type);

/* ---- values: each writes a NUL-terminated string and returns its length, or -ENOSPC
 * when it does not fit, or -EINVAL for a value that is not finite (the metric should then
 * not be sent, as tcpkali's libstatsd skips it). STATSD_VALUE_BUF bytes suffice for every
 * integer and "%g" value, and for "%.1f" of magnitudes below 1e20. -------------------- */

#define STATSD_VALUE_BUF 32
int statsd_fmt_u64(char *buf, size_t size, uint64_t v);
int statsd_fmt_i64(char *buf, size_t size, int64_t v);
/* "%g": 6 significant digits, C++ stream default formatting (UDPing: "4.57859", "29",
 * "1e+06"). */
int statsd_fmt_g(char *buf, size_t size, double v);
/* "%.*f" (tcpkali: doubles with "%.1f"); decimals clamped to [0, 30]. */
int statsd_fmt_fixed(char *buf, size_t size, double v, int decimals);

/* ---- lines: each writes one '\n'-terminated line into buf and returns its length, or
 * -ENOSPC when it does not fit (buf then holds ""), or -EINVAL when name or value is NULL
 * or empty. ------------------------------------------------------------------------------ */

int statsd_line(char *buf, size_t size, const char *prefix, const char *name, const char *value,
                enum statsd_type type);

struct statsd_tag {
    const char *key;
    const char *value;
};

int statsd_line_tagged(char *buf, size_t size, const char *metric, const char *name,
                       const struct statsd_tag *tags, size_t ntags, const char *value,
                       enum statsd_type type);

/* Copies src into dst as one path component: '.' and the bytes that would break a line
 * become '_' (UDPing writes host names so: "127.0.0.1" -> "127_0_0_1"). Truncates to fit;
 * returns strlen(dst). */
size_t statsd_path_component(char *dst, size_t size, const char *src);

/* ---- batcher ------------------------------------------------------------------------- */

#define STATSD_DATAGRAM_MAX 8192     /* the largest limit a batch accepts */
#define STATSD_DATAGRAM_DEFAULT 1432 /* fits a 1500-byte MTU with IPv6 + UDP headers */
#define STATSD_DATAGRAM_TCPKALI 512  /* libstatsd's limit in tcpkali */

struct statsd_batch {
    size_t limit; /* most bytes in one datagram */
    size_t len;   /* bytes waiting in buf */
    /* Sends one datagram; returns 0 or a negative errno. */
    int (*send)(const char *data, size_t len, void *arg);
    void *arg;
    uint64_t datagrams;   /* sent successfully */
    uint64_t send_errors; /* datagrams the send function refused (their lines are lost) */
    uint64_t oversize;    /* lines longer than limit, refused */
    char buf[STATSD_DATAGRAM_MAX];
};

/* An empty batch of datagrams of at most limit bytes (1..STATSD_DATAGRAM_MAX), handed to
 * send(data, len, arg). Returns 0 or -EINVAL. */
int statsd_batch_init(struct statsd_batch *b, size_t limit,
                      int (*send)(const char *data, size_t len, void *arg), void *arg);

/* Appends one line (len bytes, ending in '\n', as the builders make it). Lines are never
 * split: when the line does not fit in what remains of the current datagram, that datagram
 * is sent first and the line starts the next one; a line of exactly the remaining room
 * fills the datagram (which is sent with the next add or flush).
 * Returns 0; or -EMSGSIZE for a line longer than limit on its own (refused, counted in
 * oversize; it would not fit any datagram, and splitting would corrupt it); or -EINVAL for
 * an empty line or one not ending in '\n'; or the send function's error when the datagram
 * sent to make room failed (that datagram is dropped and counted; this line is kept). */
int statsd_batch_add(struct statsd_batch *b, const char *line, size_t len);

/* Sends what is waiting, if anything (an empty batch sends no datagram). Returns 0 or the
 * send function's error (the lines are then dropped and counted). */
int statsd_batch_flush(struct statsd_batch *b);

/* ---- sender -------------------------------------------------------------------------- */

struct statsd_sender {
    int fd;
};

/* A UDP socket connected to dst (close-on-exec, non-blocking), bound first to src when
 * src is not NULL (UDPing binds to <listen host>:0). Returns 0, or a negative errno with
 * err saying which call failed for which address. */
int statsd_sender_open(struct statsd_sender *s, const struct sockaddr *dst, socklen_t dstlen,
                       const struct sockaddr *src, socklen_t srclen, char *err, size_t errlen);

/* A statsd_batch send function: arg is the struct statsd_sender. One send() of the whole
 * datagram; returns 0 or -errno (-ECONNREFUSED when an earlier datagram met a closed port,
 * -EAGAIN when the socket buffer is full: statsd is lossy, so nothing waits). */
int statsd_sender_send(const char *data, size_t len, void *arg);

/* Closes the socket (idempotent). */
void statsd_sender_close(struct statsd_sender *s);

#endif
