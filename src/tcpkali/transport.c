/* Transports: plain TCP, and the stack tk_transport_new builds; see transport.h. */
#include "tcpkali/transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static ssize_t plain_send(const struct tk_transport *t, void *ts, int fd, const uint8_t *p,
                          size_t n, struct tk_io *io)
{
    (void)t;
    (void)ts;
    ssize_t r = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    io->wire_out += (uint64_t)r;
    io->writes++;
    return r;
}

static ssize_t plain_recv(const struct tk_transport *t, void *ts, int fd, uint8_t *buf,
                          size_t cap, struct tk_io *io)
{
    (void)t;
    (void)ts;
    ssize_t r = recv(fd, buf, cap, MSG_DONTWAIT);
    if (r < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (r > 0) {
        io->wire_in += (uint64_t)r;
        io->reads++;
    }
    return r;
}

const struct tk_transport tk_transport_plain = {
    .name = "tcp",
    .send = plain_send,
    .recv = plain_recv,
};

static const char *const hs_fail_names[TK_HSF_COUNT] = {
    [TK_HSF_WS_STATUS] = "ws_status",       [TK_HSF_WS_ACCEPT] = "ws_accept",
    [TK_HSF_WS_MALFORMED] = "ws_malformed", [TK_HSF_WS_REQUEST] = "ws_request",
    [TK_HSF_WS_EOF] = "ws_eof",             [TK_HSF_TLS_PROTOCOL] = "tls_protocol",
    [TK_HSF_TLS_EOF] = "tls_eof",
};

const char *tk_hs_fail_name(enum tk_hs_fail f)
{
    return (unsigned)f < TK_HSF_COUNT ? hs_fail_names[f] : "unknown";
}

/* A heap copy of the plain transport, so that every stack is freed the same way. */
static struct tk_transport *plain_new(int *exit_code, char *err, size_t errlen)
{
    struct tk_transport *t = malloc(sizeof(*t));
    if (!t) {
        *exit_code = 70;
        snprintf(err, errlen, "Out of memory");
        return NULL;
    }
    *t = tk_transport_plain;
    return t;
}

struct tk_transport *tk_transport_new(const struct tk_config *cfg, int *exit_code, char *err,
                                      size_t errlen)
{
    (void)cfg; /* TLS and WebSocket layers: being written (issue #5) */
    return plain_new(exit_code, err, errlen);
}

void tk_transport_free(struct tk_transport *t)
{
    free(t);
}

enum tk_framing tk_transport_framing(const struct tk_transport *t, bool outgoing)
{
    (void)t;
    (void)outgoing;
    return TK_FRAMING_NONE;
}
