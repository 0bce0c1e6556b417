/* Transports: plain TCP, and the stack tk_transport_new builds; see transport.h. */
#include "tcpkali/transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The byte transport: TLS for --ssl, else plain TCP. */
static struct tk_transport *bytes_new(const struct tk_config *cfg, int *exit_code, char *err,
                                      size_t errlen)
{
    if (cfg->ssl)
        return tk_transport_tls_new(cfg, exit_code, err, errlen);
    return plain_new(exit_code, err, errlen);
}

struct tk_transport *tk_transport_new(const struct tk_config *cfg, int *exit_code, char *err,
                                      size_t errlen)
{
    struct tk_transport *lower = bytes_new(cfg, exit_code, err, errlen);
    if (!lower || !cfg->websocket)
        return lower;
    struct tk_transport *ws = tk_transport_ws_new(cfg, lower, exit_code, err, errlen);
    if (!ws)
        tk_transport_free(lower); /* the WebSocket layer does not own its lower */
    return ws;
}

void tk_transport_free(struct tk_transport *t)
{
    while (t) {
        /* Each layer frees only itself; the stack is walked from the top. */
        struct tk_transport *lower = (struct tk_transport *)t->lower;
        if (t->destroy)
            t->destroy(t);
        else
            free(t);
        t = lower;
    }
}

static bool is_websocket(const struct tk_transport *t)
{
    return t && t->name && (strcmp(t->name, "ws") == 0 || strcmp(t->name, "wss") == 0);
}

enum tk_framing tk_transport_framing(const struct tk_transport *t, bool outgoing)
{
    if (!is_websocket(t))
        return TK_FRAMING_NONE;
    return outgoing ? TK_FRAMING_WS_CLIENT : TK_FRAMING_WS_SERVER;
}
