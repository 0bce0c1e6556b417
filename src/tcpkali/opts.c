/* tcpkali's command line: the option table, each option's grammar and message, and the
 * startup cross-checks (see opts.h and tcpkali.md §1, §2). */
#include "tcpkali/opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/opt.h"
#include "core/units.h"
#include "core/util.h"
#include "core/version.h"
#include "core/worker.h"
#include "tcpkali/msgsrc.h"
#include "tcpkali/output.h"
#include "tcpkali/syslimits.h"

/* An opt callback's return that stops parsing with exit code 0 (--help, -h, --version). */
#define STOP_OK 1000
#define HEADERS_MAX_BYTES 1024

/* ---- messages ------------------------------------------------------------------------ */

/* Keeps the printed error lines, joined by "; ", for the JSON document. */
static void remember(struct tk_opts *o, const char *line)
{
    size_t used = strlen(o->error);
    if (used + 3 >= sizeof o->error)
        return;
    if (used) {
        memcpy(o->error + used, "; ", 2);
        used += 2;
    }
    size_t n = strlen(line);
    if (n > sizeof o->error - 1 - used)
        n = sizeof o->error - 1 - used; /* a long list of errors is cut */
    memcpy(o->error + used, line, n);
    o->error[used + n] = '\0';
}

/* Prints one error line, remembers it, and returns the exit code for callbacks. */
static int __attribute__((format(printf, 3, 4))) fail(struct tk_opts *o, int code, const char *fmt,
                                                      ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(o->err, "%s\n", line);
    remember(o, line);
    o->exit_code = code;
    return code;
}

/* An error line that another line will follow (the exit code comes with that one). */
static void __attribute__((format(printf, 2, 3))) note_error(struct tk_opts *o, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(o->err, "%s\n", line);
    remember(o, line);
}

void tk_opts_warn(const struct tk_opts *o, const char *fmt, ...)
{
    bool red = o->err == stderr && isatty(STDERR_FILENO);
    fprintf(o->err, "%sWARNING:%s ", red ? "\033[31m" : "", red ? "\033[0m" : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->err, fmt, ap);
    va_end(ap);
    fputc('\n', o->err);
}

static void *own(struct tk_opts *o, void *p)
{
    if (!p)
        return NULL;
    void **v = realloc(o->owned, (o->nowned + 1) * sizeof *v);
    if (!v) {
        free(p);
        return NULL;
    }
    o->owned = v;
    o->owned[o->nowned++] = p;
    return p;
}

/* ---- setup --------------------------------------------------------------------------- */

void tk_opts_init(struct tk_opts *o, FILE *out, FILE *err)
{
    memset(o, 0, sizeof *o);
    o->out = out ? out : stdout;
    o->err = err ? err : stderr;
    o->tty = o->out == stdout && isatty(STDOUT_FILENO);
    o->ncpus = worker_default_count();
    o->duration_arg = "10s";

    struct tk_config *c = &o->cfg;
    c->listen_mode = TK_LISTEN_SILENT;
    c->connections = 1;
    c->connect_rate = 100;
    c->connect_timeout_ns = NS_PER_SEC;
    c->bandwidth_down_Bps = -1;
    c->duration_ns = 10 * NS_PER_SEC;
    c->nagle = -1;
    c->write_combine = true;
    c->verbose = 1; /* the help text's default (the original had 0: bug 3) */
    c->statsd_host = "localhost";
    c->statsd_port = 8125;
    c->statsd_namespace = "tcpkali";
    c->ssl_cert = "cert.pem"; /* tcpkali 1.2's defaults */
    c->ssl_key = "key.pem";
}

void tk_config_free(struct tk_config *cfg)
{
    free(cfg->dests);
    cfg->dests = NULL;
    cfg->ndests = 0;
    sock_addr_list_free(&cfg->listen_addrs);
    free(cfg->source_ips);
    cfg->source_ips = NULL;
    cfg->nsource_ips = 0;
    free(cfg->msgs);
    cfg->msgs = NULL;
    cfg->nmsgs = 0;
    free(cfg->headers);
    cfg->headers = NULL;
    cfg->nheaders = 0;
}

void tk_opts_free(struct tk_opts *o)
{
    tk_config_free(&o->cfg);
    for (size_t i = 0; i < o->nowned; i++)
        free(o->owned[i]);
    free(o->owned);
    o->owned = NULL;
    o->nowned = 0;
    free(o->dest_args);
    o->dest_args = NULL;
}

/* ---- percentiles ---------------------------------------------------------- */

/* One item of a percentile list, len bytes at s: digits, optionally '.' and digits. */
static int parse_one_percentile(const char *s, size_t len, double *v, const char **why)
{
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == 0) {
        *why = "bad number";
        return -1;
    }
    if (i < len && s[i] == '.') {
        size_t frac = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == frac && i == len) {
            *why = "Fractional part is missing";
            return -1;
        }
    }
    if (i < len) {
        *why = "bad number";
        return -1;
    }
    if (len > 7) {
        *why = "Unreasonably precise percentile specification";
        return -1;
    }
    char buf[16];
    memcpy(buf, s, len);
    buf[len] = '\0';
    *v = strtod(buf, NULL);
    if (*v > 100) {
        *why = "bad latency percentile specification, expected range is [0..100]";
        return -1;
    }
    return 0;
}

int tk_parse_percentiles(struct tk_config *cfg, const char *arg, char *err, size_t errlen)
{
    const char *why = NULL;
    const char *p = arg;
    for (;;) {
        size_t len = strspn(p, "0123456789.");
        char term = p[len];
        double v = 0;
        if (len > 0 && term && term != ',' && term != '/' &&
            !((term >= 'a' && term <= 'z') || (term >= 'A' && term <= 'Z') || term == '-' ||
              term == '+' || term == '_')) {
            /* "95;99": a number, then a byte that is neither a separator nor part of one. */
            why = "invalid separator, use ',' or '/'";
            break;
        }
        if (term && term != ',' && term != '/') {
            why = "bad number";
            break;
        }
        if (parse_one_percentile(p, len, &v, &why) < 0)
            break;
        if (cfg->npercentiles >= TK_MAX_PERCENTILES) {
            why = "too many percentiles (at most 32)";
            break;
        }
        struct tk_percentile *pc = &cfg->percentiles[cfg->npercentiles++];
        pc->value = v;
        memcpy(pc->label, p, len);
        pc->label[len] = '\0';
        if (term == '\0')
            return 0;
        p += len + 1;
    }
    snprintf(err, errlen, "--latency-percentiles: %s: Failed to parse: %s", arg, why);
    return -1;
}

/* ---- option values --------------------------------------------------------------------- */

/* tcpkali's parse_with_multipliers: the value, or -1 after printing why (nothing for a
 * value that is not a number at all, as the original), so that the option's own range
 * check prints its line next. *ok tells a real -1 from a failure. */
static double scaled(struct tk_opts *o, const char *opt, const char *arg,
                     const struct units_suffix *table, bool *ok)
{
    double v = 0;
    char why[300];
    int rc = units_parse_scaled(opt, arg, table, &v, why, sizeof why);
    if (ok)
        *ok = rc == 0;
    if (rc == 0)
        return v;
    if (rc != -EDOM)
        note_error(o, "%s", why);
    return -1;
}

/* A strict decimal integer in [min, max]; false for anything else. */
static bool strict_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        return false;
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool seconds_ns(double secs, uint64_t *ns)
{
    return units_seconds_to_ns(secs, ns) == 0;
}

static struct tk_msg_arg *add_msg(struct tk_opts *o, enum tk_msg_kind kind)
{
    struct tk_config *c = &o->cfg;
    struct tk_msg_arg *v = realloc(c->msgs, (c->nmsgs + 1) * sizeof *v);
    if (!v)
        return NULL;
    c->msgs = v;
    struct tk_msg_arg *m = &v[c->nmsgs++];
    memset(m, 0, sizeof *m);
    m->kind = kind;
    return m;
}

/* Reads a whole file into a buffer the options own. NULL with errno set. */
static char *read_file(struct tk_opts *o, const char *name, size_t *len)
{
    FILE *f = fopen(name, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) {
            if (ferror(f)) {
                int e = errno ? errno : EIO;
                free(buf);
                fclose(f);
                errno = e;
                return NULL;
            }
            break;
        }
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            errno = ENOMEM;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    if (!buf)
        return NULL;
    *len = n;
    return own(o, buf);
}

static int on_message(struct tk_opts *o, enum tk_msg_kind kind, const char *arg, bool file,
                      const char *opt)
{
    struct tk_msg_arg *m = add_msg(o, kind);
    if (!m)
        return fail(o, TK_EXIT_SOFTWARE, "out of memory");
    if (!file) {
        m->text = arg;
        m->len = strlen(arg);
        m->unescape = o->unescape;
        return 0;
    }
    size_t len = 0;
    char *data = read_file(o, arg, &len);
    if (!data) {
        o->cfg.nmsgs--;
        return fail(o, TK_EXIT_DATA, "%s: %s", arg, strerror(errno));
    }
    if (len == 0)
        tk_opts_warn(o, "%s=%s: the file is empty", opt, arg);
    m->text = data;
    m->len = len;
    m->from_file = true;
    m->file_name = arg;
    /* The bytes of a file are sent as they are: no -e escapes (tcpkali.md bug 9). */
    m->unescape = false;
    return 0;
}

/* -e applied (if it came earlier) to a marker, stop string or header: a buffer we own. */
static const char *maybe_unescape(struct tk_opts *o, const char *arg, size_t *len)
{
    size_t n = strlen(arg);
    if (!o->unescape) {
        *len = n;
        return arg;
    }
    char *buf = own(o, malloc(n + 1));
    if (!buf) {
        *len = n;
        return arg;
    }
    *len = tk_unescape(arg, n, (uint8_t *)buf);
    buf[*len] = '\0';
    return buf;
}

static int on_workers(struct tk_opts *o, const char *arg)
{
    long v = 0;
    if (strict_int(arg, LONG_MIN, LONG_MAX, &v) && v > 0 && v <= 100000) {
        o->cfg.workers = (unsigned)v;
        o->workers_given = true;
        return 0;
    }
    if (strict_int(arg, LONG_MIN, LONG_MAX, &v) && v >= 0)
        return fail(o, TK_EXIT_USAGE, v == 0 ? "Expected --workers > 0"
                                             : "Value --workers=%s is unreasonably large", arg);
    if (strcmp(arg, "s") == 0)
        return fail(o, TK_EXIT_USAGE,
                    "Expected -w <N> (--workers) or --ws (--websocket), but not -ws.");
    return fail(o, TK_EXIT_USAGE, "Expected --workers <N> (-w <N>), or --websocket (--ws)");
}

static int on_connections(struct tk_opts *o, const char *arg)
{
    double v = scaled(o, "--connections", arg, UNITS_TCPKALI_COUNT, NULL);
    /* Not a positive whole number (the original accepted 0 (bug 5) and cut 1.5 to 1). */
    if (!(v > 0) || v != floor(v))
        return fail(o, TK_EXIT_USAGE, "Expecting --connections > 0");
    if (v > INT_MAX)
        return fail(o, TK_EXIT_USAGE, "Expecting --connections <= %d", INT_MAX);
    o->cfg.connections = (uint64_t)v;
    return 0;
}

static int on_time(struct tk_opts *o, const char *opt, const char *arg, bool allow_zero,
                   uint64_t *ns)
{
    bool ok = false;
    double v = scaled(o, opt, arg, UNITS_TCPKALI_TIME, &ok);
    if (allow_zero ? v < 0 : !(v > 0))
        return fail(o, TK_EXIT_USAGE, allow_zero ? "Expected non-negative %s=%s"
                                                 : "Expected positive %s=%s", opt, arg);
    if (!seconds_ns(v, ns))
        return fail(o, TK_EXIT_USAGE, "Option %s parses to infinite value", opt);
    if (*ns == 0 && v > 0)
        return fail(o, TK_EXIT_USAGE, "Expected positive %s=%s", opt, arg);
    return 0;
}

static int on_duration(struct tk_opts *o, const char *arg)
{
    bool ok = false;
    double v = scaled(o, "--duration", arg, UNITS_TCPKALI_TIME, &ok);
    o->duration_given = true;
    o->duration_arg = arg;
    if (ok && v == -1) { /* tcpkali 1.2: -T -1 runs until interrupted */
        o->cfg.duration_ns = UINT64_MAX;
        return 0;
    }
    if (!(v > 0))
        return fail(o, TK_EXIT_USAGE, "Expected positive --duration=%s", arg);
    uint64_t ns = 0;
    if (!seconds_ns(v, &ns) || ns == 0)
        return fail(o, TK_EXIT_USAGE, "Expected positive --duration=%s", arg);
    o->cfg.duration_ns = ns;
    return 0;
}

/* -r @Latency. */
static int on_rate_search(struct tk_opts *o, const char *arg)
{
    const char *lat = arg + 1;
    double v = scaled(o, "--message-rate", lat, UNITS_TCPKALI_TIME, NULL);
    uint64_t ns = 0;
    if (!(v > 0) || !seconds_ns(v, &ns) || ns == 0)
        return fail(o, TK_EXIT_USAGE, "Expecting --message-rate @<Latency> > 0");
    if (o->cfg.message_rate > 0 && !o->cfg.rate_search)
        tk_opts_warn(o, "--message-rate=%s overrides the earlier --message-rate", arg);
    char *end = NULL;
    strtod(lat, &end);
    o->rate_search_unitless = end && *end == '\0';
    o->rate_search_arg = lat;
    o->cfg.rate_search = true;
    o->cfg.rate_search_target_ns = ns;
    o->cfg.message_rate = 100; /* where the search starts (tcpkali.md §5.4) */
    return 0;
}

static int on_rate(struct tk_opts *o, const char *arg)
{
    if (arg[0] == '@')
        return on_rate_search(o, arg);
    double v = scaled(o, "--message-rate", arg, UNITS_TCPKALI_COUNT, NULL);
    if (!(v > 0))
        return fail(o, TK_EXIT_USAGE, "Expecting --message-rate > 0");
    if (o->cfg.rate_search)
        tk_opts_warn(o, "--message-rate=%s overrides the earlier --message-rate @%s", arg,
                     o->rate_search_arg);
    o->cfg.rate_search = false;
    o->cfg.rate_search_target_ns = 0;
    o->rate_search_arg = NULL;
    o->cfg.message_rate = v;
    return 0;
}

static int on_listen_port(struct tk_opts *o, const char *arg)
{
    struct addr_endpoint ep;
    char why[300];
    uint16_t port = 0;
    o->listen_arg = arg;
    if (addr_parse_endpoint(arg, ADDR_F_HOST_OPTIONAL, &ep, why, sizeof why) < 0 ||
        addr_parse_port(ep.port, &port) < 0 || (port == 0 && strspn(ep.port, "0") != 1))
        return fail(o, TK_EXIT_USAGE, "--listen-port=%s is not in [1..65535]", arg);
    snprintf(o->listen_host, sizeof o->listen_host, "%s", ep.host);
    o->cfg.listen = true;
    o->cfg.listen_port = port;
    return 0;
}

static int on_listen_mode(struct tk_opts *o, const char *arg)
{
    if (strcmp(arg, "silent") == 0)
        o->cfg.listen_mode = TK_LISTEN_SILENT; /* rejected by the original (bug 1) */
    else if (strcmp(arg, "active") == 0)
        o->cfg.listen_mode = TK_LISTEN_ACTIVE;
    else if (strcmp(arg, "echo") == 0)
        o->cfg.listen_mode = TK_LISTEN_ECHO;
    else
        return fail(o, TK_EXIT_USAGE, "--listen-mode=%s is not one of {silent|active|echo}", arg);
    return 0;
}

static int on_buffer(struct tk_opts *o, const char *opt, const char *arg, int *dest)
{
    double v = scaled(o, opt, arg, UNITS_TCPKALI_SIZE, NULL);
    if (!(v > 0))
        return fail(o, TK_EXIT_USAGE, "Expecting %s > 0", opt);
    if (v > INT_MAX)
        return fail(o, TK_EXIT_USAGE, "Expecting %s <= %d", opt, INT_MAX);
    *dest = (int)v;
    return 0;
}

/* Parses an IP literal (brackets allowed for IPv6) into a with port 0. */
static bool parse_ip_literal(const char *s, struct sock_addr *a)
{
    char buf[INET6_ADDRSTRLEN + 4];
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof buf) {
        memcpy(buf, s + 1, n - 2);
        buf[n - 2] = '\0';
    } else if (n < sizeof buf) {
        memcpy(buf, s, n + 1);
    } else {
        return false;
    }
    memset(a, 0, sizeof *a);
    struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
    if (inet_pton(AF_INET, buf, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        a->len = sizeof *in;
        return true;
    }
    if (inet_pton(AF_INET6, buf, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        a->len = sizeof *in6;
        return true;
    }
    return false;
}

static int on_source_ip(struct tk_opts *o, const char *arg)
{
    struct sock_addr a;
    if (!parse_ip_literal(arg, &a))
        return fail(o, TK_EXIT_USAGE, "--source-ip=%s: local IP address expected", arg);
    /* Test-bind it, as the original does, so a typo is caught before the run. */
    char why[300], name[SOCK_ADDR_STRLEN];
    int fd = sock_tcp_socket(sock_addr_family(&a), false, why, sizeof why);
    int rc = fd < 0 ? fd : sock_bind(fd, &a, why, sizeof why);
    if (fd >= 0)
        close(fd);
    if (rc < 0) {
        note_error(o, "%s is not local: %s", tk_addr_format(&a, name, sizeof name),
                   strerror(-rc));
        return fail(o, TK_EXIT_USAGE, "--source-ip=%s: local IP address expected", arg);
    }
    struct tk_config *c = &o->cfg;
    struct sock_addr *v = realloc(c->source_ips, (c->nsource_ips + 1) * sizeof *v);
    if (!v)
        return fail(o, TK_EXIT_SOFTWARE, "out of memory");
    c->source_ips = v;
    v[c->nsource_ips++] = a;
    return 0;
}

static int on_header(struct tk_opts *o, const char *arg)
{
    size_t len = 0;
    const char *h = maybe_unescape(o, arg, &len);
    if (len == 0) {
        tk_opts_warn(o, "--header: empty header ignored");
        return 0;
    }
    if (memchr(h, '\n', len) || memchr(h, '\r', len))
        return fail(o, TK_EXIT_USAGE, "--header \"%s\" must not contain a line break", arg);
    if (!((h[0] >= 'a' && h[0] <= 'z') || (h[0] >= 'A' && h[0] <= 'Z')))
        tk_opts_warn(o, "--header \"%s\" does not start with a letter", arg);
    size_t total = len + 2;
    for (size_t i = 0; i < o->cfg.nheaders; i++)
        total += strlen(o->cfg.headers[i]) + 2;
    if (total > HEADERS_MAX_BYTES)
        return fail(o, TK_EXIT_USAGE, "--header adds too many HTTP headers");
    if (memchr(h, '\0', len))
        return fail(o, TK_EXIT_USAGE, "--header \"%s\" must not contain a NUL byte", arg);
    const char **v = realloc(o->cfg.headers, (o->cfg.nheaders + 1) * sizeof *v);
    if (!v)
        return fail(o, TK_EXIT_SOFTWARE, "out of memory");
    o->cfg.headers = v;
    v[o->cfg.nheaders++] = h;
    return 0;
}

static int on_latency_marker(struct tk_opts *o, const char *arg)
{
    if (o->cfg.message_marker)
        return fail(o, TK_EXIT_USAGE,
                    "--latency-marker: --message-marker is already specified, use one or the other");
    size_t len = 0;
    const char *m = maybe_unescape(o, arg, &len);
    if (len == 0)
        return fail(o, TK_EXIT_USAGE, "--latency-marker: Non-empty marker expected");
    if (strstr(arg, "\\{"))
        return fail(o, TK_EXIT_USAGE,
                    "--latency-marker: message expressions (\\{...}) are not supported yet");
    o->cfg.latency_marker = m;
    o->cfg.latency_marker_len = len;
    return 0;
}

static int on_message_stop(struct tk_opts *o, const char *arg)
{
    if (strstr(arg, "\\{"))
        return fail(o, TK_EXIT_USAGE, "--message-stop: Non-trivial expressions are not supported");
    size_t len = 0;
    const char *m = maybe_unescape(o, arg, &len);
    if (len == 0)
        return fail(o, TK_EXIT_USAGE, "--message-stop: Non-empty message expected");
    o->cfg.message_stop = m;
    o->cfg.message_stop_len = len;
    return 0;
}

static int on_port(struct tk_opts *o, const char *opt, const char *arg, uint16_t *dest)
{
    long v = 0;
    if (!strict_int(arg, 1, 65535, &v))
        return fail(o, TK_EXIT_USAGE, "%s=%s is not in [1..65535]", opt, arg);
    *dest = (uint16_t)v;
    return 0;
}

static int on_statsd_window(struct tk_opts *o, const char *arg)
{
    double v = scaled(o, "--statsd-latency-window", arg, UNITS_TCPKALI_TIME, NULL);
    o->statsd_window_arg = arg;
    uint64_t ns = 0;
    if (!(v >= 0.5) || !seconds_ns(v, &ns))
        return fail(o, TK_EXIT_USAGE, "--statsd-latency-window=%s is too small. Try 0.5s.", arg);
    o->cfg.statsd_latency_window_ns = ns;
    return 0;
}

static int on_verbose(struct tk_opts *o, const char *arg)
{
    long v = 0;
    if (!strict_int(arg, 0, 3, &v))
        return fail(o, TK_EXIT_USAGE, "Expecting --verbose=[0..3]");
    o->cfg.verbose = (int)v;
    return 0;
}

static int on_nagle(struct tk_opts *o, const char *arg)
{
    if (strcmp(arg, "on") == 0)
        o->cfg.nagle = 1;
    else if (strcmp(arg, "off") == 0)
        o->cfg.nagle = 0;
    else
        return fail(o, TK_EXIT_USAGE, "Expecting --nagle \"on\" or \"off\"");
    return 0;
}

static int on_write_combine(struct tk_opts *o, const char *arg)
{
    o->write_combine_given = true;
    if (strcmp(arg, "off") == 0) {
        o->cfg.write_combine = false;
    } else if (strcmp(arg, "on") == 0) {
        fprintf(o->err, "NOTE: --write-combine on is a default setting\n");
        o->cfg.write_combine = true;
    } else {
        return fail(o, TK_EXIT_USAGE, "Expecting --write-combine off");
    }
    return 0;
}

static int on_connect_rate(struct tk_opts *o, const char *arg)
{
    double v = scaled(o, "--connect-rate", arg, UNITS_TCPKALI_COUNT, NULL);
    if (!(v > 0))
        return fail(o, TK_EXIT_USAGE, "Expected positive --connect-rate=%s", arg);
    o->cfg.connect_rate = v;
    return 0;
}

static int on_bandwidth(struct tk_opts *o, const char *opt, const char *arg, bool zero_ok,
                        double *Bps)
{
    double v = scaled(o, opt, arg, UNITS_TCPKALI_BANDWIDTH, NULL);
    if (zero_ok ? !(v >= 0) : !(v > 0))
        return fail(o, TK_EXIT_USAGE, "Expecting %s > 0", opt);
    *Bps = v;
    return 0;
}

static int on_marker_skip(struct tk_opts *o, const char *arg)
{
    double v = scaled(o, "--latency-marker-skip", arg, UNITS_TCPKALI_COUNT, NULL);
    if (!(v >= 0) || v != floor(v) || v > 1e15)
        return fail(o, TK_EXIT_USAGE, "Expecting --latency-marker-skip >= 0");
    o->cfg.latency_marker_skip = (uint64_t)v;
    return 0;
}

/* ---- the option table ------------------------------------------------------------------ */

enum row_id {
    R_DUMP_ONE = 1,
    R_HELP_SHORT,
    R_CONNECTIONS,
    R_UNESCAPE,
    R_FIRST_MESSAGE,
    R_MESSAGE,
    R_MESSAGE_FILE,
    R_MESSAGE_RATE,
    R_LISTEN_PORT,
    R_V,
    R_WORKERS,
    R_DURATION,
    R_HEADER,
    R_HELP,
    R_VERSION,
    R_VERBOSE,
    R_DUMP_ONE_IN,
    R_DUMP_ONE_OUT,
    R_DUMP_ALL,
    R_DUMP_ALL_IN,
    R_DUMP_ALL_OUT,
    R_NAGLE,
    R_RCVBUF,
    R_SNDBUF,
    R_SOURCE_IP,
    R_WRITE_COMBINE,
    R_WEBSOCKET,
    R_CONNECT_RATE,
    R_CONNECT_TIMEOUT,
    R_CHANNEL_LIFETIME,
    R_BW_UP,
    R_BW_DOWN,
    R_LISTEN_MODE,
    R_FIRST_MESSAGE_FILE,
    R_MESSAGE_STOP,
    R_LATENCY_CONNECT,
    R_LATENCY_FIRST_BYTE,
    R_LATENCY_MARKER,
    R_LATENCY_MARKER_SKIP,
    R_LATENCY_PERCENTILES,
    R_MESSAGE_MARKER,
    R_CLOSED_LOOP,
    R_STATSD,
    R_STATSD_HOST,
    R_STATSD_PORT,
    R_STATSD_NAMESPACE,
    R_STATSD_WINDOW,
    R_JSON,
    R_JSON_STREAM,
    R_SSL,
    R_SSL_CERT,
    R_SSL_KEY,
};

/* Options that take no argument. */
static int on_flag(struct tk_opts *o, int id)
{
    struct tk_config *c = &o->cfg;
    switch (id) {
    case R_DUMP_ONE:
        c->dump |= TK_DUMP_ONE_IN | TK_DUMP_ONE_OUT;
        return 0;
    case R_DUMP_ONE_IN:
        c->dump |= TK_DUMP_ONE_IN;
        return 0;
    case R_DUMP_ONE_OUT:
        c->dump |= TK_DUMP_ONE_OUT;
        return 0;
    case R_DUMP_ALL:
        c->dump |= TK_DUMP_ALL_IN | TK_DUMP_ALL_OUT;
        return 0;
    case R_DUMP_ALL_IN:
        c->dump |= TK_DUMP_ALL_IN;
        return 0;
    case R_DUMP_ALL_OUT:
        c->dump |= TK_DUMP_ALL_OUT;
        return 0;
    case R_HELP_SHORT:
        tk_opts_print_short_help(o, o->out);
        o->help_short = true;
        return STOP_OK;
    case R_HELP:
        tk_opts_print_help(o, o->out);
        o->help_long = true;
        return STOP_OK;
    case R_VERSION:
        fprintf(o->out, "tcpkali version 1.1.1 (netgrind %s)\n", NETGRIND_VERSION);
        o->version = true;
        return STOP_OK;
    case R_UNESCAPE:
        o->unescape = true;
        return 0;
    case R_V:
        if (c->verbose < 3)
            c->verbose++;
        return 0;
    case R_WEBSOCKET:
        c->websocket = true;
        return 0;
    case R_SSL:
        c->ssl = true;
        return 0;
    case R_LATENCY_CONNECT:
        c->latency_connect = true;
        return 0;
    case R_LATENCY_FIRST_BYTE:
        c->latency_first_byte = true;
        return 0;
    case R_MESSAGE_MARKER:
        if (c->latency_marker)
            return fail(o, TK_EXIT_USAGE, "--message-marker: --latency-marker is already "
                                          "specified, use one or the other");
        c->message_marker = true;
        return 0;
    case R_CLOSED_LOOP:
        c->closed_loop = true;
        return 0;
    case R_STATSD:
        c->statsd = true;
        return 0;
    case R_JSON:
        c->json = true;
        return 0;
    case R_JSON_STREAM:
        c->json_stream = true;
        return 0;
    }
    return 0;
}

static int on_row(const struct opt_row *row, const char *arg, void *ctx)
{
    struct tk_opts *o = ctx;
    struct tk_config *c = &o->cfg;
    char why[300];
    if (!arg)
        return on_flag(o, row->id);
    switch (row->id) {
    case R_CONNECTIONS:
        return on_connections(o, arg);
    case R_FIRST_MESSAGE:
        return on_message(o, TK_MSG_FIRST, arg, false, "--first-message");
    case R_MESSAGE:
        return on_message(o, TK_MSG_REPEAT, arg, false, "--message");
    case R_MESSAGE_FILE:
        return on_message(o, TK_MSG_REPEAT, arg, true, "--message-file");
    case R_FIRST_MESSAGE_FILE:
        return on_message(o, TK_MSG_FIRST, arg, true, "--first-message-file");
    case R_MESSAGE_RATE:
        return on_rate(o, arg);
    case R_LISTEN_PORT:
        return on_listen_port(o, arg);
    case R_WORKERS:
        return on_workers(o, arg);
    case R_DURATION:
        return on_duration(o, arg);
    case R_HEADER:
        return on_header(o, arg);
    case R_VERBOSE:
        return on_verbose(o, arg);
    case R_NAGLE:
        return on_nagle(o, arg);
    case R_RCVBUF:
        return on_buffer(o, "--rcvbuf", arg, &c->rcvbuf);
    case R_SNDBUF:
        return on_buffer(o, "--sndbuf", arg, &c->sndbuf);
    case R_SOURCE_IP:
        return on_source_ip(o, arg);
    case R_WRITE_COMBINE:
        return on_write_combine(o, arg);
    case R_CONNECT_RATE:
        return on_connect_rate(o, arg);
    case R_CONNECT_TIMEOUT:
        return on_time(o, "--connect-timeout", arg, false, &c->connect_timeout_ns);
    case R_CHANNEL_LIFETIME:
        c->channel_lifetime_set = true;
        return on_time(o, "--channel-lifetime", arg, true, &c->channel_lifetime_ns);
    case R_BW_UP:
        return on_bandwidth(o, "--channel-bandwidth-upstream", arg, false, &c->bandwidth_up_Bps);
    case R_BW_DOWN:
        /* 0 is allowed downstream ("do not read", the man page's example), although the
         * message says > 0, as the original's. */
        return on_bandwidth(o, "--channel-bandwidth-downstream", arg, true,
                            &c->bandwidth_down_Bps);
    case R_LISTEN_MODE:
        return on_listen_mode(o, arg);
    case R_MESSAGE_STOP:
        return on_message_stop(o, arg);
    case R_LATENCY_MARKER:
        return on_latency_marker(o, arg);
    case R_LATENCY_MARKER_SKIP:
        return on_marker_skip(o, arg);
    case R_LATENCY_PERCENTILES:
        if (tk_parse_percentiles(c, arg, why, sizeof why) < 0)
            return fail(o, TK_EXIT_USAGE, "%s", why);
        return 0;
    case R_STATSD_HOST:
        c->statsd_host = arg;
        return 0;
    case R_STATSD_PORT:
        return on_port(o, "--statsd-port", arg, &c->statsd_port);
    case R_STATSD_NAMESPACE:
        c->statsd_namespace = arg;
        return 0;
    case R_STATSD_WINDOW:
        return on_statsd_window(o, arg);
    case R_SSL_CERT:
        c->ssl_cert = arg;
        c->ssl_cert_given = true;
        return 0;
    case R_SSL_KEY:
        c->ssl_key = arg;
        c->ssl_key_given = true;
        return 0;
    }
    return 0;
}

#define ROW(l, s, a, id) {l, s, OPT_CALL, a, false, "", NULL, NULL, 1, 0, on_row, id}

/* The order of the rows with a short letter makes getopt's short option string exactly
 * tcpkali's: "dhc:e1:m:f:r:l:vw:T:H:". */
static const struct opt_row rows[] = {
    ROW("dump-one", 'd', NULL, R_DUMP_ONE),
    ROW(NULL, 'h', NULL, R_HELP_SHORT),
    ROW("connections", 'c', "N", R_CONNECTIONS),
    ROW("unescape-message-args", 'e', NULL, R_UNESCAPE),
    ROW("first-message", '1', "string", R_FIRST_MESSAGE),
    ROW("message", 'm', "string", R_MESSAGE),
    ROW("message-file", 'f', "name", R_MESSAGE_FILE),
    ROW("message-rate", 'r', "Rate", R_MESSAGE_RATE),
    ROW("listen-port", 'l', "port", R_LISTEN_PORT),
    ROW(NULL, 'v', NULL, R_V),
    ROW("workers", 'w', "N", R_WORKERS),
    ROW("duration", 'T', "Time", R_DURATION),
    ROW("header", 'H', "string", R_HEADER),
    ROW("help", 0, NULL, R_HELP),
    ROW("version", 0, NULL, R_VERSION),
    ROW("verbose", 0, "level", R_VERBOSE),
    ROW("dump-one-in", 0, NULL, R_DUMP_ONE_IN),
    ROW("dump-one-out", 0, NULL, R_DUMP_ONE_OUT),
    ROW("dump-all", 0, NULL, R_DUMP_ALL),
    ROW("dump-all-in", 0, NULL, R_DUMP_ALL_IN),
    ROW("dump-all-out", 0, NULL, R_DUMP_ALL_OUT),
    ROW("nagle", 0, "on|off", R_NAGLE),
    ROW("rcvbuf", 0, "SizeBytes", R_RCVBUF),
    ROW("sndbuf", 0, "SizeBytes", R_SNDBUF),
    ROW("source-ip", 0, "IP", R_SOURCE_IP),
    ROW("write-combine", 0, "off", R_WRITE_COMBINE),
    ROW("websocket", 0, NULL, R_WEBSOCKET),
    ROW("ws", 0, NULL, R_WEBSOCKET),
    ROW("ssl", 0, NULL, R_SSL),
    ROW("ssl-cert", 0, "filename", R_SSL_CERT),
    ROW("ssl-key", 0, "filename", R_SSL_KEY),
    ROW("connect-rate", 0, "Rate", R_CONNECT_RATE),
    ROW("connect-timeout", 0, "Time", R_CONNECT_TIMEOUT),
    ROW("channel-lifetime", 0, "Time", R_CHANNEL_LIFETIME),
    ROW("channel-bandwidth-upstream", 0, "Bandwidth", R_BW_UP),
    ROW("channel-bandwidth-downstream", 0, "Bandwidth", R_BW_DOWN),
    ROW("listen-mode", 0, "mode", R_LISTEN_MODE),
    ROW("first-message-file", 0, "name", R_FIRST_MESSAGE_FILE),
    ROW("message-stop", 0, "string", R_MESSAGE_STOP),
    ROW("latency-connect", 0, NULL, R_LATENCY_CONNECT),
    ROW("latency-first-byte", 0, NULL, R_LATENCY_FIRST_BYTE),
    ROW("latency-marker", 0, "string", R_LATENCY_MARKER),
    ROW("latency-marker-skip", 0, "N", R_LATENCY_MARKER_SKIP),
    ROW("latency-percentiles", 0, "list", R_LATENCY_PERCENTILES),
    ROW("message-marker", 0, NULL, R_MESSAGE_MARKER),
    ROW("closed-loop", 0, NULL, R_CLOSED_LOOP),
    ROW("statsd", 0, NULL, R_STATSD),
    ROW("statsd-host", 0, "host", R_STATSD_HOST),
    ROW("statsd-port", 0, "port", R_STATSD_PORT),
    ROW("statsd-namespace", 0, "string", R_STATSD_NAMESPACE),
    ROW("statsd-latency-window", 0, "T", R_STATSD_WINDOW),
    ROW("json", 0, NULL, R_JSON),
    ROW("json-stream", 0, NULL, R_JSON_STREAM),
};

/* The row a getopt complaint is about: "-c", "--conn" (a unique prefix) or "--statsd=1". */
static const struct opt_row *row_for_word(const char *word)
{
    if (word[0] == '-' && word[1] && word[1] != '-' && !word[2]) {
        for (size_t i = 0; i < ARRAY_LEN(rows); i++)
            if (rows[i].short_name == word[1])
                return &rows[i];
        return NULL;
    }
    if (strncmp(word, "--", 2) != 0)
        return NULL;
    const char *name = word + 2;
    size_t len = strcspn(name, "=");
    const struct opt_row *found = NULL;
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        if (!rows[i].long_name || strncmp(rows[i].long_name, name, len) != 0)
            continue;
        if (strlen(rows[i].long_name) == len)
            return &rows[i];
        if (found)
            return NULL; /* ambiguous */
        found = &rows[i];
    }
    return found;
}

static int on_unknown(const char *word, void *ctx)
{
    struct tk_opts *o = ctx;
    const struct opt_row *r = row_for_word(word);
    if (r && r->arg_name && !strchr(word, '='))
        fail(o, TK_EXIT_USAGE, "%s: option requires an argument", word);
    else if (r && !r->arg_name && strchr(word, '='))
        fail(o, TK_EXIT_USAGE, "%s: option takes no argument", word);
    else
        fail(o, TK_EXIT_USAGE, "%s: unknown option", word);
    if (!o->cfg.json && !o->cfg.json_stream)
        tk_opts_print_help(o, o->out);
    return TK_EXIT_USAGE;
}

bool tk_opts_wants_json(int argc, char **argv, bool *stream)
{
    bool any = false;
    *stream = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--json") == 0)
            any = true;
        else if (strcmp(argv[i], "--json-stream") == 0)
            any = *stream = true;
    }
    return any;
}

bool tk_opts_parse(struct tk_opts *o, int argc, char **argv)
{
    /* Help texts are not printed into a JSON stdout. */
    bool stream = false;
    if (tk_opts_wants_json(argc, argv, &stream)) {
        o->cfg.json = !stream;
        o->cfg.json_stream = stream;
    }
    struct opt_table t = {
        .prog = "tcpkali",
        .usage = NULL,
        .rows = rows,
        .nrows = ARRAY_LEN(rows),
        .ctx = o,
        .usage_exit = TK_EXIT_USAGE,
        .permute = true,
        .unknown = on_unknown,
    };
    int first = argc;
    int rc = opt_parse(&t, argc, argv, &first);
    if (rc == STOP_OK) {
        o->exit_code = TK_EXIT_OK;
        return false;
    }
    if (rc) {
        o->exit_code = rc;
        return false;
    }
    if (o->cfg.npercentiles == 0) {
        char why[200];
        tk_parse_percentiles(&o->cfg, TK_DEFAULT_PERCENTILES, why, sizeof why);
    }
    size_t n = first < argc ? (size_t)(argc - first) : 0;
    o->dest_args = calloc(n ? n : 1, sizeof *o->dest_args);
    if (!o->dest_args) {
        fail(o, TK_EXIT_SOFTWARE, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++)
        o->dest_args[i] = argv[first + (int)i];
    o->ndest_args = n;
    return true;
}

/* ---- cross-checks ---------------------------------------------------------------------- */

unsigned tk_default_workers(const struct tk_config *cfg, unsigned ncpus)
{
    if (ncpus == 0)
        ncpus = 1;
    if (!cfg->listen && cfg->connections < ncpus)
        return cfg->connections ? (unsigned)cfg->connections : 1;
    return ncpus;
}

static double ns_to_s(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* --ssl with -l: the listener's certificate and key must be there (tcpkali 1.2's check and
 * messages, right after the --header check). netgrind exits 66 (EX_NOINPUT), as it does for
 * a certificate that cannot be read or loaded, where tcpkali 1.2 exits 64. Whether the
 * files hold a usable certificate and key is the TLS transport's check, at the start. */
static bool check_ssl_files(struct tk_opts *o)
{
    const struct tk_config *c = &o->cfg;
    if (!c->ssl || !c->listen)
        return true;
    if (access(c->ssl_cert, F_OK) < 0) {
        fail(o, TK_EXIT_NOINPUT, "%s: Can not access X.509 certificate file.", c->ssl_cert);
        return false;
    }
    if (access(c->ssl_key, F_OK) < 0) {
        fail(o, TK_EXIT_NOINPUT, "%s: Can not access SSL private key file", c->ssl_key);
        return false;
    }
    return true;
}

bool tk_opts_check_early(struct tk_opts *o)
{
    struct tk_config *c = &o->cfg;
    if (c->nheaders && !c->websocket) {
        fail(o, TK_EXIT_USAGE, "--header option ignored without --websocket");
        return false;
    }
    if (!check_ssl_files(o))
        return false;
    if (c->rate_search && o->rate_search_unitless && c->rate_search_target_ns > NS_PER_SEC) {
        tk_opts_warn(o, "--message-rate @%s: target latency is greater than one second (%s s)",
                     o->rate_search_arg, o->rate_search_arg);
        fprintf(o->err, "Suggesting using --message-rate @%sms\n", o->rate_search_arg);
    }
    /* -r @Latency searches until it is done, unless -T limits it. */
    if (c->rate_search && !o->duration_given)
        c->duration_ns = UINT64_MAX;
    if (o->workers_given) {
        if (c->workers > o->ncpus) {
            fail(o, TK_EXIT_USAGE, "Value --workers=%u is unreasonably large, only %u CPU%s "
                                   "detected", c->workers, o->ncpus, o->ncpus == 1 ? "" : "s");
            return false;
        }
    } else {
        c->workers = tk_default_workers(c, o->ncpus);
    }
    if (c->statsd_latency_window_ns) {
        uint64_t w = c->statsd_latency_window_ns, t = c->duration_ns;
        if (t != UINT64_MAX && w > t) {
            fail(o, TK_EXIT_USAGE, "--statsd-latency-window=%s exceeds --duration=%s.",
                 o->statsd_window_arg, o->duration_arg);
            return false;
        }
        if (t != UINT64_MAX && w >= t / 2)
            tk_opts_warn(o, "--statsd-latency-window=%s is at least half of --duration=%s, "
                            "expect at most two windows.", o->statsd_window_arg, o->duration_arg);
    }
    return true;
}

/* How many descriptors the run needs: every connection, twice when tcpkali also accepts
 * them itself, plus listeners, eventfds, epoll and stdio. */
static unsigned long fds_needed(const struct tk_opts *o)
{
    const struct tk_config *c = &o->cfg;
    unsigned long conns = o->ndest_args ? (unsigned long)c->connections : 0;
    if (c->listen && conns)
        conns *= 2;
    return conns + 64 + 8ul * (c->workers ? c->workers : 1);
}

bool tk_opts_check_limits(struct tk_opts *o)
{
    const struct tk_config *c = &o->cfg;
    struct tk_syslimits sl;
    tk_syslimits_read(&sl);
    unsigned long need = fds_needed(o);
    unsigned long got = 0;
    if (o->ndest_args == 0)
        need = sl.nofile_hard; /* a sink: as many as allowed */
    sock_raise_nofile(need, &got);
    sl.nofile_soft = got;
    char msg[1024];
    if (o->ndest_args && tk_syslimits_nofile(&sl, c->connections, need, msg, sizeof msg) < 0) {
        note_error(o, "%s", msg);
        fail(o, TK_EXIT_SOFTWARE, "System limits will not support the expected load.");
        return false;
    }
    if (c->rcvbuf && tk_syslimits_buffer("--rcvbuf", "net.core.rmem_max", c->rcvbuf,
                                         sl.rmem_max, msg, sizeof msg) < 0)
        tk_opts_warn(o, "%s", msg);
    if (c->sndbuf && tk_syslimits_buffer("--sndbuf", "net.core.wmem_max", c->sndbuf,
                                         sl.wmem_max, msg, sizeof msg) < 0)
        tk_opts_warn(o, "%s", msg);
    return true;
}

static bool add_dest(struct tk_opts *o, const char *arg, const struct sock_addr *a,
                     const char *path)
{
    struct tk_config *c = &o->cfg;
    struct tk_dest *v = realloc(c->dests, (c->ndests + 1) * sizeof *v);
    if (!v) {
        fail(o, TK_EXIT_SOFTWARE, "out of memory");
        return false;
    }
    c->dests = v;
    struct tk_dest *d = &v[c->ndests++];
    memset(d, 0, sizeof *d);
    snprintf(d->text, sizeof d->text, "%s", arg);
    d->addr = *a;
    d->path = path ? path : "/";
    return true;
}

/* One host:port[/path] operand: every address it resolves to becomes a destination. */
static bool resolve_dest(struct tk_opts *o, const char *arg)
{
    struct addr_endpoint ep;
    char why[300];
    if (addr_parse_endpoint(arg, ADDR_F_PATH, &ep, why, sizeof why) < 0 || !ep.port[0]) {
        if (strstr(why, "port") || !ep.port[0])
            fail(o, TK_EXIT_USAGE, "Expected :port specification. See --help.");
        else
            fail(o, TK_EXIT_USAGE, "%s: %s. See --help.", arg, why);
        return false;
    }
    size_t hp_len = ep.path ? (size_t)(ep.path - arg) : strlen(arg);
    uint16_t port = 0;
    if (strspn(ep.port, "0123456789") == strlen(ep.port) &&
        (addr_parse_port(ep.port, &port) < 0 || port == 0)) {
        fail(o, TK_EXIT_USAGE, "%.*s: port %s is not in [1..65535]", (int)hp_len, arg, ep.port);
        return false;
    }
    struct sock_addr_list l = {0};
    int rc = sock_resolve(ep.host, ep.port, AF_UNSPEC, SOCK_STREAM, AI_ADDRCONFIG, &l, why,
                          sizeof why);
    if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) /* a numeric ::1 on a host without v6 */
        rc = sock_resolve(ep.host, ep.port, AF_UNSPEC, SOCK_STREAM, 0, &l, why, sizeof why);
    if (rc != 0 || l.n == 0) {
        fail(o, TK_EXIT_NOHOST, "tcpkali: Resolving %.*s: %s", (int)hp_len, arg,
             rc ? why : "DNS did not return usable addresses");
        sock_addr_list_free(&l);
        return false;
    }
    char name[SOCK_ADDR_STRLEN + 4];
    for (size_t i = 0; i < l.n; i++) {
        if (!add_dest(o, arg, &l.v[i], ep.path)) {
            sock_addr_list_free(&l);
            return false;
        }
        fprintf(o->err, "Destination: %s\n", tk_addr_format(&l.v[i], name, sizeof name));
    }
    sock_addr_list_free(&l);
    return true;
}

static bool resolve_listen(struct tk_opts *o)
{
    struct tk_config *c = &o->cfg;
    char port[8], why[300], name[SOCK_ADDR_STRLEN + 4];
    snprintf(port, sizeof port, "%u", c->listen_port);
    const char *host = o->listen_host[0] ? o->listen_host : NULL;
    int rc = sock_resolve(host, port, AF_UNSPEC, SOCK_STREAM, AI_PASSIVE, &c->listen_addrs, why,
                          sizeof why);
    if (rc != 0 || c->listen_addrs.n == 0) {
        fail(o, TK_EXIT_NOHOST, "tcpkali: Resolving --listen-port=%s: %s", o->listen_arg,
             rc ? why : "DNS did not return usable addresses");
        return false;
    }
    /* With -l 0 (any free port) the program prints them once the engine has bound. */
    for (size_t i = 0; c->listen_port && i < c->listen_addrs.n; i++)
        fprintf(o->err, "Listen on: %s\n",
                tk_addr_format(&c->listen_addrs.v[i], name, sizeof name));
    return true;
}

bool tk_opts_resolve(struct tk_opts *o)
{
    struct tk_config *c = &o->cfg;
    for (size_t i = 0; i < o->ndest_args; i++)
        if (!resolve_dest(o, o->dest_args[i]))
            return false;
    if (c->ndests) {
        struct tk_syslimits sl;
        tk_syslimits_read(&sl);
        struct tk_syslimits_load load = {
            .connections = c->connections,
            .ndests = c->ndests,
            .dests = c->dests,
            .nsource_ips = c->nsource_ips,
            .churn = c->channel_lifetime_set,
        };
        char msg[1024];
        struct tk_syslimits_verdict v;
        tk_syslimits_check(&sl, &load, &v);
        if (v.ports_short) {
            tk_syslimits_ports_message(&sl, &load, msg, sizeof msg);
            note_error(o, "%s", msg);
            fail(o, TK_EXIT_SOFTWARE, "System limits will not support the expected load.");
            return false;
        }
        if (v.conntrack_short) {
            tk_syslimits_conntrack_message(&sl, &load, msg, sizeof msg);
            tk_opts_warn(o, "%s", msg);
        }
        if (v.time_wait) {
            tk_syslimits_time_wait_message(&sl, &load, msg, sizeof msg);
            tk_opts_warn(o, "%s", msg);
        }
    }
    if (c->listen && !resolve_listen(o))
        return false;
    return true;
}

static size_t repeat_bytes(const struct tk_config *c, size_t *count)
{
    size_t bytes = 0;
    *count = 0;
    for (size_t i = 0; i < c->nmsgs; i++) {
        if (c->msgs[i].kind != TK_MSG_REPEAT)
            continue;
        (*count)++;
        bytes += c->msgs[i].len;
    }
    return bytes;
}

/* --latency-marker, --message-rate and --closed-loop against the messages. */
static bool check_messages(struct tk_opts *o)
{
    struct tk_config *c = &o->cfg;
    size_t nrepeat = 0;
    size_t bytes = repeat_bytes(c, &nrepeat);
    if (c->latency_marker && nrepeat == 0) {
        fail(o, TK_EXIT_USAGE, "--latency-marker is given, but no messages are supposed to be "
                               "sent. Specify --message?");
        return false;
    }
    if (c->latency_marker && c->ndests == 0) {
        fail(o, TK_EXIT_USAGE, "--latency-marker is given, but no connections are supposed to "
                               "be initiated. Specify <host:port>?");
        return false;
    }
    if (c->message_rate > 0 && nrepeat == 0) {
        fail(o, TK_EXIT_USAGE,
             "--message-rate parameter makes no sense without --message or --message-file");
        return false;
    }
    if (c->message_rate > 0 && bytes == 0) {
        fail(o, TK_EXIT_USAGE,
             "--message may resolve to zero length, double-check regular expression");
        return false;
    }
    /* --message-marker measures message latency too (tcpkali 1.2 accepts it here). */
    if (c->rate_search && !c->latency_marker && !c->message_marker) {
        fail(o, TK_EXIT_USAGE,
             "--message-rate @<Latency> requires specifying --latency-marker as well.");
        return false;
    }
    if (c->closed_loop && !c->latency_marker) {
        fail(o, TK_EXIT_USAGE, "--closed-loop requires --latency-marker (the end of each reply)");
        return false;
    }
    if (c->closed_loop && c->rate_search) {
        fail(o, TK_EXIT_USAGE, "--closed-loop and --message-rate @<Latency> can not be used "
                               "together");
        return false;
    }
    return true;
}

bool tk_opts_check_late(struct tk_opts *o)
{
    struct tk_config *c = &o->cfg;
    if (!check_messages(o))
        return false;
    if (!c->write_combine) {
        if (c->nagle < 0) {
            fprintf(o->err, "NOTE: --write-combine=off presumes --nagle=off.\n");
            c->nagle = 0; /* TCP_NODELAY=1; the original set 0 here (bug 2) */
        } else if (c->nagle == 1) {
            tk_opts_warn(o, "--write-combine=off makes little sense with --nagle=on.");
        }
    }
    if (c->ndests == 0 && !c->listen) {
        fail(o, TK_EXIT_USAGE, "Expecting target <host:port> or --listen-port. See -h or --help.");
        if (!c->json && !c->json_stream)
            tk_opts_print_short_help(o, o->out);
        return false;
    }
    if (c->ndests && c->duration_ns != UINT64_MAX) {
        double need = (double)c->connections / c->connect_rate;
        double t = ns_to_s(c->duration_ns);
        bool fatal = need > t;
        if (fatal || need > t / 10) {
            char line[300];
            snprintf(line, sizeof line, "%llu connections %s be opened at a rate %g within test "
                                        "duration %g.",
                     (unsigned long long)c->connections, fatal ? "can not" : "might not",
                     c->connect_rate, t);
            if (fatal)
                note_error(o, "%s", line);
            else
                tk_opts_warn(o, "%s", line);
            char hint[300];
            snprintf(hint, sizeof hint, "Decrease --connections=%llu, or increase --duration=%g "
                                        "or --connect-rate=%g.",
                     (unsigned long long)c->connections, t, c->connect_rate);
            if (fatal) {
                fail(o, TK_EXIT_USAGE, "%s", hint);
                return false;
            }
            fprintf(o->err, "%s\n", hint);
        }
    }
    return true;
}

/* ---- help texts ------------------------------------------------------------------------- */

static const char *bold(const struct tk_opts *o, bool on)
{
    if (!o->tty)
        return "";
    return on ? "\033[1m" : "\033[0m";
}

void tk_opts_print_help(const struct tk_opts *o, FILE *out)
{
    char workers[40];
    int n = snprintf(workers, sizeof workers, "  -w, --workers <N=%u>", o->ncpus);
    fprintf(out,
            "Usage: tcpkali [OPTIONS] [-l <port>] [<host:port>...]\n"
            "Where OPTIONS are:\n"
            "  -h                           Print short help screen, then exit\n"
            "  --help                       Print this help screen, then exit\n"
            "  --version                    Print version number, then exit\n"
            "  -v, --verbose <level=1>      Increase (-v) or set verbosity level [0..3]\n"
            "  -d, --dump-one               Dump i/o data for a single connection\n"
            "  --dump-one-in                Dump incoming data for a single connection\n"
            "  --dump-one-out               Dump outgoing data for a single connection\n"
            "  --dump-{all,all-in,all-out}  Dump i/o data for all connections\n"
            "  --nagle {on|off}             Control Nagle algorithm (set TCP_NODELAY)\n"
            "  --rcvbuf <SizeBytes>         Set TCP receive buffers (set SO_RCVBUF)\n"
            "  --sndbuf <SizeBytes>         Set TCP send buffers (set SO_SNDBUF)\n"
            "  --source-ip <IP>             Use the specified IP address to connect\n"
            "  --write-combine off          Disable batching adjacent writes\n"
            "%s%*sNumber of parallel threads to use\n"
            "\n"
            "  --ws, --websocket            Use RFC6455 WebSocket transport\n"
            "  --ssl                        Enable TLS\n"
            "  --ssl-cert <filename>        X.509 certificate file (default: cert.pem)\n"
            "  --ssl-key <filename>         Private key file (default: key.pem)\n"
            "  -H, --header <string>        Add HTTP header into WebSocket handshake\n"
            "  -c, --connections <N=1>      Connections to keep open to the destinations\n"
            "  --connect-rate <Rate=100>    Limit number of new connections per second\n"
            "  --connect-timeout <Time=1s>  Limit time spent in a connection attempt\n"
            "  --channel-lifetime <Time>    Shut down each connection after Time seconds\n"
            "  --channel-bandwidth-upstream <Bandwidth>     Limit upstream bandwidth\n"
            "  --channel-bandwidth-downstream <Bandwidth>   Limit downstream bandwidth\n"
            "  -l, --listen-port <port>     Listen on the specified port\n"
            "  --listen-mode=<mode>         What to do upon client connect, where <mode> is:\n"
            "               \"silent\"        Do not send data, ignore received data (default)\n"
            "               \"active\"        Actively send messages\n"
            "               \"echo\"          Send back what was received\n"
            "  -T, --duration <Time=10s>    Exit after the specified amount of time\n"
            "\n"
            "  -e, --unescape-message-args  Unescape the message data arguments\n"
            "  -1, --first-message <string> Send this message first, once\n"
            "  --first-message-file <name>  Read the first message from a file\n"
            "  -m, --message <string>       Message to repeatedly send to the remote\n"
            "  -f, --message-file <name>    Read message to send from a file\n"
            "  -r, --message-rate <Rate>    Messages per second to send in a connection\n"
            "  -r, --message-rate @<Latency> Measure a message rate at a given latency\n"
            "  --message-stop <string>      Abort if this string is found in received data\n"
            "\n"
            "  --latency-connect            Measure TCP connection establishment latency\n"
            "  --latency-first-byte         Measure time to first byte latency\n"
            "  --latency-marker <string>    Measure latency using a per-message marker\n"
            "  --latency-marker-skip <N>    Ignore the first N occurrences of a marker\n"
            "  --latency-percentiles <list> Report latency at specified percentiles\n"
            "  --message-marker             Parse markers to calculate latency\n"
            "  --closed-loop                Send the next message after the reply's marker\n"
            "\n"
            "  --statsd                     Enable StatsD output (default disabled)\n"
            "  --statsd-host <host>         StatsD host to send data (default is localhost)\n"
            "  --statsd-port <port>         StatsD port to use (default is 8125)\n"
            "  --statsd-namespace <string>  Metric namespace (default is \"tcpkali\")\n"
            "  --statsd-latency-window <T>  Aggregate latencies in discrete windows\n"
            "\n"
            "  --json                       Print one JSON document at the end\n"
            "  --json-stream                Print one JSON event per line as the test runs\n"
            "\n"
            "Variable units and recognized multipliers:\n"
            "  <N>, <Rate>:  k (1000, as in \"5k\" is 5000), m (1000000)\n"
            "  <SizeBytes>:  k (1024, as in \"5k\" is 5120), m (1024*1024)\n"
            "  <Bandwidth>:  kbps, Mbps (bits per second), kBps, MBps (bytes per second)\n"
            "  <Time>, <Latency>:  ms, s, m, h, d (milliseconds, seconds, minutes, etc)\n"
            "  <Rate>, <Time> and <Latency> can be fractional values, such as 0.25.\n",
            workers, n < 31 ? 31 - n : 1, "");
}

void tk_opts_print_short_help(const struct tk_opts *o, FILE *out)
{
    fprintf(out,
            "Usage: tcpkali [OPTIONS] [-l <port>] [<host:port>...]\n"
            "Where some OPTIONS are:\n"
            "  -h                   Print this help screen, then exit\n"
            "  %s--help%s               Print long help screen, then exit\n"
            "  -d                   Dump i/o data for a single connection\n"
            "\n"
            "  -c <N>               Connections to keep open to the destinations\n"
            "  -l <port>            Listen on the specified port\n"
            "  --ws, --websocket    Use RFC6455 WebSocket transport\n"
            "  -T <Time=10s>        Exit after the specified amount of time\n"
            "\n"
            "  -e                   Unescape backslash-escaping in a message string\n"
            "  -1 <string>          Message to send to the remote host once\n"
            "  -m <string>          Message to repeatedly send to the remote\n"
            "  -r <Rate>            Messages per second to send in a connection\n"
            "\n"
            "Variable units and recognized multipliers:\n"
            "  <N>, <Rate>:  k (1000, as in \"5k\" is 5000), m (1000000)\n"
            "  <Time>:  ms, s, m, h, d (milliseconds, seconds, minutes, hours, days)\n"
            "  <Rate> and <Time> can be fractional values, such as 0.25.\n"
            "\n"
            "Use `tcpkali %s--help%s` or `man tcpkali` for a %sfull set%s of supported options.\n",
            bold(o, true), bold(o, false), bold(o, true), bold(o, false), bold(o, true),
            bold(o, false));
}
