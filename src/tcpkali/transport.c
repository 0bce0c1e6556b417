/* Transports; see transport.h. Plain TCP only for now. */
#include "tcpkali/transport.h"

#include <errno.h>
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

const struct tk_transport *tk_transport_for(const struct tk_config *cfg)
{
    (void)cfg; /* --ws and --ssl: next issue */
    return &tk_transport_plain;
}
