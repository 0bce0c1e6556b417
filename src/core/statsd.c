#include "core/statsd.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/report.h"

const char *statsd_type_str(enum statsd_type type)
{
    switch (type) {
    case STATSD_GAUGE:
        return "g";
    case STATSD_TIMER:
        return "ms";
    case STATSD_COUNTER:
        break;
    }
    return "c";
}

/* ---- values -------------------------------------------------------------------------- */

/* snprintf's result as this module returns it. */
static int fit(char *buf, size_t size, int n)
{
    if (n < 0 || (size_t)n >= size) {
        if (size > 0)
            buf[0] = '\0';
        return -ENOSPC;
    }
    return n;
}

int statsd_fmt_u64(char *buf, size_t size, uint64_t v)
{
    return fit(buf, size, snprintf(buf, size, "%" PRIu64, v));
}

int statsd_fmt_i64(char *buf, size_t size, int64_t v)
{
    return fit(buf, size, snprintf(buf, size, "%" PRId64, v));
}

int statsd_fmt_g(char *buf, size_t size, double v)
{
    if (!isfinite(v))
        return -EINVAL;
    return fit(buf, size, report_snprintf(buf, size, "%g", v));
}

int statsd_fmt_fixed(char *buf, size_t size, double v, int decimals)
{
    if (!isfinite(v))
        return -EINVAL;
    if (decimals < 0)
        decimals = 0;
    if (decimals > 30)
        decimals = 30;
    return fit(buf, size, report_snprintf(buf, size, "%.*f", decimals, v));
}

/* ---- lines --------------------------------------------------------------------------- */

/* Bytes that would end a name early or start another field of the line. */
static bool breaks_line(unsigned char c)
{
    return c <= ' ' || c == 0x7f || c == ':' || c == '|' || c == '@' || c == ',' || c == '=';
}

/* A bounded writer: appends until full, then remembers that it overflowed. */
struct out {
    char *buf;
    size_t size, len;
    bool overflow;
};

static void out_byte(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len++] = c;
    else
        o->overflow = true;
}

static void out_raw(struct out *o, const char *s)
{
    for (; *s; s++)
        out_byte(o, *s);
}

/* s with every byte that would break the line written as '_'; '.' too when dots is set. */
static void out_name(struct out *o, const char *s, bool dots)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        out_byte(o, breaks_line(c) || (dots && c == '.') ? '_' : (char)c);
    }
}

static int out_end(struct out *o)
{
    if (o->size == 0)
        return -ENOSPC;
    o->buf[o->len] = '\0';
    if (o->overflow) {
        o->buf[0] = '\0';
        return -ENOSPC;
    }
    return (int)o->len;
}

static bool nonempty(const char *s)
{
    return s && *s;
}

/* ":<value>|<type>\n" */
static void out_value(struct out *o, const char *value, enum statsd_type type)
{
    out_byte(o, ':');
    out_raw(o, value);
    out_byte(o, '|');
    out_raw(o, statsd_type_str(type));
    out_byte(o, '\n');
}

int statsd_line(char *buf, size_t size, const char *prefix, const char *name, const char *value,
                enum statsd_type type)
{
    if (!nonempty(name) || !nonempty(value))
        return -EINVAL;
    struct out o = {buf, size, 0, false};
    if (nonempty(prefix)) {
        out_name(&o, prefix, false);
        out_byte(&o, '.');
    }
    out_name(&o, name, false);
    out_value(&o, value, type);
    return out_end(&o);
}

int statsd_line_tagged(char *buf, size_t size, const char *metric, const char *name,
                       const struct statsd_tag *tags, size_t ntags, const char *value,
                       enum statsd_type type)
{
    if (!nonempty(name) || !nonempty(value))
        return -EINVAL;
    struct out o = {buf, size, 0, false};
    if (nonempty(metric)) {
        out_name(&o, metric, false);
        out_byte(&o, '.');
    }
    out_name(&o, name, false);
    for (size_t i = 0; i < ntags; i++) {
        if (!nonempty(tags[i].key))
            return -EINVAL;
        out_byte(&o, ',');
        out_name(&o, tags[i].key, false);
        out_byte(&o, '=');
        out_name(&o, tags[i].value ? tags[i].value : "", false);
    }
    out_value(&o, value, type);
    return out_end(&o);
}

size_t statsd_path_component(char *dst, size_t size, const char *src)
{
    struct out o = {dst, size, 0, false};
    out_name(&o, src ? src : "", true);
    if (size > 0)
        dst[o.len] = '\0';
    return o.len;
}

/* ---- batcher ------------------------------------------------------------------------- */

int statsd_batch_init(struct statsd_batch *b, size_t limit,
                      int (*send)(const char *data, size_t len, void *arg), void *arg)
{
    if (limit == 0 || limit > STATSD_DATAGRAM_MAX || !send)
        return -EINVAL;
    b->limit = limit;
    b->len = 0;
    b->send = send;
    b->arg = arg;
    b->datagrams = 0;
    b->send_errors = 0;
    b->oversize = 0;
    return 0;
}

int statsd_batch_flush(struct statsd_batch *b)
{
    if (b->len == 0)
        return 0;
    int rc = b->send(b->buf, b->len, b->arg);
    b->len = 0;
    if (rc < 0) {
        b->send_errors++;
        return rc;
    }
    b->datagrams++;
    return 0;
}

int statsd_batch_add(struct statsd_batch *b, const char *line, size_t len)
{
    if (!line || len == 0 || line[len - 1] != '\n')
        return -EINVAL;
    if (len > b->limit) {
        b->oversize++;
        return -EMSGSIZE;
    }
    int rc = 0;
    if (b->len + len > b->limit)
        rc = statsd_batch_flush(b);
    memcpy(b->buf + b->len, line, len);
    b->len += len;
    return rc;
}

/* ---- sender -------------------------------------------------------------------------- */

/* "a.b.c.d:port" or "[v6]:port", numeric; "?" when it cannot be printed. */
static void format_sockaddr(const struct sockaddr *sa, socklen_t len, char *out, size_t size)
{
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, size, "?");
        return;
    }
    snprintf(out, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* Fills err with "<call> <addr>: <strerror>" and returns -errno_value. */
static int sender_fail(struct statsd_sender *s, int errno_value, const char *what,
                       const struct sockaddr *sa, socklen_t len, char *err, size_t errlen)
{
    char addr[NI_MAXHOST + NI_MAXSERV + 4] = "";
    if (sa)
        format_sockaddr(sa, len, addr, sizeof(addr));
    if (err && errlen)
        snprintf(err, errlen, "statsd: %s%s%s: %s", what, sa ? " " : "", addr,
                 strerror(errno_value));
    statsd_sender_close(s);
    return -errno_value;
}

int statsd_sender_open(struct statsd_sender *s, const struct sockaddr *dst, socklen_t dstlen,
                       const struct sockaddr *src, socklen_t srclen, char *err, size_t errlen)
{
    s->fd = socket(dst->sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->fd < 0)
        return sender_fail(s, errno, "socket", NULL, 0, err, errlen);
    if (src && bind(s->fd, src, srclen) < 0)
        return sender_fail(s, errno, "bind to", src, srclen, err, errlen);
    if (connect(s->fd, dst, dstlen) < 0)
        return sender_fail(s, errno, "connect to", dst, dstlen, err, errlen);
    return 0;
}

int statsd_sender_send(const char *data, size_t len, void *arg)
{
    struct statsd_sender *s = arg;
    if (s->fd < 0)
        return -EBADF;
    ssize_t n;
    do
        n = send(s->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

void statsd_sender_close(struct statsd_sender *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}
