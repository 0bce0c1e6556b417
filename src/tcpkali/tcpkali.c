/* tcpkali: TCP load generator and sink (doc/man/tcpkali.1). The control thread: parse the
 * command line, run the startup checks, start the engine, then drive the phases on the
 * control loop — ramp-up until -c connections are established, the steady phase for
 * exactly -T (a timer, never a worker's pace) — with the live status line, StatsD, the
 * JSON intervals and the -r @Latency search on the same loop, and finally print the
 * summary. */
#include "tcpkali/tcpkali.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/loop.h"
#include "core/report.h"
#include "core/statsd.h"
#include "core/util.h"
#include "core/version.h"
#include "tcpkali/engine.h"
#include "tcpkali/json_out.h"
#include "tcpkali/opts.h"
#include "tcpkali/output.h"
#include "tcpkali/ratesearch.h"
#include "tcpkali/statsd_out.h"

#define RAMP_TICK_NS (10 * NS_PER_MS)      /* how often ramp-up checks its target */
#define STATUS_NS (250 * NS_PER_MS)        /* status line and StatsD (§3.2, §6) */
#define INTERVAL_NS NS_PER_SEC             /* JSON intervals and the @Latency search */

enum phase {
    PH_RAMP,
    PH_STEADY,
    PH_DONE,
};

/* How the run ended. */
enum ending {
    END_NONE,
    END_DURATION,    /* -T passed: summary, 0 */
    END_RAMP_FAILED, /* -c not reached within -T: message, 1 */
    END_SIGNAL,      /* SIGINT (64) or SIGTERM (143): summary */
    END_FATAL,       /* the engine's fatal condition: message, its code */
    END_STOP,        /* --message-stop: message, 2 */
    END_SEARCH,      /* -r @Latency finished: summary and verdict */
};

struct interval_rec {
    bool steady;
    uint64_t start_ns, end_ns;
    struct tk_counters d;
};

struct run {
    struct tk_opts o;
    const struct tk_config *cfg;
    struct loop *loop;
    struct tk_engine *eng;
    struct loop_signal sig;
    bool sig_on;
    struct loop_timer tick;
    struct loop_timer deadline;

    enum phase phase;
    enum ending ending;
    int exit_code;
    char message[600]; /* what ended the run, for JSON */
    uint64_t start_ns, steady_ns;
    struct tk_counters zero;   /* all zero */
    struct tk_counters base;   /* at the start of the steady phase */
    struct tk_counters last;   /* at the previous status tick */
    uint64_t last_ns;
    uint64_t next_status_ns, next_interval_ns;
    struct tk_counters interval_base;
    uint64_t interval_base_ns;
    uint64_t max_open;
    bool have_final;
    struct tk_snapshot final;

    /* Live status line. */
    bool status;
    bool status_shown;
    bool utf8;
    struct tk_ema ema_in, ema_out, ema_msg_in, ema_msg_out;

    /* StatsD. */
    bool statsd;
    struct statsd_sender sender;
    struct statsd_batch *batch;
    uint64_t next_window_ns;
    struct hist win_connect, win_first_byte, win_message; /* cumulative at the last window */

    /* -r @Latency. */
    bool searching;
    struct tk_search search;

    /* JSON. */
    bool json, stream;
    struct json js;
    struct interval_rec *intervals;
    size_t nintervals, cap_intervals;
    bool ramp_recorded;
    double ramp_s;
    struct tk_counters ramp_totals;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* Clears the live line before anything else goes to stderr or stdout. */
static void status_clear(struct run *r)
{
    if (r->status_shown) {
        fputs("\r" TK_STATUS_EL, stderr);
        fflush(stderr);
        r->status_shown = false;
    }
}

static void __attribute__((format(printf, 2, 3))) say(struct run *r, const char *fmt, ...)
{
    status_clear(r);
    va_list ap;
    va_start(ap, fmt);
    report_vprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static unsigned terminal_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *cols = getenv("COLUMNS");
    if (cols && atoi(cols) > 0)
        return (unsigned)atoi(cols);
    return 80;
}

/* Cuts s after the byte that ends `columns` terminal columns (an emoji takes two). */
static void fit_columns(char *s, unsigned columns)
{
    unsigned used = 0;
    for (char *p = s; *p;) {
        unsigned char c = (unsigned char)*p;
        size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        unsigned w = n == 4 ? 2 : 1;
        if (used + w > columns) {
            *p = '\0';
            return;
        }
        used += w;
        for (size_t i = 0; i < n && *p; i++)
            p++;
    }
}

static void finish(struct run *r, enum ending how, int code)
{
    if (r->ending != END_NONE)
        return;
    r->ending = how;
    r->exit_code = code;
    loop_stop(r->loop);
}

/* Established outgoing connections for the ramp-up test: with --channel-lifetime the
 * connections come and go, so every one of them having been established once counts. */
static uint64_t ramp_established(const struct run *r, const struct tk_counters *c)
{
    if (r->cfg->channel_lifetime_set && c->conns_connected > c->conns_out)
        return c->conns_connected;
    return c->conns_out;
}

/* Message-marker mode: --message-marker, or a \{message.marker} in the messages (the
 * engine knows once it has compiled them). */
static bool message_marker_on(const struct run *r)
{
    return r->eng ? tk_engine_message_marker(r->eng) : r->cfg->message_marker;
}

static double p95_ms(const struct hist *h)
{
    if (hist_count(h) == 0)
        return NAN;
    return (double)hist_percentile(h, 95) / 1e6;
}

/* ---- JSON ----------------------------------------------------------------------------- */

static void json_start_event(struct run *r)
{
    if (!r->stream)
        return;
    report_event_begin(&r->js, "start");
    json_kv_string(&r->js, "tool", "tcpkali");
    json_kv_string(&r->js, "version", NETGRIND_VERSION);
    json_key(&r->js, "config");
    json_object_begin(&r->js);
    tk_json_config(&r->js, &r->o);
    json_object_end(&r->js);
    report_event_end(&r->js);
}

static void add_interval(struct run *r, bool steady, uint64_t start, uint64_t end,
                         const struct tk_counters *d)
{
    struct interval_rec rec = {steady, start, end, *d};
    if (r->stream) {
        struct tk_json_interval iv = {steady ? "steady" : "ramp_up", secs(start - r->start_ns),
                                      secs(end - r->start_ns), *d};
        report_event_begin(&r->js, "interval");
        tk_json_interval(&r->js, &iv);
        report_event_end(&r->js);
        return;
    }
    if (!r->json)
        return;
    if (r->nintervals == r->cap_intervals) {
        size_t cap = r->cap_intervals ? r->cap_intervals * 2 : 64;
        struct interval_rec *v = realloc(r->intervals, cap * sizeof *v);
        if (!v)
            return;
        r->intervals = v;
        r->cap_intervals = cap;
    }
    r->intervals[r->nintervals++] = rec;
}

/* Closes the JSON interval that runs up to snapshot s (the phase it belonged to). */
static void close_interval(struct run *r, const struct tk_snapshot *s, bool steady)
{
    if (!r->json && !r->stream)
        return;
    if (s->taken_ns <= r->interval_base_ns)
        return;
    struct tk_counters d;
    tk_counters_diff(&r->interval_base, &s->c, &d);
    add_interval(r, steady, r->interval_base_ns, s->taken_ns, &d);
    r->interval_base = s->c;
    r->interval_base_ns = s->taken_ns;
}

/* ---- StatsD --------------------------------------------------------------------------- */

static int statsd_send_fn(const char *data, size_t len, void *arg)
{
    return statsd_sender_send(data, len, arg);
}

/* Resolves and opens the StatsD destination: the host's IPv4 address when it has one
 * ("localhost" is then 127.0.0.1, where a StatsD daemon usually listens). */
static bool statsd_open(struct run *r)
{
    const struct tk_config *c = r->cfg;
    char port[8], why[300];
    snprintf(port, sizeof port, "%u", c->statsd_port);
    struct sock_addr_list l = {0};
    int rc = sock_resolve(c->statsd_host, port, AF_INET, SOCK_DGRAM, 0, &l, why, sizeof why);
    if (rc != 0 || l.n == 0) {
        sock_addr_list_free(&l);
        rc = sock_resolve(c->statsd_host, port, AF_UNSPEC, SOCK_DGRAM, 0, &l, why, sizeof why);
    }
    if (rc != 0 || l.n == 0) {
        snprintf(r->message, sizeof r->message, "tcpkali: Resolving --statsd-host=%s: %s",
                 c->statsd_host, rc ? why : "DNS did not return usable addresses");
        say(r, "%s", r->message);
        sock_addr_list_free(&l);
        return false;
    }
    rc = statsd_sender_open(&r->sender, (struct sockaddr *)&l.v[0].ss, l.v[0].len, NULL, 0, why,
                            sizeof why);
    sock_addr_list_free(&l);
    if (rc < 0) {
        snprintf(r->message, sizeof r->message, "tcpkali: StatsD: %s", why);
        say(r, "%s", r->message);
        return false;
    }
    r->batch = calloc(1, sizeof *r->batch);
    if (!r->batch) {
        statsd_sender_close(&r->sender);
        return false;
    }
    statsd_batch_init(r->batch, STATSD_DATAGRAM_TCPKALI, statsd_send_fn, &r->sender);
    r->statsd = true;
    return true;
}

static void statsd_zero_batch(struct run *r)
{
    struct tk_statsd_figures zero;
    memset(&zero, 0, sizeof zero);
    tk_statsd_add_traffic(r->batch, r->cfg->statsd_namespace, &zero);
    statsd_batch_flush(r->batch);
}

static void statsd_latency(struct run *r, const struct hist *hc, const struct hist *hf,
                           const struct hist *hm)
{
    const struct tk_config *c = r->cfg;
    const char *ns = c->statsd_namespace;
    if (c->latency_connect)
        tk_statsd_add_latency(r->batch, ns, "connect", hc, c->percentiles, c->npercentiles);
    if (c->latency_first_byte)
        tk_statsd_add_latency(r->batch, ns, "firstbyte", hf, c->percentiles, c->npercentiles);
    if (c->latency_marker || message_marker_on(r) || c->closed_loop)
        tk_statsd_add_latency(r->batch, ns, "message", hm, c->percentiles, c->npercentiles);
}

/* One 0.25 s batch: counters since the previous one, gauges now. */
static void statsd_report(struct run *r, const struct tk_snapshot *s, const struct tk_counters *d)
{
    struct tk_statsd_figures f = {
        .opened = d->conns_initiated,
        .conns_in = s->c.conns_in,
        .conns_out = s->c.conns_out,
        .bitrate_in = 8 * tk_ema_rate(&r->ema_in),
        .bitrate_out = 8 * tk_ema_rate(&r->ema_out),
        .bytes_rcvd = d->bytes_rcvd,
        .bytes_sent = d->bytes_sent,
        .reads = d->reads,
        .writes = d->writes,
        .msgs_rcvd = d->msgs_rcvd,
        .msgs_sent = d->msgs_sent,
        .handshakes = r->cfg->websocket || r->cfg->ssl,
    };
    for (int i = 0; i < TK_HSF_COUNT; i++)
        f.hs_failures += d->hs_failures[i];
    tk_statsd_add_traffic(r->batch, r->cfg->statsd_namespace, &f);
    if (!r->cfg->statsd_latency_window_ns)
        statsd_latency(r, &s->lat_connect, &s->lat_first_byte, &s->lat_message);
    statsd_batch_flush(r->batch);
}

/* --statsd-latency-window: the latencies of the window just ended, in their own batch. */
static void statsd_window(struct run *r, const struct tk_snapshot *s)
{
    struct hist dc, df, dm;
    hist_init(&dc, s->lat_connect.sub_bits);
    hist_init(&df, s->lat_first_byte.sub_bits);
    hist_init(&dm, s->lat_message.sub_bits);
    tk_hist_diff(&dc, &s->lat_connect, &r->win_connect);
    tk_hist_diff(&df, &s->lat_first_byte, &r->win_first_byte);
    tk_hist_diff(&dm, &s->lat_message, &r->win_message);
    statsd_latency(r, &dc, &df, &dm);
    statsd_batch_flush(r->batch);
    hist_free(&dc);
    hist_free(&df);
    hist_free(&dm);
    hist_reset(&r->win_connect);
    hist_reset(&r->win_first_byte);
    hist_reset(&r->win_message);
    hist_merge(&r->win_connect, &s->lat_connect);
    hist_merge(&r->win_first_byte, &s->lat_first_byte);
    hist_merge(&r->win_message, &s->lat_message);
}

/* ---- live status -------------------------------------------------------------------------- */

static void status_line(struct run *r, const struct tk_snapshot *s)
{
    const struct tk_config *c = r->cfg;
    unsigned width = terminal_width();
    char line[1024];
    if (r->phase == PH_RAMP) {
        tk_status_ribbon(line, sizeof line, width, ramp_established(r, &s->c), c->connections,
                         s->c.conns_seen);
    } else {
        uint64_t t = c->duration_ns;
        struct tk_status st = {
            .clock = r->utf8,
            .elapsed_frac = t == UINT64_MAX ? -1 : secs(s->taken_ns - r->steady_ns) / secs(t),
            .elapsed_s = secs(s->taken_ns - r->steady_ns),
            .mbps_in = 8 * tk_ema_rate(&r->ema_in) / 1e6,
            .mbps_out = 8 * tk_ema_rate(&r->ema_out) / 1e6,
            .conns_in = s->c.conns_in,
            .conns_out = s->c.conns_out,
            .conns_connecting = s->c.conns_connecting,
            .conns_seen = s->c.conns_seen,
            .latency_on = c->latency_connect || c->latency_first_byte || c->latency_marker ||
                          message_marker_on(r),
            .mps = message_marker_on(r),
            .mps_in = tk_ema_rate(&r->ema_msg_in),
            .mps_out = tk_ema_rate(&r->ema_msg_out),
            .lat_connect = c->latency_connect,
            .lat_first_byte = c->latency_first_byte,
            .lat_message = c->latency_marker != NULL || message_marker_on(r),
            .p95_connect_ms = p95_ms(&s->lat_connect),
            .p95_first_byte_ms = p95_ms(&s->lat_first_byte),
            .p95_message_ms = p95_ms(&s->lat_message),
        };
        tk_status_traffic(line, sizeof line, &st);
    }
    fit_columns(line, width > 1 ? width - 1 : width);
    fprintf(stderr, "%s" TK_STATUS_EL "\r", line);
    fflush(stderr);
    r->status_shown = true;
}

/* ---- -r @Latency ------------------------------------------------------------------------- */

static void search_tick(struct run *r, const struct tk_snapshot *s)
{
    enum tk_search_action a = tk_search_tick(&r->search, s->taken_ns, p95_ms(&s->lat_message));
    if (a == TK_SEARCH_CHANGE) {
        say(r, "Attempting --message-rate %g (in range %g..%g)", r->search.rate, r->search.min,
            r->search.max);
        tk_engine_set_message_rate(r->eng, r->search.rate);
        tk_engine_reset_message_latency(r->eng);
    } else if (a == TK_SEARCH_DONE) {
        finish(r, END_SEARCH, r->search.mode == TK_SEARCH_FOUND ? TK_EXIT_OK : TK_EXIT_UNAVAIL);
    }
}

/* ---- phases ------------------------------------------------------------------------------- */

static void on_deadline(struct loop *loop, struct loop_timer *t);

/* The steady phase begins at snapshot s: after ramp-up, or (from_start) at the start of a
 * run without one (a pure listener, as spec §3.3's sink, no "Ramped up" line), whose
 * summary then counts everything since the engine started, even a connection that arrived
 * before the first snapshot. */
static void begin_steady(struct run *r, const struct tk_snapshot *s, bool from_start)
{
    r->phase = PH_STEADY;
    r->steady_ns = s->taken_ns;
    r->base = from_start ? r->zero : s->c;
    if (!from_start) {
        close_interval(r, s, false);
        r->ramp_recorded = true;
        r->ramp_s = secs(s->taken_ns - r->start_ns);
        r->ramp_totals = s->c;
        say(r, "Ramped up to %llu connections.", (unsigned long long)r->cfg->connections);
        if (r->stream) {
            report_event_begin(&r->js, "ramp_up");
            json_kv_double(&r->js, "duration_s", r->ramp_s);
            json_kv_u64(&r->js, "connections", s->c.conns_out);
            json_kv_u64(&r->js, "bytes_sent", s->c.bytes_sent);
            json_kv_u64(&r->js, "bytes_rcvd", s->c.bytes_rcvd);
            report_event_end(&r->js);
        }
    }
    r->interval_base = r->base;
    r->interval_base_ns = s->taken_ns;
    r->next_interval_ns = s->taken_ns + INTERVAL_NS;
    if (r->cfg->duration_ns != UINT64_MAX) {
        loop_timer_cancel(r->loop, &r->deadline);
        loop_timer_init(&r->deadline, on_deadline);
        uint64_t end = r->steady_ns + r->cfg->duration_ns;
        loop_timer_arm(r->loop, &r->deadline, end < r->steady_ns ? UINT64_MAX : end);
    }
    if (r->cfg->rate_search) {
        r->searching = true;
        tk_search_init(&r->search, (double)r->cfg->rate_search_target_ns / 1e6, s->taken_ns);
    }
}

static void periodic(struct run *r, const struct tk_snapshot *s)
{
    uint64_t now = s->taken_ns;
    if (now >= r->next_status_ns) {
        struct tk_counters d;
        tk_counters_diff(&r->last, &s->c, &d);
        double dt = secs(now - r->last_ns);
        tk_ema_add(&r->ema_in, (double)d.bytes_rcvd, dt);
        tk_ema_add(&r->ema_out, (double)d.bytes_sent, dt);
        tk_ema_add(&r->ema_msg_in, (double)d.msgs_rcvd, dt);
        tk_ema_add(&r->ema_msg_out, (double)d.msgs_sent, dt);
        if (r->statsd)
            statsd_report(r, s, &d);
        if (r->status)
            status_line(r, s);
        r->last = s->c;
        r->last_ns = now;
        r->next_status_ns = now + STATUS_NS;
    }
    if (r->statsd && r->cfg->statsd_latency_window_ns && now >= r->next_window_ns) {
        statsd_window(r, s);
        r->next_window_ns = now + r->cfg->statsd_latency_window_ns;
    }
    if (now >= r->next_interval_ns) {
        close_interval(r, s, r->phase == PH_STEADY);
        r->next_interval_ns = now + INTERVAL_NS;
        if (r->searching)
            search_tick(r, s);
    }
}

static void on_tick(struct loop *loop, struct loop_timer *t)
{
    struct run *r = container_of(t, struct run, tick);
    if (r->ending != END_NONE)
        return;
    struct tk_snapshot s;
    tk_engine_snapshot(r->eng, &s);
    uint64_t open = s.c.conns_in + s.c.conns_out;
    if (open > r->max_open)
        r->max_open = open;
    if (r->phase == PH_RAMP && ramp_established(r, &s.c) >= r->cfg->connections)
        begin_steady(r, &s, false);
    periodic(r, &s);
    tk_snapshot_free(&s);
    uint64_t period = r->phase == PH_RAMP ? RAMP_TICK_NS : STATUS_NS;
    loop_timer_arm(loop, t, loop_now(loop) + period);
}

static void on_deadline(struct loop *loop, struct loop_timer *t)
{
    (void)loop;
    struct run *r = container_of(t, struct run, deadline);
    if (r->phase == PH_RAMP) {
        finish(r, END_RAMP_FAILED, TK_EXIT_RAMP);
        return;
    }
    finish(r, END_DURATION, TK_EXIT_OK);
}

static void on_signal(struct loop *loop, struct loop_signal *s, int signo)
{
    (void)loop;
    struct run *r = container_of(s, struct run, sig);
    if (signo == SIGINT) {
        say(r, "Ctrl+C pressed, finishing up...");
        finish(r, END_SIGNAL, TK_EXIT_USAGE);
    } else {
        say(r, "Terminated, finishing up...");
        finish(r, END_SIGNAL, TK_EXIT_SIGTERM);
    }
}

static void on_fatal(void *ctx, int exit_code, const char *msg)
{
    struct run *r = ctx;
    if (r->ending != END_NONE)
        return;
    say(r, "%s", msg);
    snprintf(r->message, sizeof r->message, "%s", msg);
    finish(r, END_FATAL, exit_code);
}

/* "Last packet(21): [data data STOPME more]", printable bytes kept, others escaped. */
static void print_last_packet(const uint8_t *p, size_t len)
{
    enum { SHOWN = 256 }; /* the end of a long read is enough to see the match */
    fprintf(stderr, "Last packet(%zu): [%s", len, len > SHOWN ? "..." : "");
    for (size_t i = len > SHOWN ? len - SHOWN : 0; i < len; i++) {
        uint8_t c = p[i];
        if (c == '\n')
            fputs("\\n", stderr);
        else if (c == '\r')
            fputs("\\r", stderr);
        else if (c == '\\')
            fputs("\\\\", stderr);
        else if (c >= 0x20 && c < 0x7f)
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputs("]\n", stderr);
}

static void on_message_stop(void *ctx, const uint8_t *last, size_t len)
{
    struct run *r = ctx;
    if (r->ending != END_NONE)
        return;
    status_clear(r);
    if (last && len && r->cfg->verbose >= 1)
        print_last_packet(last, len);
    snprintf(r->message, sizeof r->message, "Found --message-stop=\"%.*s\", aborting.",
             (int)(r->cfg->message_stop_len > 400 ? 400 : r->cfg->message_stop_len),
             r->cfg->message_stop);
    if (!r->json && !r->stream)
        printf("%s\n", r->message);
    finish(r, END_STOP, TK_EXIT_STOP);
}

/* ---- the end ---------------------------------------------------------------------------- */

static bool message_latency_on(const struct run *r)
{
    return r->cfg->latency_marker || message_marker_on(r) || r->cfg->closed_loop;
}

/* The summary figures: steady-state totals (ramp-up traffic excluded, as the original). */
static void build_summary(struct run *r, struct tk_summary *s, struct tk_counters *total)
{
    const struct tk_config *c = r->cfg;
    const struct tk_snapshot *f = &r->final;
    const struct tk_counters *base = r->phase == PH_RAMP ? &r->zero : &r->base;
    uint64_t from = r->phase == PH_RAMP ? r->start_ns : r->steady_ns;
    tk_counters_diff(base, &f->c, total);
    memset(s, 0, sizeof *s);
    s->bytes_sent = total->bytes_sent;
    s->bytes_rcvd = total->bytes_rcvd;
    s->writes = total->writes;
    s->reads = total->reads;
    s->msgs_sent = total->msgs_sent;
    s->msgs_rcvd = total->msgs_rcvd;
    s->transactions = total->transactions;
    s->duration_s = f->taken_ns > from ? secs(f->taken_ns - from) : 0;
    s->channels = r->max_open;
    s->message_rate = message_marker_on(r);
    s->closed_loop = c->closed_loop;
    s->intended_time = f->latency_from_intended_time && c->message_rate > 0 && !c->closed_loop;
    s->lat_connect = c->latency_connect ? &f->lat_connect : NULL;
    s->lat_first_byte = c->latency_first_byte ? &f->lat_first_byte : NULL;
    s->lat_message = message_latency_on(r) ? &f->lat_message : NULL;
    s->send_lag = c->message_rate > 0 ? &f->send_lag : NULL;
    s->pcts = c->percentiles;
    s->npcts = c->npercentiles;
    s->connect_refused = total->connect_refused;
    s->connect_timeouts = total->connect_timeouts;
    s->connect_other = total->connect_other_errors;
    memcpy(s->hs_failures, total->hs_failures, sizeof(s->hs_failures));
}

static bool ending_has_summary(enum ending e)
{
    return e == END_DURATION || e == END_SIGNAL || e == END_SEARCH;
}

/* The verdict of -r @Latency, when the run searched. */
static void search_verdict(struct run *r, char *buf, size_t len, bool *to_stdout)
{
    const char *lat = r->o.rate_search_arg ? r->o.rate_search_arg : "?";
    *to_stdout = false;
    buf[0] = '\0';
    if (!r->cfg->rate_search || r->phase != PH_STEADY)
        return;
    if (r->ending == END_SEARCH && r->search.mode == TK_SEARCH_FOUND) {
        report_snprintf(buf, len, "Best --message-rate for latency %s⁹⁵ᵖ is %g", lat,
                        r->search.rate);
        *to_stdout = true;
    } else if (r->ending == END_SEARCH) {
        report_snprintf(buf, len, "Best --message-rate for latency %s can not be determined in "
                                  "time due to unstable target system behavior", lat);
    } else if (r->ending == END_DURATION) {
        report_snprintf(buf, len, "Failed to find the best --message-rate for latency %s in -T%g "
                                  "seconds", lat, secs(r->cfg->duration_ns));
        r->exit_code = TK_EXIT_UNAVAIL;
    }
}

static void write_json_document(struct run *r, const struct tk_summary *s,
                                const struct tk_counters *total)
{
    struct json *j = &r->js;
    json_object_begin(j);
    json_kv_string(j, "tool", "tcpkali");
    json_kv_string(j, "version", NETGRIND_VERSION);
    json_key(j, "config");
    json_object_begin(j);
    tk_json_config(j, &r->o);
    json_object_end(j);
    json_key(j, "ramp_up");
    if (r->ramp_recorded) {
        json_object_begin(j);
        json_kv_double(j, "duration_s", r->ramp_s);
        json_kv_u64(j, "bytes_sent", r->ramp_totals.bytes_sent);
        json_kv_u64(j, "bytes_rcvd", r->ramp_totals.bytes_rcvd);
        json_object_end(j);
    } else {
        json_null(j);
    }
    json_key(j, "intervals");
    json_array_begin(j);
    for (size_t i = 0; i < r->nintervals; i++) {
        const struct interval_rec *rec = &r->intervals[i];
        struct tk_json_interval iv = {rec->steady ? "steady" : "ramp_up",
                                      secs(rec->start_ns - r->start_ns),
                                      secs(rec->end_ns - r->start_ns), rec->d};
        json_object_begin(j);
        tk_json_interval(j, &iv);
        json_object_end(j);
    }
    json_array_end(j);
    json_key(j, "summary");
    if (s) {
        json_object_begin(j);
        tk_json_summary(j, s, total, r->max_open);
        json_object_end(j);
    } else {
        json_null(j);
    }
}

static void write_json_end(struct run *r, const struct tk_summary *s,
                           const struct tk_counters *total, const char *verdict)
{
    struct json *j = &r->js;
    if (r->stream) {
        if (s) {
            report_event_begin(j, "summary");
            tk_json_summary(j, s, total, r->max_open);
            report_event_end(j);
        }
        report_event_begin(j, "end");
    } else {
        write_json_document(r, s, total);
    }
    if (r->cfg->rate_search) {
        json_key(j, "rate_search");
        json_object_begin(j);
        json_kv_bool(j, "found", r->ending == END_SEARCH && r->search.mode == TK_SEARCH_FOUND);
        json_kv_double(j, "message_rate_per_s", r->search.rate);
        json_kv_double(j, "target_latency_ms", (double)r->cfg->rate_search_target_ns / 1e6);
        json_object_end(j);
    }
    json_kv_i64(j, "exit_code", r->exit_code);
    json_key(j, "error");
    if (r->message[0] && r->exit_code != 0)
        json_string(j, r->message);
    else if (verdict && verdict[0] && r->exit_code != 0)
        json_string(j, verdict);
    else
        json_null(j);
    if (r->stream)
        report_event_end(j);
    else {
        json_object_end(j);
        json_finish(j);
    }
}

static void ramp_failed_message(struct run *r)
{
    uint64_t n = r->cfg->connections;
    report_snprintf(r->message, sizeof r->message,
                    "Could not create %llu connection%s in allotted time (%gs)",
                    (unsigned long long)n, n == 1 ? "" : "s", secs(r->cfg->duration_ns));
    say(r, "%s", r->message);
    /* Failed upgrades are the usual reason with --ws: say which (nothing when none). */
    if (r->have_final)
        tk_print_hs_failures(stderr, r->final.c.hs_failures);
}

static void report_end(struct run *r)
{
    struct tk_summary s;
    struct tk_counters total;
    bool summary = ending_has_summary(r->ending) && r->have_final;
    if (r->ending == END_RAMP_FAILED)
        ramp_failed_message(r);
    char verdict[400];
    bool verdict_stdout = false;
    search_verdict(r, verdict, sizeof verdict, &verdict_stdout);
    status_clear(r);
    if (summary)
        build_summary(r, &s, &total);
    if (r->json || r->stream) {
        write_json_end(r, summary ? &s : NULL, &total, verdict);
        if (verdict[0] && !verdict_stdout)
            fprintf(stderr, "%s\n", verdict);
        return;
    }
    if (summary)
        tk_print_summary(stdout, &s);
    if (verdict[0]) {
        fflush(stdout);
        report_printf(verdict_stdout ? stdout : stderr, "%s\n", verdict);
    }
    fflush(stdout);
}

/* ---- setup ------------------------------------------------------------------------------ */

/* The exit path for anything before the run: JSON when asked, the code. */
static int early_exit(struct run *r, int code)
{
    r->exit_code = code;
    if (r->json || r->stream) {
        if (!r->message[0])
            snprintf(r->message, sizeof r->message, "%s", r->o.error);
        r->cfg = &r->o.cfg;
        write_json_end(r, NULL, NULL, NULL);
    }
    return code;
}

static bool start_engine(struct run *r)
{
    char err[600];
    int code = TK_EXIT_SOFTWARE;
    struct tk_engine_events ev = {r, on_fatal, on_message_stop};
    r->eng = tk_engine_new(r->cfg, r->loop, &ev, &code, err, sizeof err);
    if (r->eng && tk_engine_start(r->eng, &code, err, sizeof err) == 0)
        return true;
    snprintf(r->message, sizeof r->message, "%s", err);
    say(r, "%s", err);
    r->exit_code = code ? code : TK_EXIT_SOFTWARE;
    return false;
}

/* -l 0 (netgrind: any free port): the port the listeners got. */
static void print_bound_listeners(struct run *r)
{
    if (!r->cfg->listen || r->cfg->listen_port != 0)
        return;
    size_t n = 0;
    const struct sock_addr *a = tk_engine_listen_addrs(r->eng, &n);
    char buf[SOCK_ADDR_STRLEN + 4];
    for (size_t i = 0; a && i < n; i++)
        fprintf(stderr, "Listen on: %s\n", tk_addr_format(&a[i], buf, sizeof buf));
}

static bool setup_loop(struct run *r)
{
    char err[300];
    r->loop = loop_new(err, sizeof err);
    if (!r->loop) {
        snprintf(r->message, sizeof r->message, "tcpkali: %s", err);
        say(r, "%s", r->message);
        return false;
    }
    static const int sigs[] = {SIGINT, SIGTERM};
    if (loop_signal_add(r->loop, &r->sig, sigs, 2, on_signal, err, sizeof err) < 0) {
        snprintf(r->message, sizeof r->message, "tcpkali: %s", err);
        say(r, "%s", r->message);
        return false;
    }
    r->sig_on = true;
    signal(SIGPIPE, SIG_IGN);
    return true;
}

static void init_histograms(struct run *r)
{
    hist_init(&r->win_connect, HIST_SUB_BITS_DEFAULT);
    hist_init(&r->win_first_byte, HIST_SUB_BITS_DEFAULT);
    hist_init(&r->win_message, HIST_SUB_BITS_DEFAULT);
}

static void free_run(struct run *r)
{
    if (r->eng) {
        tk_engine_stop(r->eng);
        tk_engine_free(r->eng);
    }
    if (r->have_final)
        tk_snapshot_free(&r->final);
    if (r->loop) {
        if (r->sig_on)
            loop_signal_del(r->loop, &r->sig);
        loop_free(r->loop);
    }
    if (r->statsd)
        statsd_sender_close(&r->sender);
    free(r->batch);
    free(r->intervals);
    hist_free(&r->win_connect);
    hist_free(&r->win_first_byte);
    hist_free(&r->win_message);
    tk_opts_free(&r->o);
}

/* Everything from a started engine to the end of the loop. */
static void run_phases(struct run *r)
{
    struct tk_snapshot s;
    tk_engine_snapshot(r->eng, &s);
    /* Counting starts at zero, not at this first snapshot: the engine may already have
     * initiated connections since tk_engine_start. */
    r->start_ns = r->last_ns = r->interval_base_ns = s.taken_ns;
    r->next_status_ns = s.taken_ns + STATUS_NS;
    r->next_interval_ns = s.taken_ns + INTERVAL_NS;
    r->next_window_ns = s.taken_ns + r->cfg->statsd_latency_window_ns;
    bool ramp = r->cfg->ndests > 0 && r->cfg->connections > 0;
    loop_timer_init(&r->deadline, on_deadline);
    if (ramp) {
        r->phase = PH_RAMP;
        if (r->cfg->duration_ns != UINT64_MAX)
            loop_timer_arm(r->loop, &r->deadline, s.taken_ns + r->cfg->duration_ns);
    } else {
        begin_steady(r, &s, true);
    }
    tk_snapshot_free(&s);
    loop_timer_init(&r->tick, on_tick);
    loop_timer_arm(r->loop, &r->tick, loop_now(r->loop) + (ramp ? RAMP_TICK_NS : STATUS_NS));
    if (r->status)
        fputs("\033[?25l", stderr); /* hide the cursor while the line is live */
    loop_run(r->loop);
    if (r->status) {
        status_clear(r); /* before the workers' -vv exit blocks */
        fputs("\033[?25h", stderr);
    }
    /* Every worker stops sending first, and only then are the figures taken: a snapshot
     * taken while workers still run would miss whatever they write before they stop, and
     * the summary would fall short of what the peer received. */
    tk_engine_stop(r->eng);
    tk_engine_snapshot(r->eng, &r->final);
    r->have_final = true;
    uint64_t open = r->final.c.conns_in + r->final.c.conns_out;
    if (open > r->max_open)
        r->max_open = open;
    if (r->ending == END_NONE)
        r->ending = END_SIGNAL; /* the loop failed: report what there is */
    close_interval(r, &r->final, r->phase == PH_STEADY);
    if (r->statsd) {
        struct tk_counters d;
        tk_counters_diff(&r->last, &r->final.c, &d);
        statsd_report(r, &r->final, &d);
        if (r->cfg->statsd_latency_window_ns)
            statsd_window(r, &r->final);
        statsd_zero_batch(r);
    }
}

static bool startup_checks(struct run *r)
{
    struct tk_opts *o = &r->o;
    return tk_opts_check_early(o) && tk_opts_check_limits(o) && tk_opts_resolve(o) &&
           tk_opts_check_late(o);
}

/* Reads the command line into r and runs the startup checks. The tty check comes first
 * (§2): a terminal that can not take the status line. False when the run must not go on;
 * r->o.exit_code then holds the code. */
static bool parse_command_line(struct run *r, int argc, char **argv)
{
    bool stream = false;
    r->json = tk_opts_wants_json(argc, argv, &stream);
    r->stream = stream;
    if (r->stream)
        r->json = false;
    json_init(&r->js, stdout, !r->stream);
    bool parsed = tk_opts_parse(&r->o, argc, argv);
    bool tty = parsed && isatty(STDOUT_FILENO) && !r->json && !r->stream;
    const char *term = getenv("TERM");
    if (tty && (!term || !*term || strcmp(term, "dumb") == 0)) {
        tk_opts_warn(&r->o, "Dumb terminal, expect unglorified output.");
        tty = false;
    }
    if (!parsed || !startup_checks(r)) {
        if (r->o.help_long || r->o.help_short || r->o.version)
            r->json = r->stream = false; /* the text was asked for */
        return false;
    }
    r->status = tty;
    return true;
}

static int run_tcpkali(struct run *r, int argc, char **argv)
{
    if (!parse_command_line(r, argc, argv))
        return early_exit(r, r->o.exit_code);
    r->utf8 = tk_lang_is_utf8(getenv("LANG"));
    tk_ema_init(&r->ema_in);
    tk_ema_init(&r->ema_out);
    tk_ema_init(&r->ema_msg_in);
    tk_ema_init(&r->ema_msg_out);
    json_start_event(r);
    if (!setup_loop(r))
        return early_exit(r, TK_EXIT_SOFTWARE);
    if (r->cfg->statsd && !statsd_open(r))
        return early_exit(r, TK_EXIT_NOHOST);
    if (r->statsd)
        statsd_zero_batch(r);
    if (!start_engine(r)) {
        int code = r->exit_code;
        r->exit_code = 0;
        return early_exit(r, code);
    }
    print_bound_listeners(r);
    run_phases(r);
    report_end(r);
    return r->exit_code;
}

int tcpkali_main(int argc, char **argv)
{
    struct run *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "tcpkali: out of memory\n");
        return TK_EXIT_SOFTWARE;
    }
    tk_opts_init(&r->o, stdout, stderr);
    r->cfg = &r->o.cfg;
    init_histograms(r);
    int code = run_tcpkali(r, argc, argv);
    free_run(r);
    free(r);
    return code;
}
