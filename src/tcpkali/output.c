/* tcpkali's text output: summary, status line pieces, smoothed rates (see output.h). */
#include "tcpkali/output.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/report.h"

/* Appends printf output at *used, in the C locale, truncating at the end of buf. */
static void __attribute__((format(printf, 4, 5)))
append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    if (len == 0 || *used >= len - 1)
        return;
    locale_t c = json_c_locale();
    locale_t old = c ? uselocale(c) : (locale_t)0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (c)
        uselocale(old);
    if (n < 0)
        buf[*used] = '\0';
    else if ((size_t)n >= len - *used)
        *used = len - 1;
    else
        *used += (size_t)n;
}

/* ---- summary ------------------------------------------------------------------------- */

const char *tk_addr_format(const struct sock_addr *a, char *buf, size_t len)
{
    char host[SOCK_ADDR_STRLEN];
    sock_addr_host(a, host, sizeof host);
    int n = snprintf(buf, len, "[%s]:%u", host, sock_addr_port(a));
    return n < 0 ? "" : buf;
}

const char *tk_human_size(uint64_t bytes, char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    if (bytes < 2048)
        append(buf, len, &used, "%llu bytes", (unsigned long long)bytes);
    else if (bytes < 512 * 1024)
        append(buf, len, &used, "%.1f KiB", (double)bytes / 1024);
    else
        append(buf, len, &used, "%.1f MiB", (double)bytes / (1024 * 1024));
    return buf;
}

const char *tk_format_percentiles(const struct hist *h, const struct tk_percentile *pcts,
                                  size_t npcts, char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < npcts; i++) {
        double ms = hist_count(h) ? (double)hist_percentile(h, pcts[i].value) / 1e6 : 0;
        append(buf, len, &used, "%s%.1f", i ? "/" : "", ms);
    }
    append(buf, len, &used, " ms (");
    for (size_t i = 0; i < npcts; i++)
        append(buf, len, &used, "%s%s", i ? "/" : "", pcts[i].label);
    append(buf, len, &used, "%%)");
    return buf;
}

static double per_s(double v, double s)
{
    return s > 0 ? v / s : 0;
}

unsigned tk_mss_per_op(uint64_t bytes, uint64_t ops)
{
    if (ops == 0)
        return 0;
    return (unsigned)ceil(((double)bytes / (double)ops) / 1460.0);
}

static void print_latency(FILE *out, const char *title, const struct hist *h,
                          const struct tk_summary *s)
{
    char buf[1024];
    report_printf(out, "%s at percentiles: %s\n", title,
                  tk_format_percentiles(h, s->pcts, s->npcts, buf, sizeof buf));
}

void tk_print_summary(FILE *out, const struct tk_summary *s)
{
    char a[64], b[64];
    double d = s->duration_s;
    double total = (double)s->bytes_sent + (double)s->bytes_rcvd;
    double channels = s->channels ? (double)s->channels : 1;
    report_printf(out, "Total data sent:     %s (%llu bytes)\n",
                  tk_human_size(s->bytes_sent, a, sizeof a), (unsigned long long)s->bytes_sent);
    report_printf(out, "Total data received: %s (%llu bytes)\n",
                  tk_human_size(s->bytes_rcvd, b, sizeof b), (unsigned long long)s->bytes_rcvd);
    report_printf(out, "Bandwidth per channel: %.3f⇅ Mbps (%.1f kBps)\n",
                  per_s(8 * total, d) / channels / 1e6, per_s(total, d) / channels / 1e3);
    report_printf(out, "Aggregate bandwidth: %.3f↓, %.3f↑ Mbps\n",
                  per_s(8.0 * (double)s->bytes_rcvd, d) / 1e6,
                  per_s(8.0 * (double)s->bytes_sent, d) / 1e6);
    if (s->message_rate)
        report_printf(out, "Aggregate message rate: %.3f↓, %.3f↑ mps\n",
                      per_s((double)s->msgs_rcvd, d), per_s((double)s->msgs_sent, d));
    unsigned mss_in = tk_mss_per_op(s->bytes_rcvd, s->reads);
    unsigned mss_out = tk_mss_per_op(s->bytes_sent, s->writes);
    report_printf(out, "Packet rate estimate: %.1f↓, %.1f↑ (%u↓, %u↑ TCP MSS/op)\n",
                  per_s((double)mss_in * (double)s->reads, d),
                  per_s((double)mss_out * (double)s->writes, d), mss_in, mss_out);
    if (s->lat_connect)
        print_latency(out, "TCP connect latency", s->lat_connect, s);
    if (s->lat_first_byte)
        print_latency(out, "First byte latency", s->lat_first_byte, s);
    if (s->closed_loop) {
        report_printf(out, "Transaction rate: %.3f tps (%llu transactions)\n",
                      per_s((double)s->transactions, d), (unsigned long long)s->transactions);
        if (s->lat_message)
            print_latency(out, "Transaction latency", s->lat_message, s);
    } else if (s->lat_message) {
        print_latency(out, "Message latency", s->lat_message, s);
    }
    if (s->lat_message && s->intended_time)
        report_printf(out, "Message latency is measured from each message's intended send "
                           "time (-r), free of coordinated omission.\n");
    uint64_t failures = s->connect_refused + s->connect_timeouts + s->connect_other;
    if (failures)
        report_printf(out, "Connection failures: %llu (%llu refused, %llu timed out, %llu other)\n",
                      (unsigned long long)failures, (unsigned long long)s->connect_refused,
                      (unsigned long long)s->connect_timeouts,
                      (unsigned long long)s->connect_other);
    tk_print_hs_failures(out, s->hs_failures);
    report_printf(out, "Test duration: %g s.\n", d);
}

/* One kind's line: the causes [from, to) of hs. */
static void print_hs_kind(FILE *out, const char *title, const uint64_t *hs, int from, int to)
{
    char buf[512];
    size_t used = 0;
    uint64_t total = 0;
    buf[0] = '\0';
    for (int i = from; i < to; i++) {
        if (!hs[i])
            continue;
        append(buf, sizeof buf, &used, "%s%s: %llu", total ? ", " : "",
               tk_hs_fail_name((enum tk_hs_fail)i), (unsigned long long)hs[i]);
        total += hs[i];
    }
    if (total)
        report_printf(out, "%s: %llu (%s)\n", title, (unsigned long long)total, buf);
}

void tk_print_hs_failures(FILE *out, const uint64_t hs[TK_HSF_COUNT])
{
    print_hs_kind(out, "WebSocket upgrade failures", hs, TK_HSF_WS_STATUS, TK_HSF_TLS_PROTOCOL);
    print_hs_kind(out, "TLS handshake failures", hs, TK_HSF_TLS_PROTOCOL, TK_HSF_COUNT);
}

/* ---- live status line ----------------------------------------------------------------- */

const char *tk_status_ribbon(char *buf, size_t len, unsigned width, uint64_t conns,
                             uint64_t target, uint64_t counter)
{
    char info[128];
    size_t iu = 0;
    info[0] = '\0';
    append(info, sizeof info, &iu, "| %llu of %llu (%llu)", (unsigned long long)conns,
           (unsigned long long)target, (unsigned long long)counter);
    long bar = (long)width - (long)iu - 1;
    if (bar > (long)(0.6 * width))
        bar = (long)(0.6 * width);
    if (bar > 50)
        bar = 50;
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    if (iu > width || bar < 5 || (size_t)bar + iu + 1 > len) {
        append(buf, len, &used, "%s", info + 2);
        return buf;
    }
    uint64_t shown = conns > target ? target : conns;
    long at = 1 + (target ? (long)(((uint64_t)(bar - 2) * shown) / target) : bar - 2);
    buf[0] = '|';
    for (long i = 1; i < bar; i++)
        buf[i] = i < at ? '=' : i == at ? '>' : '-';
    memcpy(buf + bar, info, iu + 1);
    return buf;
}

static const char *const clocks[12] = {
    "\U0001F55B", "\U0001F550", "\U0001F551", "\U0001F552", "\U0001F553", "\U0001F554",
    "\U0001F555", "\U0001F556", "\U0001F557", "\U0001F558", "\U0001F559", "\U0001F55A",
};

static void append_p95(char *buf, size_t len, size_t *used, const char *name, double ms)
{
    if (isnan(ms))
        append(buf, len, used, "%s=? ", name);
    else
        append(buf, len, used, "%s=%.1f ", name, ms);
}

const char *tk_status_traffic(char *buf, size_t len, const struct tk_status *st)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    if (st->clock) {
        int idx;
        if (st->elapsed_frac >= 0)
            idx = (int)(12 * st->elapsed_frac);
        else
            idx = (int)fmod(st->elapsed_s, 12.0);
        if (idx < 0)
            idx = 0;
        if (idx > 11)
            idx = 11;
        append(buf, len, &used, "%s  ", clocks[idx]);
    }
    append(buf, len, &used, "Traffic %.3f↓, %.3f↑ Mbps (", st->mbps_in, st->mbps_out);
    append(buf, len, &used, st->latency_on ? "%llu↓ %llu↑ %llu⇡; %llu)"
                                           : "conns %llu↓ %llu↑ %llu⇡; seen %llu)",
           (unsigned long long)st->conns_in, (unsigned long long)st->conns_out,
           (unsigned long long)st->conns_connecting, (unsigned long long)st->conns_seen);
    if (st->mps)
        append(buf, len, &used, " (%.0f↓ %.0f↑ mps)", st->mps_in, st->mps_out);
    if (st->lat_connect || st->lat_first_byte || st->lat_message) {
        append(buf, len, &used, " (");
        if (st->lat_connect)
            append_p95(buf, len, &used, "c", st->p95_connect_ms);
        if (st->lat_first_byte)
            append_p95(buf, len, &used, "fb", st->p95_first_byte_ms);
        if (st->lat_message)
            append_p95(buf, len, &used, "m", st->p95_message_ms);
        append(buf, len, &used, "ms⁹⁵ᵖ)");
    }
    return buf;
}

bool tk_lang_is_utf8(const char *lang)
{
    if (!lang)
        return false;
    for (const char *p = lang; *p; p++)
        if (strncasecmp(p, "utf-8", 5) == 0 || strncasecmp(p, "utf8", 4) == 0)
            return true;
    return false;
}

/* ---- per-connection messages ------------------------------------------------------------ */

/* Ends the window if it is over by now_ns (or at_end): returns what it left out. */
static uint64_t linelimit_close(struct tk_linelimit *l, uint64_t now_ns, bool at_end)
{
    if (!l->open || (!at_end && now_ns - l->start_ns < TK_LINES_WINDOW_NS))
        return 0;
    uint64_t n = l->suppressed;
    l->open = false;
    l->printed = l->suppressed = 0;
    return n;
}

bool tk_linelimit_admit(struct tk_linelimit *l, uint64_t now_ns, uint64_t *report)
{
    *report = linelimit_close(l, now_ns, false);
    if (!l->open) {
        l->open = true;
        l->start_ns = now_ns;
    }
    if (l->printed < TK_LINES_PER_WINDOW) {
        l->printed++;
        return true;
    }
    l->suppressed++;
    return false;
}

uint64_t tk_linelimit_flush(struct tk_linelimit *l, uint64_t now_ns, bool at_end)
{
    return linelimit_close(l, now_ns, at_end);
}

const char *tk_linelimit_text(char *buf, size_t len, uint64_t n)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    append(buf, len, &used, "(%llu more connection message%s in the last second)",
           (unsigned long long)n, n == 1 ? "" : "s");
    return buf;
}

/* ---- smoothed rates --------------------------------------------------------------------- */

void tk_ema_init(struct tk_ema *e)
{
    memset(e, 0, sizeof *e);
}

void tk_ema_add(struct tk_ema *e, double amount, double dt_s)
{
    if (!(dt_s > 0))
        return;
    double rate = amount / dt_s;
    double keep = exp(-dt_s / TK_EMA_TAU_S);
    e->avg = e->avg * keep + rate * (1 - keep);
    e->weight = e->weight * keep + (1 - keep);
    if (amount > 0)
        e->idle_s = 0;
    else
        e->idle_s += dt_s;
}

double tk_ema_rate(const struct tk_ema *e)
{
    if (e->weight <= 0 || e->idle_s >= TK_EMA_TAU_S)
        return 0;
    return e->avg / e->weight;
}
