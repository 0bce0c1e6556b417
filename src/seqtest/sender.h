#ifndef NETGRIND_SEQTEST_SENDER_H
#define NETGRIND_SEQTEST_SENDER_H

/* The sender's connection state (-s and -S). One per connection, owned by one worker. */

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"
#include "core/sock.h"
#include "seqtest/run.h"
#include "seqtest/summary.h"
#include "seqtest/verify.h"
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
    struct loop_timer delay_timer; /* sdelay */
    struct seq_sworker *w;
    const struct seq_target *target;
    int fd;
    uint32_t id;
    uint8_t state;   /* enum seq_sconn_state */
    bool delay_done; /* the sdelay of message next_seqno has been waited */
    bool sent_all;
    bool direct;         /* -S with one connection on the worker: blocking reads, no epoll */
    uint64_t seed;       /* of the per-message draws (seq_draw_msg) */
    uint64_t next_seqno; /* the next message to build */
    uint64_t replies_expected, replies_rx;
    uint64_t expect_reply_seqno;   /* -s */
    uint64_t prev_ts1;             /* -s: the previous reply's ts1 ... */
    bool have_prev;                /* ... once there was one */
    uint64_t first_ts1;            /* of message 0 (-s -o verify: no reply echoes an earlier ts1) */
    uint64_t sent_ts1;             /* -S: the outstanding request's ts1 ... */
    struct seq_draw sent;          /* ... and its draws */
    struct verify_tracker payload; /* -o verify: the check of the current reply's payload */
    struct wire_parser rx;
    uint8_t *pend; /* bytes built but not yet accepted by the kernel */
    uint32_t pend_len, pend_off;
    uint64_t msgs_sent, bytes_sent, bytes_rx;
    struct seq_conn_log log;
    struct sock_addr local;
    char *error; /* the diagnostic that ended the connection (malloc'd) */
};

#endif
