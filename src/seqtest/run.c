/* Shared pieces of a seqtest run: diagnostics, -d characters, the run's error, and the
 * per-message draws (see run.h). */
#include "seqtest/run.h"

#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "core/report.h"
#include "core/util.h"
#include "seqtest/verify.h"

void seq_msg(struct seq_run *r, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&r->out_lock);
    fprintf(stderr, "seqtest: %s\n", text);
    pthread_mutex_unlock(&r->out_lock);
}

static void stream_violation(struct seq_run *r, const struct seq_where *w, enum seq_viol kind,
                             const struct seq_at *at, const char *remote, const char *text)
{
    struct json *j = &r->js;
    report_event_begin(j, "violation");
    json_key(j, "kind");
    if (kind < SEQ_V_COUNT)
        json_string(j, seq_viol_name(kind));
    else
        json_null(j);
    json_kv_string(j, "side", w->replier ? "replier" : "sender");
    json_key(j, "conn");
    if (w->conn >= 0)
        json_i64(j, w->conn);
    else
        json_null(j);
    json_kv_string(j, "remote", remote);
    json_key(j, "seqno");
    if (at && at->has_seqno)
        json_u64(j, at->seqno);
    else
        json_null(j);
    json_key(j, "offset");
    if (at && at->has_offset)
        json_u64(j, at->offset);
    else
        json_null(j);
    json_key(j, "stream_offset");
    if (at && at->has_stream)
        json_u64(j, at->stream_off);
    else
        json_null(j);
    json_kv_string(j, "message", text);
    report_event_end(j);
}

void seq_diag(struct seq_run *r, const struct seq_where *w, enum seq_viol kind,
              const struct seq_at *at, const char *fmt, ...)
{
    char text[768], remote[SOCK_ADDR_STRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sock_addr_format(w->remote, remote, sizeof remote);
    pthread_mutex_lock(&r->out_lock);
    if (!w->replier)
        fprintf(stderr, "seqtest: conn %" PRId64 " %s: %s\n", w->conn, remote, text);
    else if (w->conn >= 0)
        fprintf(stderr, "seqtest: peer %s conn %" PRId64 ": %s\n", remote, w->conn, text);
    else
        fprintf(stderr, "seqtest: peer %s: %s\n", remote, text);
    if (r->stream)
        stream_violation(r, w, kind, at, remote, text);
    pthread_mutex_unlock(&r->out_lock);
}

void seq_conn_report(struct seq_run *r, struct seq_conn_log *log, const struct seq_where *w,
                     enum seq_viol kind, const struct seq_at *at, const char *text)
{
    if (kind < SEQ_V_COUNT)
        log->viol.n[kind]++;
    if (r->mode == SEQ_MODE_SYNC && atomic_load(&r->fatal))
        return;
    if (log->lines >= SEQ_LINES_PER_CONN)
        return;
    log->lines++;
    if (log->lines == SEQ_LINES_PER_CONN)
        seq_diag(r, w, kind, at, "%s (further diagnostics on this connection are only counted)",
                 text);
    else
        seq_diag(r, w, kind, at, "%s", text);
}

void seq_format_size_fault(char *buf, size_t len, const struct wire_event *ev)
{
    bool rsz = ev->bad_field == WIRE_BAD_RSZ;
    unsigned v = rsz ? ev->hdr.rsz : ev->hdr.ssz;
    bool big = v > WIRE_MSG_MAX;
    snprintf(buf, len, "h->%s too %s (%u %s %d), closing connection", rsz ? "rsz" : "ssz",
             big ? "big" : "small", v, big ? ">" : "<", big ? WIRE_MSG_MAX : WIRE_HDR_LEN);
}

void seq_format_payload_mismatch(char *buf, size_t len, struct seq_at *at, uint64_t seqno,
                                 const struct verify_tracker *t, uint64_t msg_stream_off,
                                 unsigned payload_len)
{
    *at = (struct seq_at){.has_seqno = true,
                          .has_offset = true,
                          .has_stream = true,
                          .seqno = seqno,
                          .offset = t->first,
                          .stream_off = msg_stream_off + t->first};
    snprintf(buf, len,
             "payload mismatch at seqno %" PRIu64 " offset %u (stream offset %" PRIu64
             "): got 0x%02x, expected 0x%02x (%u of %u payload bytes differ)",
             seqno, t->first, at->stream_off, t->got, t->want, t->nbad, payload_len);
}

void seq_debug_char(struct seq_run *r, char ch)
{
    (void)r;
    putc(ch, stdout);
}

bool seq_run_set_error(struct seq_run *r, int exit_code, const char *fmt, ...)
{
    bool first = false;
    pthread_mutex_lock(&r->out_lock);
    if (r->error[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->error, sizeof r->error, fmt, ap);
        va_end(ap);
        first = true;
    }
    if (r->exit_code == 0)
        r->exit_code = exit_code;
    pthread_mutex_unlock(&r->out_lock);
    return first;
}

int seq_run_fail(struct seq_run *r, const char *text)
{
    if (seq_run_set_error(r, 1, "%s", text))
        seq_msg(r, "%s", text);
    return 1;
}

static void on_stop_signal(struct loop *loop, struct loop_signal *s, int signo)
{
    (void)s;
    (void)signo;
    loop_stop(loop);
}

int seq_control_open(struct seq_run *r, char *err, size_t errlen)
{
    static const int signals[] = {SIGINT, SIGTERM};
    r->control = loop_new(err, errlen);
    if (!r->control)
        return -1;
    if (loop_signal_add(r->control, &r->stop_signals, signals, ARRAY_LEN(signals), on_stop_signal,
                        err, errlen) < 0)
        return -1;
    r->have_stop_signals = true;
    return 0;
}

void seq_control_close(struct seq_run *r)
{
    if (!r->control)
        return;
    if (r->have_stop_signals)
        loop_signal_del(r->control, &r->stop_signals);
    r->have_stop_signals = false;
    loop_free(r->control);
    r->control = NULL;
}

uint64_t seq_conn_seed(uint64_t run_seed, uint32_t conn)
{
    return verify_mix64(run_seed ^ verify_mix64(0x636F6E6E00000000ULL | conn)); /* "conn" */
}

static bool range_fixed(const struct seq_range *r)
{
    return r->min == r->max;
}

/* Draw k of a message: a value of range r from the message's random base. A fixed range
 * needs no random bits, and skipping the mixing keeps -s with fixed sizes at full speed. */
static uint64_t pick(const struct seq_range *r, uint64_t base, unsigned k)
{
    return seq_range_pick(r, range_fixed(r) ? 0 : verify_mix64(base ^ k));
}

void seq_draw_msg(const struct seq_config *c, uint64_t conn_seed, uint64_t seqno,
                  struct seq_draw *d)
{
    bool wants_reply = c->rinterval && seqno % c->rinterval == 0;
    bool all_fixed = range_fixed(&c->ssize) && range_fixed(&c->rsize) && range_fixed(&c->rdelay) &&
                     range_fixed(&c->sdelay);
    uint64_t base = all_fixed ? 0 : verify_mix64(conn_seed + seqno * 0x9E3779B97F4A7C15ULL);
    d->ssz = (uint16_t)pick(&c->ssize, base, 1);
    d->rsz = wants_reply ? (uint16_t)pick(&c->rsize, base, 2) : 0;
    d->rdly = wants_reply ? (uint32_t)pick(&c->rdelay, base, 3) : 0;
    d->sdelay_ns = pick(&c->sdelay, base, 4);
}
