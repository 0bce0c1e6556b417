/* udping_client: one-way UDP latency and loss, the sender (doc/man/udping_client.1). The
 * entry point: parse the command line, open the sockets (socket mode) or the packet socket
 * (raw mode), run every port on one event loop until a signal, --duration or --count,
 * then print the stop summary and the JSON document. */
#include "udping/client.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/util.h"
#include "core/version.h"
#include "udping/udping.h"

/* ---- socket mode ---------------------------------------------------------------------- */

/* An error the kernel reports on a connected UDP socket for an earlier datagram (an ICMP
 * message came back), not for the one being sent. */
static bool is_async_icmp_error(int e)
{
    return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN ||
           e == ENONET || e == EPROTO;
}

static int socket_send_one(struct udping_client *c, struct udping_port *p, uint8_t *slot,
                           size_t len, const uint8_t *mac)
{
    (void)mac;
    for (int attempt = 0;; attempt++) {
        ssize_t n = send(p->fd, slot + FRAME_PAYLOAD_OFF, len, MSG_NOSIGNAL);
        if (n >= 0)
            return (size_t)n == len ? 0 : -EMSGSIZE;
        int e = errno;
        /* The pending error is consumed by the failed call: report it and send again, so
         * that an ICMP message about one datagram does not drop the next. */
        if (attempt == 0 && is_async_icmp_error(e)) {
            udping_client_icmp_error(c, p, e);
            continue;
        }
        return -e;
    }
}

/* Resolves -r and -l and picks the first remote address whose family -l also has. */
static int resolve_pair(const struct udping_client_config *cfg, struct sock_addr *local,
                        struct sock_addr *remote, char *err, size_t errlen)
{
    struct sock_addr_list ll = {0}, rl = {0};
    char why[256], port[16];
    snprintf(port, sizeof port, "%lld", cfg->remote_port);
    int rc = sock_resolve(cfg->local, "0", AF_UNSPEC, SOCK_DGRAM, 0, &ll, why, sizeof why);
    if (rc != 0 || ll.n == 0) {
        snprintf(err, errlen, "cannot resolve -l %.200s: %.100s", cfg->local, rc ? why : "no address");
        goto fail;
    }
    rc = sock_resolve(cfg->remote, port, AF_UNSPEC, SOCK_DGRAM, 0, &rl, why, sizeof why);
    if (rc != 0 || rl.n == 0) {
        snprintf(err, errlen, "cannot resolve -r %.200s: %.100s", cfg->remote, rc ? why : "no address");
        goto fail;
    }
    for (size_t i = 0; i < rl.n; i++) {
        for (size_t j = 0; j < ll.n; j++) {
            if (sock_addr_family(&rl.v[i]) == sock_addr_family(&ll.v[j])) {
                *remote = rl.v[i];
                *local = ll.v[j];
                sock_addr_list_free(&ll);
                sock_addr_list_free(&rl);
                return 0;
            }
        }
    }
    snprintf(err, errlen, "-l %.200s and -r %.200s have no address family in common", cfg->local,
             cfg->remote);
fail:
    sock_addr_list_free(&ll);
    sock_addr_list_free(&rl);
    return -EINVAL;
}

/* One socket per source port, bound to local:port and connected to the server. */
static int open_port_sockets(struct udping_client *c, const struct sock_addr *local,
                             const struct sock_addr *remote, char *err, size_t errlen)
{
    unsigned long got = 0;
    unsigned long need = c->nports + 64;
    if (sock_raise_nofile(need, &got) < 0 || got < need) {
        snprintf(err, errlen, "%zu ports need about %lu file descriptors, but RLIMIT_NOFILE "
                 "allows %lu (raise it with ulimit -n)", c->nports, need, got);
        return -EMFILE;
    }
    for (size_t i = 0; i < c->nports; i++) {
        struct udping_port *p = &c->ports[i];
        int fd = socket(sock_addr_family(local), SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            int e = errno;
            snprintf(err, errlen, "socket: %s", strerror(e));
            return -e;
        }
        p->fd = fd;
        struct sock_addr a = *local;
        sock_addr_set_port(&a, p->port);
        if (bind(fd, (const struct sockaddr *)&a.ss, a.len) < 0) {
            int e = errno;
            char text[SOCK_ADDR_STRLEN];
            snprintf(err, errlen, "bind to %s: %s", sock_addr_format(&a, text, sizeof text),
                     strerror(e));
            return -e;
        }
        int rc = sock_connect(fd, remote, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int setup_socket_mode(struct udping_client *c, char *err, size_t errlen)
{
    struct sock_addr local, remote;
    if (resolve_pair(c->cfg, &local, &remote, err, errlen) < 0)
        return UDPING_CLIENT_EXIT_NOHOST;
    sock_addr_host(&local, c->local_text, sizeof c->local_text);
    sock_addr_format(&remote, c->remote_text, sizeof c->remote_text);
    if (open_port_sockets(c, &local, &remote, err, errlen) < 0)
        return UDPING_CLIENT_EXIT_OSERR;
    c->send_one = socket_send_one;
    if (geteuid() == 0) {
        char why[256];
        int rc = udping_drop_privileges(why, sizeof why);
        if (rc == -ENOENT)
            fprintf(stderr, "%s: warning: %s; going on as root\n", UDPING_CLIENT_PROG, why);
        else if (rc < 0) {
            snprintf(err, errlen, "%s", why);
            return UDPING_CLIENT_EXIT_OSERR;
        }
    }
    return 0;
}

/* ---- raw mode ------------------------------------------------------------------------- */

static int setup_raw_mode(struct udping_client *c, FILE *info, char *err, size_t errlen)
{
    const struct udping_client_config *cfg = c->cfg;
    if (geteuid() != 0) {
        snprintf(err, errlen, "udping_client must run as root");
        return UDPING_CLIENT_EXIT_USAGE;
    }
    struct sock_addr_list rl = {0};
    char why[256], port[16];
    snprintf(port, sizeof port, "%lld", cfg->remote_port);
    int rc = sock_resolve(cfg->remote, port, AF_INET, SOCK_DGRAM, 0, &rl, why, sizeof why);
    if (rc != 0 || rl.n == 0) {
        snprintf(err, errlen, "cannot resolve -r %.200s (IPv4): %.100s", cfg->remote,
                 rc ? why : "no address");
        sock_addr_list_free(&rl);
        return UDPING_CLIENT_EXIT_NOHOST;
    }
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&rl.v[0].ss;
    c->addrs.dst_ip = ntohl(sin->sin_addr.s_addr);
    c->addrs.dst_port = (uint16_t)cfg->remote_port;
    sock_addr_format(&rl.v[0], c->remote_text, sizeof c->remote_text);
    sock_addr_list_free(&rl);
    snprintf(c->local_text, sizeof c->local_text, "%s", cfg->local);
    rc = udping_raw_setup(c, info, err, errlen);
    if (rc)
        return rc;
    if (udping_drop_privileges(err, errlen) < 0)
        return UDPING_CLIENT_EXIT_OSERR;
    c->send_one = udping_raw_send_one;
    c->send_batch = udping_raw_send_batch;
    return 0;
}

/* ---- the loop ------------------------------------------------------------------------- */

void udping_client_stop(struct udping_client *c)
{
    if (c->stopping)
        return;
    c->stopping = true;
    c->stop_mono_ns = clock_mono_ns();
    for (size_t i = 0; i < c->nports; i++) {
        if (c->loop)
            loop_timer_cancel(c->loop, &c->ports[i].timer);
        udping_port_end_guid(c, &c->ports[i]);
    }
    if (c->loop) {
        loop_timer_cancel(c->loop, &c->period_timer);
        loop_timer_cancel(c->loop, &c->pump_timer);
        loop_timer_cancel(c->loop, &c->stop_timer);
        loop_stop(c->loop);
    }
}

/* Arms the period timer for the wall-clock second c->period_end_s, through the monotonic
 * clock (the loop's timers are monotonic): re-checked against the wall clock on expiry. */
static void arm_period_timer(struct udping_client *c)
{
    uint64_t real = clock_real_ns();
    uint64_t mono = clock_mono_ns();
    uint64_t end = (uint64_t)c->period_end_s * NS_PER_SEC;
    loop_timer_arm(c->loop, &c->period_timer, end > real ? mono + (end - real) : mono);
}

static void on_period_end(struct loop *loop, struct loop_timer *t)
{
    (void)loop;
    struct udping_client *c = container_of(t, struct udping_client, period_timer);
    int64_t now_s = (int64_t)(clock_real_ns() / NS_PER_SEC);
    if (now_s >= c->period_end_s) {
        /* Ports that sent since the boundary have rolled over already. */
        uint64_t now = (uint64_t)now_s * NS_PER_SEC;
        for (size_t i = 0; i < c->nports; i++)
            udping_port_roll_if_due(c, &c->ports[i], now);
        c->period_end_s = udping_period_end(now_s, c->cfg->interval_s);
    }
    arm_period_timer(c); /* early (the wall clock was stepped back): wait for the rest */
}

static void on_pump(struct loop *loop, struct loop_timer *t)
{
    struct udping_client *c = container_of(t, struct udping_client, pump_timer);
    udping_client_pump(c);
    if (c->cfg->count && c->ports_done == c->nports)
        udping_client_stop(c);
    else
        loop_timer_arm(loop, t, 0); /* the next batch after one look at signals and timers */
}

static void on_stop_timer(struct loop *loop, struct loop_timer *t)
{
    (void)loop;
    udping_client_stop(container_of(t, struct udping_client, stop_timer));
}

static void on_signal(struct loop *loop, struct loop_signal *s, int signo)
{
    (void)loop;
    (void)signo;
    udping_client_stop(container_of(s, struct udping_client, sig));
}

static void print_ports(const struct udping_client *c, FILE *info)
{
    if (!c->cfg->verbose)
        return;
    for (size_t i = 0; i < c->nports; i++)
        fprintf(info, "Adding port %u\n", c->ports[i].port);
    fflush(info);
}

/* Seeds, GUIDs and schedules for every port, and the timers. */
static int start_ports(struct udping_client *c)
{
    const struct udping_client_config *cfg = c->cfg;
    uint64_t x = c->seed;
    rng_seed(&c->rng, rng_splitmix64(&x));
    c->client_start = (int64_t)time(NULL);
    c->start_mono_ns = clock_mono_ns();
    c->period_end_s = udping_period_end((int64_t)(clock_real_ns() / NS_PER_SEC), cfg->interval_s);
    for (size_t i = 0; i < c->nports; i++) {
        int fd = c->ports[i].fd;
        udping_port_init(c, &c->ports[i], cfg->ports[i], cfg->delay_ms, rng_splitmix64(&x),
                         c->start_mono_ns);
        c->ports[i].fd = fd;
        c->ports[i].period_end_s = c->period_end_s;
        if (cfg->delay_ms > 0 &&
            loop_timer_arm(c->loop, &c->ports[i].timer, pace_sched_next(&c->ports[i].sched)) < 0)
            return -ENOMEM;
    }
    loop_timer_init(&c->pump_timer, on_pump);
    if (cfg->delay_ms == 0 && loop_timer_arm(c->loop, &c->pump_timer, 0) < 0)
        return -ENOMEM;
    loop_timer_init(&c->period_timer, on_period_end);
    arm_period_timer(c);
    loop_timer_init(&c->stop_timer, on_stop_timer);
    if (cfg->duration_s > 0) {
        uint64_t ns = (uint64_t)(cfg->duration_s * (double)NS_PER_SEC + 0.5);
        if (loop_timer_arm(c->loop, &c->stop_timer, c->start_mono_ns + ns) < 0)
            return -ENOMEM;
    }
    return 0;
}

static FILE *info_stream(const struct udping_client_config *cfg)
{
    return cfg->json ? stderr : stdout; /* with --json, stdout holds the document alone */
}

/* Everything from a parsed command line to the end of the run. Returns the exit code. */
static int run(struct udping_client *c, char *err, size_t errlen)
{
    const struct udping_client_config *cfg = c->cfg;
    c->seed = cfg->seed_set ? cfg->seed : rng_entropy_seed();
    c->keep_history = cfg->json;
    c->packet_fd = -1;
    c->nports = cfg->nports;
    c->ports = calloc(c->nports, sizeof *c->ports);
    c->slots = calloc(UDPING_NSLOTS, UDPING_SLOT_LEN);
    if (!c->ports || !c->slots) {
        snprintf(err, errlen, "out of memory");
        return UDPING_CLIENT_EXIT_SOFTWARE;
    }
    for (size_t i = 0; i < c->nports; i++) {
        c->ports[i].fd = -1;
        c->ports[i].port = cfg->ports[i];
    }
    c->loop = loop_new(err, errlen);
    if (!c->loop)
        return UDPING_CLIENT_EXIT_OSERR;
    loop_set_spin_threshold(c->loop, 0); /* the timers wake on time; no CPU burnt waiting */
    static const int signals[] = {SIGINT, SIGTERM};
    if (loop_signal_add(c->loop, &c->sig, signals, ARRAY_LEN(signals), on_signal, err, errlen) < 0)
        return UDPING_CLIENT_EXIT_OSERR;
    FILE *info = cfg->quiet ? NULL : info_stream(cfg);
    int rc = cfg->raw ? setup_raw_mode(c, info, err, errlen)
                      : setup_socket_mode(c, err, errlen);
    if (rc)
        return rc;
    print_ports(c, info_stream(cfg));
    if (start_ports(c) < 0) {
        snprintf(err, errlen, "out of memory");
        return UDPING_CLIENT_EXIT_SOFTWARE;
    }
    c->started = true;
    rc = loop_run(c->loop);
    if (rc < 0) {
        snprintf(err, errlen, "event loop: %s", strerror(-rc));
        if (!c->stop_mono_ns)
            c->stop_mono_ns = clock_mono_ns();
        return UDPING_CLIENT_EXIT_OSERR;
    }
    return 0;
}

/* ---- output --------------------------------------------------------------------------- */

static double run_seconds(const struct udping_client *c)
{
    if (!c->started)
        return 0;
    return (double)(c->stop_mono_ns - c->start_mono_ns) / (double)NS_PER_SEC;
}

/* The stop summary (not with -q) and the failure count (always: failures are warnings). */
static void print_summary(const struct udping_client *c, bool quiet)
{
    if (!quiet)
        fprintf(stderr, "%s: sent %llu packets (%llu control) from %zu ports in %.3f s\n",
                UDPING_CLIENT_PROG, (unsigned long long)(c->data_sent + c->control_sent),
                (unsigned long long)c->control_sent, c->nports, run_seconds(c));
    if (c->errors)
        fprintf(stderr, "%s: %llu sends failed (last error: %s)\n", UDPING_CLIENT_PROG,
                (unsigned long long)c->errors, strerror(c->last_errno));
    if (c->icmp_errors)
        fprintf(stderr, "%s: %llu ICMP errors reported (last: %s)\n", UDPING_CLIENT_PROG,
                (unsigned long long)c->icmp_errors, strerror(c->last_icmp_errno));
}

static void json_port(struct json *j, const struct udping_port *p)
{
    json_object_begin(j);
    json_kv_u64(j, "port", p->port);
    json_kv_u64(j, "data_packets_sent", p->data_sent);
    json_kv_u64(j, "control_packets_sent", p->control_sent);
    json_kv_u64(j, "bytes_sent", p->bytes);
    json_kv_u64(j, "send_errors", p->errors);
    json_kv_u64(j, "next_seq", p->seq);
    json_key(j, "guids");
    json_array_begin(j);
    for (size_t g = 0; g < p->nhist; g++) {
        json_object_begin(j);
        json_kv_string(j, "guid", p->hist[g].guid);
        json_kv_u64(j, "first_seq", p->hist[g].first_seq);
        json_kv_u64(j, "data_packets_sent", p->hist[g].data_sent);
        json_kv_bool(j, "control_sent", p->hist[g].control_sent);
        json_object_end(j);
    }
    json_array_end(j);
    json_object_end(j);
}

/* The --json document; cfg may be partly filled (an error while parsing). */
static void print_json(const struct udping_client *c, const struct udping_client_config *cfg,
                       const char *error)
{
    struct json j;
    json_init(&j, stdout, true);
    json_object_begin(&j);
    json_kv_string(&j, "program", UDPING_CLIENT_PROG);
    json_kv_string(&j, "version", NETGRIND_VERSION);
    if (c) {
        json_kv_string(&j, "mode", cfg->raw ? "raw" : "socket");
        json_kv_string(&j, "local", c->local_text[0] ? c->local_text : cfg->local);
        json_kv_string(&j, "remote", c->remote_text[0] ? c->remote_text : cfg->remote);
        json_kv_string(&j, "interface", cfg->raw && c->ifname[0] ? c->ifname : NULL);
        json_kv_double(&j, "mean_delay_ms", cfg->delay_ms);
        json_kv_i64(&j, "interval_s", cfg->interval_s);
        json_kv_i64(&j, "max_size", cfg->max_size);
        json_kv_u64(&j, "seed", c->seed);
        json_kv_i64(&j, "client_start", c->client_start);
        json_key(&j, "duration_s");
        json_fixed(&j, run_seconds(c), 3);
        json_kv_u64(&j, "packets_sent", c->data_sent + c->control_sent);
        json_kv_u64(&j, "data_packets_sent", c->data_sent);
        json_kv_u64(&j, "control_packets_sent", c->control_sent);
        json_kv_u64(&j, "bytes_sent", c->bytes);
        json_kv_u64(&j, "send_errors", c->errors);
        json_kv_u64(&j, "icmp_errors", c->icmp_errors);
        json_key(&j, "ports");
        json_array_begin(&j);
        for (size_t i = 0; c->started && i < c->nports; i++)
            json_port(&j, &c->ports[i]);
        json_array_end(&j);
    }
    json_kv_string(&j, "error", error && *error ? error : NULL);
    json_object_end(&j);
    json_finish(&j);
}

static void cleanup(struct udping_client *c)
{
    for (size_t i = 0; c->ports && i < c->nports; i++) {
        if (c->ports[i].fd >= 0)
            close(c->ports[i].fd);
        free(c->ports[i].hist);
    }
    if (c->packet_fd >= 0)
        close(c->packet_fd);
    if (c->loop) {
        loop_signal_del(c->loop, &c->sig);
        loop_free(c->loop);
    }
    free(c->ports);
    free(c->slots);
}

int udping_client_main(int argc, char **argv)
{
    struct udping_client_config *cfg = malloc(sizeof *cfg);
    struct udping_client *c = calloc(1, sizeof *c);
    if (!cfg || !c) {
        fprintf(stderr, "%s: out of memory\n", UDPING_CLIENT_PROG);
        free(cfg);
        free(c);
        return UDPING_CLIENT_EXIT_SOFTWARE;
    }
    udping_client_config_init(cfg);
    char err[600];
    int rc = udping_client_parse(cfg, argc, argv, err, sizeof err);
    if (rc || cfg->help) {
        if (cfg->help && !rc)
            udping_client_usage(stderr);
        else if (udping_client_wants_json(argc, argv))
            print_json(NULL, cfg, err);
        free(cfg);
        free(c);
        return rc;
    }
    c->cfg = cfg;
    c->packet_fd = -1;
    c->real_ns = clock_real_ns;
    rc = run(c, err, sizeof err);
    if (rc && strncmp(err, UDPING_CLIENT_PROG " ", sizeof UDPING_CLIENT_PROG) == 0)
        fprintf(stderr, "%s\n", err); /* the original's own sentence, already named */
    else if (rc)
        fprintf(stderr, "%s: %s\n", UDPING_CLIENT_PROG, err);
    else
        print_summary(c, cfg->quiet);
    if (cfg->json)
        print_json(c, cfg, rc ? err : NULL);
    fflush(stdout);
    cleanup(c);
    free(cfg);
    free(c);
    return rc;
}
