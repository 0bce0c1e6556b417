#ifndef NETGRIND_SEQTEST_SENDER_H
#define NETGRIND_SEQTEST_SENDER_H

/* The sender's connection state (-s and -S). One per connection, owned by one worker. */

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"
#include "core/sock.h"
#include "seqtest/run.h"
#include "seqtest/summary.h"
#include "seqtest/wire.h"

enum seq_sconn_state {
    SCONN_IDLE,
    SCONN_CONNECTING,
    SCONN_READY, /* connected, waiting for the start */
    SCONN_RUNNING,
    SCONN_DONE,
    SCONN_FAILED,
};

struct seq_sconn {
    struct loop_fd lfd;
    struct loop_timer timer; /* sdelay */
    struct seq_sworker *w;
    const struct seq_target *target;
    int fd;
    uint32_t id;
    uint8_t state;
    bool delay_done; /* the sdelay of message next_seqno has been waited */
    bool sent_all;
    bool direct;    /* -S with one connection on the worker: blocking reads, no epoll */
    uint16_t lines; /* diagnostic lines printed */
    uint64_t seed;
    uint64_t next_seqno; /* the next message to build */
    uint64_t replies_expected, replies_rx;
    uint64_t expect_reply_seqno;
    uint64_t prev_ts1;
    bool have_prev;
    uint64_t first_ts1;
    /* -S: the outstanding request */
    uint64_t sent_ts1;
    struct seq_draw sent;
    /* reply payload check in progress */
    uint64_t vkey;
    uint32_t vbad, vfirst;
    uint8_t vgot, vwant;
    struct wire_parser rx;
    /* bytes built but not yet accepted by the kernel */
    uint8_t *pend;
    uint32_t pend_len, pend_off;
    uint64_t msgs_sent, bytes_sent, bytes_rx;
    struct seq_viol_counts viol;
    struct sock_addr local;
    char *error; /* the diagnostic that ended the connection (malloc'd) */
};

#endif
