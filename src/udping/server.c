/* udping_server: one-way UDP latency and loss, the receiver (doc/man/udping_server.1).
 * The entry point: the command line (the original's, spec §2.2), socket setup, statsd
 * targets, the privilege drop, the loop, and the clean stop on SIGINT/SIGTERM that emits
 * every open session before exiting 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/clock.h"
#include "core/opt.h"
#include "core/units.h"
#include "core/util.h"
#include "udping/privs.h"
#include "udping/server.h"
#include "udping/udping.h"

/* ---- command line ----------------------------------------------------------------------- */

static const char usage_text[] =
    "Usage: udping_server -l <listen host> -p <port 1024..65535, 0: any free port>\n"
    "                     -k <keepalive 1..60 s> [-r <receive hostname>]\n"
    "                     [-s <statsd host[:port]>] [-t <tag statsd host[:port]>]\n"
    "                     [-m <tag metric name, default \"udping\">] [-v] [-q]\n"
    "                     [--json | --json-stream]\n"
    "  See udping_server(1).\n";

static void usage(void)
{
    fputs(usage_text, stderr);
}

/* A usage error: the message, the usage, status 255 (the original's exit(-1)). */
static int usage_error(struct udping_server *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(struct udping_server *srv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(srv->error, sizeof srv->error, fmt, ap);
    va_end(ap);
    fprintf(stderr, UDPING_PROG ": %s\n", srv->error);
    usage();
    srv->exit_code = UDPING_EXIT_USAGE;
    return UDPING_EXIT_USAGE;
}

static int on_unknown(const char *word, void *ctx)
{
    struct udping_server *srv = ctx;
    snprintf(srv->error, sizeof srv->error, "bad command-line option %s", word);
    usage();
    return UDPING_EXIT_USAGE;
}

enum {
    ROW_HELP,
    ROW_L,
    ROW_P,
    ROW_K,
    ROW_R,
    ROW_S,
    ROW_T,
    ROW_M,
    ROW_V,
    ROW_Q,
    ROW_JSON,
    ROW_STREAM,
    ROW_N
};

static const struct opt_row rows_template[ROW_N] = {
    [ROW_HELP] = {"help", 'h', OPT_FLAG, NULL, false, "print the usage and exit", NULL, NULL, 1, 0,
                  NULL, 0},
    [ROW_L] = {NULL, 'l', OPT_STRING, "host", false, "listen host", NULL, NULL, 1, 0, NULL, 0},
    [ROW_P] = {NULL, 'p', OPT_STRING, "port", false, "port", NULL, NULL, 1, 0, NULL, 0},
    [ROW_K] = {NULL, 'k', OPT_STRING, "s", false, "keepalive", NULL, NULL, 1, 0, NULL, 0},
    [ROW_R] = {NULL, 'r', OPT_STRING, "host", false, "receive hostname", NULL, NULL, 1, 0, NULL,
               0},
    [ROW_S] = {NULL, 's', OPT_STRING, "host[:port]", false, "statsd", NULL, NULL, 1, 0, NULL, 0},
    [ROW_T] = {NULL, 't', OPT_STRING, "host[:port]", false, "tag statsd", NULL, NULL, 1, 0, NULL,
               0},
    [ROW_M] = {NULL, 'm', OPT_STRING, "name", false, "tag metric", "udping", NULL, 1, 0, NULL, 0},
    [ROW_V] = {NULL, 'v', OPT_FLAG, NULL, false, "a line per packet", NULL, NULL, 1, 0, NULL, 0},
    [ROW_Q] = {NULL, 'q', OPT_FLAG, NULL, false, "no JSON lines", NULL, NULL, 1, 0, NULL, 0},
    [ROW_JSON] = {"json", 0, OPT_FLAG, NULL, false, "one JSON document at exit", NULL, NULL, 1, 0,
                  NULL, 0},
    [ROW_STREAM] = {"json-stream", 0, OPT_FLAG, NULL, false, "one JSON event per line", NULL,
                    NULL, 1, 0, NULL, 0},
};

/* --json / --json-stream before parsing, so that even a usage error is reported as JSON. */
static void scan_json(struct udping_server *srv, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--json") == 0)
            srv->cfg.json = true;
        else if (strcmp(argv[i], "--json-stream") == 0)
            srv->cfg.json_stream = true;
    }
    if (srv->cfg.json_stream)
        srv->cfg.json = false;
}

static int check_values(struct udping_server *srv, int argc, char **argv, int first)
{
    struct udping_server_config *c = &srv->cfg;
    char why[200];
    uint64_t v;
    if (first < argc)
        return usage_error(srv, "unexpected argument '%s'", argv[first]);
    if (!c->listen_host)
        return usage_error(srv, "missing -l (listen host)");
    if (!c->port_text)
        return usage_error(srv, "missing -p (port)");
    if (!c->keepalive_text)
        return usage_error(srv, "missing -k (keepalive)");
    if (units_parse_u64(c->port_text, 0, 65535, &v, why, sizeof why) < 0 || (v != 0 && v < 1024))
        return usage_error(srv, "invalid port '%s' (1024..65535, or 0 for any free port)",
                           c->port_text);
    c->port = (unsigned)v;
    if (units_parse_u64(c->keepalive_text, 1, 60, &v, why, sizeof why) < 0)
        return usage_error(srv, "invalid keepalive '%s' (1..60 seconds)", c->keepalive_text);
    c->keepalive = (unsigned)v;
    if (c->listen_host[0] == '\0')
        return usage_error(srv, "empty listen host");
    if (c->metric && c->metric[0] == '\0')
        return usage_error(srv, "empty tag metric name");
    if (c->recv_host && c->recv_host[0] == '\0')
        return usage_error(srv, "empty receive hostname");
    return 0;
}

static int parse_args(struct udping_server *srv, int argc, char **argv)
{
    struct udping_server_config *c = &srv->cfg;
    bool json = c->json, stream = c->json_stream;
    struct opt_row rows[ROW_N];
    memcpy(rows, rows_template, sizeof rows);
    rows[ROW_HELP].dest = &c->help;
    rows[ROW_L].dest = &c->listen_host;
    rows[ROW_P].dest = &c->port_text;
    rows[ROW_K].dest = &c->keepalive_text;
    rows[ROW_R].dest = &c->recv_host;
    rows[ROW_S].dest = &c->statsd;
    rows[ROW_T].dest = &c->tag_statsd;
    rows[ROW_M].dest = &c->metric;
    rows[ROW_V].dest = &c->verbose;
    rows[ROW_Q].dest = &c->quiet;
    rows[ROW_JSON].dest = &json;
    rows[ROW_STREAM].dest = &stream;
    struct opt_table t = {
        .prog = UDPING_PROG,
        .usage = usage_text,
        .rows = rows,
        .nrows = ROW_N,
        .ctx = srv,
        .usage_exit = UDPING_EXIT_USAGE,
        .permute = true,
        .unknown = on_unknown,
    };
    int first = argc;
    char *argv0 = argc > 0 ? argv[0] : NULL;
    if (argc > 0)
        argv[0] = (char *)UDPING_PROG; /* getopt's messages name the program so */
    int rc = opt_parse(&t, argc, argv, &first);
    if (argc > 0)
        argv[0] = argv0;
    if (rc) {
        srv->exit_code = rc;
        if (!srv->error[0])
            snprintf(srv->error, sizeof srv->error, "bad command line");
        return rc;
    }
    if (c->help)
        return 0;
    return check_values(srv, argc, argv, first);
}

/* ---- setup ------------------------------------------------------------------------------ */

static int fail(struct udping_server *srv, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct udping_server *srv, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(srv->error, sizeof srv->error, fmt, ap);
    va_end(ap);
    fprintf(stderr, UDPING_PROG ": %s\n", srv->error);
    srv->exit_code = code;
    return code;
}

/* The first IPv4 address of the resolver's answer (the original bound IPv4 only), else the
 * first address. */
static int resolve_one(const char *host, const char *port, int family, int flags,
                       struct sock_addr *out, char *err, size_t errlen)
{
    struct sock_addr_list l = {0};
    int rc = sock_resolve(host, port, family, SOCK_DGRAM, flags, &l, err, errlen);
    if (rc != 0 || l.n == 0) {
        if (rc == 0)
            snprintf(err, errlen, "no address");
        sock_addr_list_free(&l);
        return -1;
    }
    *out = l.v[0];
    for (size_t i = 0; i < l.n; i++) {
        if (sock_addr_family(&l.v[i]) == AF_INET) {
            *out = l.v[i];
            break;
        }
    }
    sock_addr_list_free(&l);
    return 0;
}

static int open_socket(struct udping_server *srv, struct sock_addr *listen_addr)
{
    char port[8], why[256];
    snprintf(port, sizeof port, "%u", srv->cfg.port);
    if (resolve_one(srv->cfg.listen_host, port, AF_UNSPEC, AI_PASSIVE, listen_addr, why,
                    sizeof why) < 0)
        return fail(srv, UDPING_EXIT_NOHOST, "cannot resolve listen host %s: %s",
                    srv->cfg.listen_host, why);
    int family = sock_addr_family(listen_addr);
    srv->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv->fd < 0)
        return fail(srv, UDPING_EXIT_OSERR, "socket: %s", strerror(errno));
    /* sock_bind passes the address's own length (IPv6 too), unlike the original. */
    if (sock_bind(srv->fd, listen_addr, why, sizeof why) < 0)
        return fail(srv, UDPING_EXIT_OSERR, "%s", why);
    if (sock_local_addr(srv->fd, &srv->bound) < 0)
        return fail(srv, UDPING_EXIT_OSERR, "getsockname: %s", strerror(errno));
    srv->to_port = sock_addr_port(&srv->bound);
    sock_addr_format(&srv->bound, srv->bound_text, sizeof srv->bound_text);
    if (udping_rx_setup(srv) < 0)
        return fail(srv, UDPING_EXIT_OSERR, "out of memory");
    return 0;
}

/* -r (default -l): a literal is reverse-resolved; then '.' becomes '_'. */
static void set_to_host(struct udping_server *srv)
{
    const char *name = srv->cfg.recv_host ? srv->cfg.recv_host : srv->cfg.listen_host;
    char host[NI_MAXHOST];
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    socklen_t len = 0;
    if (inet_pton(AF_INET, name, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        len = sizeof *s4;
    } else if (inet_pton(AF_INET6, name, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        len = sizeof *s6;
    }
    if (len && getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, NULL, 0,
                           NI_NAMEREQD) == 0)
        name = host;
    udping_out_underscore(srv->to_host, sizeof srv->to_host, name);
}

/* One statsd target "host[:port]", sent from <listen host>:0. */
static int open_statsd(struct udping_server *srv, struct udping_statsd_target *t, const char *spec,
                       const char *opt, const struct sock_addr *listen_addr)
{
    struct addr_endpoint ep;
    char why[300];
    if (addr_parse_endpoint(spec, ADDR_F_PORT_OPTIONAL, &ep, why, sizeof why) < 0 ||
        ep.host[0] == '\0')
        return usage_error(srv, "invalid statsd address '%s'", spec);
    const char *port = ep.port[0] ? ep.port : "8125";
    uint16_t port_num;
    if (ep.port[0] && (addr_parse_port(ep.port, &port_num) < 0 || port_num == 0))
        return usage_error(srv, "invalid statsd address '%s'", spec);
    struct sock_addr_list l = {0};
    if (sock_resolve(ep.host, port, AF_UNSPEC, SOCK_DGRAM, 0, &l, why, sizeof why) != 0 ||
        l.n == 0) {
        sock_addr_list_free(&l);
        return fail(srv, UDPING_EXIT_NOHOST, "cannot resolve statsd host %s (%s): %s", spec, opt,
                    l.n == 0 && why[0] == '\0' ? "no address" : why);
    }
    /* The address in the listen socket's family, so that the source can be bound. */
    const struct sock_addr *dst = &l.v[0];
    for (size_t i = 0; i < l.n; i++) {
        if (sock_addr_family(&l.v[i]) == sock_addr_family(listen_addr)) {
            dst = &l.v[i];
            break;
        }
    }
    struct sock_addr src = *listen_addr;
    sock_addr_set_port(&src, 0);
    bool bind_src = sock_addr_family(dst) == sock_addr_family(&src);
    int rc = statsd_sender_open(&t->sender, (const struct sockaddr *)&dst->ss, dst->len,
                                bind_src ? (const struct sockaddr *)&src.ss : NULL,
                                bind_src ? src.len : 0, why, sizeof why);
    sock_addr_list_free(&l);
    if (rc < 0)
        return fail(srv, UDPING_EXIT_OSERR, "statsd (%s): %s", opt, why);
    statsd_batch_init(&t->batch, STATSD_DATAGRAM_MAX, statsd_sender_send, &t->sender);
    t->on = true;
    return 0;
}

/* As root, become nobody after binding, as the original does: it exits when there is no
 * such user, and goes on (with a warning) when the switch itself fails. */
static int drop_privileges(struct udping_server *srv)
{
    if (geteuid() != 0)
        return 0;
    char why[256];
    int rc = udping_drop_privileges(why, sizeof why);
    if (rc == -ENOENT)
        return fail(srv, UDPING_EXIT_USAGE, "cannot drop privileges: user nobody does not exist");
    if (rc < 0)
        fprintf(stderr, UDPING_PROG ": warning: %s\n", why);
    return 0;
}

static void on_signal(struct loop *loop, struct loop_signal *s, int signo)
{
    (void)s;
    (void)signo;
    loop_stop(loop);
}

static int setup(struct udping_server *srv)
{
    char err[300];
    srv->loop = loop_new(err, sizeof err);
    if (!srv->loop)
        return fail(srv, UDPING_EXIT_OSERR, "%s", err);
    loop_set_spin_threshold(srv->loop, 0); /* second-scale timers: never spin for them */
    loop_timer_init(&srv->warn_timer, udping_warn_on_timer);
    struct sock_addr listen_addr;
    int rc = open_socket(srv, &listen_addr);
    if (rc)
        return rc;
    set_to_host(srv);
    if (srv->cfg.statsd && (rc = open_statsd(srv, &srv->plain, srv->cfg.statsd, "-s",
                                             &listen_addr)) != 0)
        return rc;
    if (srv->cfg.tag_statsd && (rc = open_statsd(srv, &srv->tagged, srv->cfg.tag_statsd, "-t",
                                                 &listen_addr)) != 0)
        return rc;
    if (udping_table_init(&srv->table, (uint64_t)srv->cfg.keepalive * NS_PER_SEC,
                          (int64_t)clock_real_ns()) < 0)
        return fail(srv, UDPING_EXIT_OSERR, "out of memory");
    srv->table.on_timer = udping_out_on_timer;
    srv->table_ready = true;
    static const int sigs[] = {SIGINT, SIGTERM};
    if (loop_signal_add(srv->loop, &srv->sig, sigs, ARRAY_LEN(sigs), on_signal, err, sizeof err) <
        0)
        return fail(srv, UDPING_EXIT_OSERR, "%s", err);
    srv->sig_added = true;
    if (loop_add_fd(srv->loop, &srv->rx, srv->fd, EPOLLIN, udping_rx_on_events) < 0)
        return fail(srv, UDPING_EXIT_OSERR, "epoll: %s", strerror(errno));
    srv->rx_added = true;
    if ((rc = drop_privileges(srv)) != 0)
        return rc;
    bool no_thread = false;
    srv->names = udping_names_new(srv->loop, true, &no_thread);
    if (!srv->names)
        return fail(srv, UDPING_EXIT_OSERR, "out of memory");
    if (no_thread)
        fprintf(stderr, UDPING_PROG ": warning: no resolver thread; source names stay numeric\n");
    return 0;
}

/* ---- run -------------------------------------------------------------------------------- */

static int run(struct udping_server *srv)
{
    int rc = setup(srv);
    if (rc)
        return rc;
    fprintf(stderr, UDPING_PROG ": listening on %s\n", srv->bound_text);
    udping_out_listening(srv);
    if (loop_run(srv->loop) < 0)
        fail(srv, UDPING_EXIT_OSERR, "epoll_wait: %s", strerror(errno));
    /* Stopping: let lookups in flight finish (bounded), store the answers already posted,
     * then emit every open session with the names known now. */
    if (udping_names_pending(srv->names))
        udping_names_close(srv->names, UDPING_NAME_WAIT_NS);
    else
        udping_names_close(srv->names, 0);
    loop_run_posted(srv->loop);
    udping_out_emit_all(srv);
    udping_warn_flush(srv);
    return srv->exit_code;
}

static void cleanup(struct udping_server *srv)
{
    if (srv->table_ready) {
        /* emit_all has emptied the table on a normal stop; on a failed start it is empty */
        while (srv->table.head) {
            struct udping_summary u;
            struct udping_session *s = srv->table.head;
            loop_timer_cancel(srv->loop, &s->timer);
            udping_table_close(&srv->table, s, UDPING_TRIGGER_EXIT, &u);
        }
        udping_table_free(&srv->table);
    }
    if (srv->rx_added)
        loop_del_fd(srv->loop, &srv->rx);
    if (srv->sig_added)
        loop_signal_del(srv->loop, &srv->sig);
    if (srv->names) {
        udping_names_close(srv->names, 0);
        if (srv->loop)
            loop_run_posted(srv->loop);
        udping_names_free(srv->names);
    }
    if (srv->loop) {
        loop_timer_cancel(srv->loop, &srv->warn_timer);
        loop_free(srv->loop);
    }
    if (srv->fd >= 0)
        close(srv->fd);
    if (srv->plain.on)
        statsd_sender_close(&srv->plain.sender);
    if (srv->tagged.on)
        statsd_sender_close(&srv->tagged.sender);
    udping_rx_free(srv);
    udping_out_free(srv);
}

int udping_server_main(int argc, char **argv)
{
    struct udping_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        fprintf(stderr, UDPING_PROG ": out of memory\n");
        return UDPING_EXIT_OSERR;
    }
    srv->fd = -1;
    scan_json(srv, argc, argv);
    if (srv->cfg.json_stream)
        json_init(&srv->stream, stdout, false);
    int rc = parse_args(srv, argc, argv);
    if (rc == 0 && srv->cfg.help) {
        usage();
        free(srv);
        return 0;
    }
    if (rc == 0)
        rc = run(srv);
    srv->exit_code = rc;
    udping_out_final(srv);
    cleanup(srv);
    free(srv);
    return rc;
}
