/* Shared pieces of a seqtest run: diagnostics, -d characters, the run's error, and the
 * per-message draws (see run.h). */
#include "seqtest/run.h"

#include <inttypes.h>
#include <string.h>

#include "core/report.h"
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

uint64_t seq_conn_seed(uint64_t run_seed, uint32_t conn)
{
    return verify_mix64(run_seed ^ verify_mix64(0x636F6E6E00000000ULL | conn)); /* "conn" */
}

static bool range_fixed(const struct seq_range *r)
{
    return r->min == r->max;
}

void seq_draw_msg(const struct seq_config *c, uint64_t conn_seed, uint64_t seqno,
                  struct seq_draw *d)
{
    bool wants_reply = c->rinterval && seqno % c->rinterval == 0;
    bool fixed = range_fixed(&c->ssize) && range_fixed(&c->rsize) && range_fixed(&c->rdelay) &&
                 range_fixed(&c->sdelay);
    uint64_t base = fixed ? 0 : verify_mix64(conn_seed + seqno * 0x9E3779B97F4A7C15ULL);
    d->ssz = (uint16_t)seq_range_pick(&c->ssize, fixed ? 0 : verify_mix64(base ^ 1));
    d->rsz =
        wants_reply ? (uint16_t)seq_range_pick(&c->rsize, fixed ? 0 : verify_mix64(base ^ 2)) : 0;
    d->rdly =
        wants_reply ? (uint32_t)seq_range_pick(&c->rdelay, fixed ? 0 : verify_mix64(base ^ 3)) : 0;
    d->sdelay_ns = seq_range_pick(&c->sdelay, fixed ? 0 : verify_mix64(base ^ 4));
}
