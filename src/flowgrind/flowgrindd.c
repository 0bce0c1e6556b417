/* flowgrindd: the flowgrind daemon (specs/flowgrind.md §1.1, §2.4, §3, §8.3). Serves the
 * XML-RPC methods of server.h over xmlrpc-c's Abyss HTTP server on /RPC2 and runs the flows
 * in daemon.h's engine.
 *
 * Start-up order matters: the control socket is bound and listening before the process
 * detaches, so a taken port is an error message and exit status 69 on the terminal rather
 * than a silent exit 0 in the background (bug 53, issue #154); the child reports through a
 * pipe that it is serving before the parent exits, so a failure after the fork is not
 * silent either. Threads (the engine, Abyss) only start after the fork.
 *
 * Two ways to serve. Without --allow-controller Abyss accepts the connections itself with
 * 0.8.2's keep-alive (timeout 60, at most 1000 requests per connection). With it, this file
 * accepts, so that the handlers see the peer's full address (server.h explains why), and
 * hands each connection to Abyss with ServerRunChannel(), which answers one request per
 * connection ("Connection: close"); clients reconnect, as curl does by itself. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <xmlrpc-c/base.h>
#include <xmlrpc-c/server.h>
#include <xmlrpc-c/server_abyss.h>

#include "core/version.h"
#include "flowgrind/daemon.h"
#include "flowgrind/flowgrind.h"
#include "flowgrind/rpc.h"
#include "flowgrind/server.h"

/* Exit statuses (sysexits). */
#define FGD_EXIT_OK 0
#define FGD_EXIT_USAGE 64
#define FGD_EXIT_NOHOST 68      /* -b names no address */
#define FGD_EXIT_UNAVAILABLE 69 /* the control port cannot be bound (in use, not local) */
#define FGD_EXIT_SOFTWARE 70
#define FGD_EXIT_OSERR 71 /* any other system call failed: socket, fork, affinity, threads */

#define KEEPALIVE_TIMEOUT_S 60   /* 0.8.2's Keep-Alive: timeout=60, max=1000 */
#define KEEPALIVE_MAX_REQUESTS 1000
#define REQUEST_TIMEOUT_S 60
#define MAX_CONNECTIONS 64       /* concurrent control connections */
#define MAX_REQUEST_BYTES (256 * 1024) /* an add_flow_source call is about 4.4 KB */
#define CLOSE_WAIT_MS 5000       /* how long shutdown waits for calls inside the engine */
#define CONN_STACK_BYTES (1024 * 1024)

struct fgd_options {
    const char *bind_addr; /* NULL: getaddrinfo(NULL, port, AI_PASSIVE)'s first answer */
    const char *port;
    int cpu;               /* -1: no binding */
    bool foreground;
    const char *dump_dir;
    size_t max_flows;
    struct fg_cidr controllers[FG_SERVER_MAX_NETS];
    size_t n_controllers;
    struct fg_cidr destinations[FG_SERVER_MAX_NETS];
    size_t n_destinations;
};

/* --- LeakSanitizer (sanitizer builds only) ---------------------------------------------
 * xmlrpc-c 1.33's Abyss leaks strings its RequestRead() copied when a request is malformed
 * or cut off by shutdown: the library's leak, reported with only strdup, xmlrpc_strdupsol
 * and RequestRead on the stack. LSan reads these suppressions at its leak check at exit, so
 * they apply only when flowgrindd ran; the multi-call binary's other tools keep none. */
static const char *lsan_suppressions = "";
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return lsan_suppressions;
}

/* --- logging: stderr with -d (0.8.2's formats), syslog otherwise ----------------------- */

static bool log_to_stderr;
/* Daemon mode: until the child reports that it serves, warnings also go to stderr, which
 * is still the terminal the daemon was started from. */
static bool early_stderr;

static void log_line(bool warning, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_line(bool warning, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!log_to_stderr) {
        syslog(warning ? LOG_WARNING : LOG_NOTICE, "%s", msg);
        if (early_stderr && warning)
            fprintf(stderr, "flowgrindd: error: %s\n", msg);
        return;
    }
    if (warning) {
        fprintf(stderr, "flowgrindd: warning: %s\n", msg);
        return;
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d-%H:%M:%S", &tm);
    fprintf(stderr, "%s %s\n", stamp, msg);
}

static void engine_log(void *ctx, bool warning, const char *line)
{
    (void)ctx;
    log_line(warning, "%s", line);
}

/* Before detaching, errors go to stderr whatever the mode. */
static void error_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void error_msg(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "flowgrindd: error: %s\n", msg);
    if (!log_to_stderr)
        syslog(LOG_ERR, "%s", msg);
}

/* --- command line ---------------------------------------------------------------------- */

static void print_help(FILE *out)
{
    fputs("Usage: flowgrindd [OPTION]...\n"
          "Advanced TCP traffic generator for Linux, FreeBSD, and Mac OS X.\n"
          "\n"
          "Mandatory arguments to long options are mandatory for short options too.\n"
          "  -b ADDR        XML-RPC server bind address\n"
          "  -c #           bound daemon to specific CPU. First CPU is 0\n"
          "  -d             don't fork into background, log to stderr\n"
          "  -h, --help     display this help and exit\n"
          "  -p #           XML-RPC server port\n"
          "  -w DIR         target directory for dump files. The daemon must be run as root\n"
          "  -v, --version  print version information and exit\n"
          "\n"
          "netgrind additions:\n"
          "  -m, --max-flows=#          flow endpoints held at once (default 65536)\n"
          "      --allow-controller=NET accept XML-RPC calls only from NET (ADDR[/PREFIX]);\n"
          "                             repeatable; default: any controller\n"
          "      --allow-destination=NET send test traffic only to, and bind test sockets\n"
          "                             only to, addresses in NET; repeatable; default: any\n",
          out);
}

static void print_version(void)
{
    printf("flowgrindd %s (netgrind %s)\n", FG_RPC_VERSION, NETGRIND_VERSION);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("flowgrindd: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'flowgrindd -h' for more information\n", stderr);
    return FGD_EXIT_USAGE;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static int add_net(struct fg_cidr *nets, size_t *n, const char *text, const char *opt)
{
    char err[160];
    if (*n >= FG_SERVER_MAX_NETS)
        return usage_error("%s: at most %d networks", opt, FG_SERVER_MAX_NETS);
    if (fg_cidr_parse(text, &nets[*n], err, sizeof err) < 0)
        return usage_error("%s: %s", opt, err);
    (*n)++;
    return 0;
}

enum { OPT_ALLOW_CONTROLLER = 256, OPT_ALLOW_DESTINATION };

/* 0 to run, -1 when done (help, version: exit 0), else an exit status. */
static int parse_options(int argc, char **argv, struct fgd_options *o)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {"max-flows", required_argument, NULL, 'm'},
        {"allow-controller", required_argument, NULL, OPT_ALLOW_CONTROLLER},
        {"allow-destination", required_argument, NULL, OPT_ALLOW_DESTINATION},
        {NULL, 0, NULL, 0},
    };
    unsigned long v;
    int c, rc;

    memset(o, 0, sizeof *o);
    o->port = "5999";
    o->cpu = -1;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":b:c:dhm:p:vw:", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->bind_addr = optarg;
            break;
        case 'c':
            if (!parse_uint(optarg, CPU_SETSIZE - 1, &v))
                return usage_error("failed to parse CPU number");
            o->cpu = (int)v;
            break;
        case 'd':
            o->foreground = true;
            break;
        case 'h':
            print_help(stdout);
            return -1;
        case 'm':
            if (!parse_uint(optarg, 1u << 30, &v) || v == 0)
                return usage_error("option --max-flows needs a positive number");
            o->max_flows = v;
            break;
        case 'p':
            if (!parse_uint(optarg, 65535, &v))
                return usage_error("failed to parse port number");
            o->port = optarg;
            break;
        case 'v':
            print_version();
            return -1;
        case 'w':
            o->dump_dir = optarg;
            break;
        case OPT_ALLOW_CONTROLLER:
            if ((rc = add_net(o->controllers, &o->n_controllers, optarg, "--allow-controller")))
                return rc;
            break;
        case OPT_ALLOW_DESTINATION:
            if ((rc = add_net(o->destinations, &o->n_destinations, optarg,
                              "--allow-destination")))
                return rc;
            break;
        case ':':
            if (strncmp(argv[optind - 1], "--", 2) == 0)
                return usage_error("option %s requires an argument", argv[optind - 1]);
            if (optopt)
                return usage_error("option -%c requires an argument", optopt);
            return usage_error("option %s requires an argument", argv[optind - 1]);
        default:
            if (optopt)
                return usage_error("invalid option -- %c", optopt);
            return usage_error("unrecognized option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("invalid argument: %s", argv[optind]);
    return 0;
}

static int check_options(const struct fgd_options *o)
{
    struct stat st;
    if (o->cpu >= 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_CONF);
        if (ncpu > 0 && o->cpu >= ncpu) {
            fprintf(stderr, "flowgrindd: error: CPU binding failed. Given CPU ID is higher "
                            "than available CPU cores\n");
            return FGD_EXIT_USAGE;
        }
    }
    if (o->dump_dir && (stat(o->dump_dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "flowgrindd: error: -w %s: not a directory\n", o->dump_dir);
        return FGD_EXIT_USAGE;
    }
    return 0;
}

/* --- the control socket ---------------------------------------------------------------- */

/* Binds and listens on the first address of -b (or the passive wildcard) that works. The
 * listen socket, or an exit status after the message. */
static int open_control_socket(const struct fgd_options *o, int *fd_out, unsigned *port_out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(o->bind_addr, o->port, &hints, &res);
    if (rc != 0) {
        error_msg("cannot resolve bind address '%s': %s", o->bind_addr ? o->bind_addr : "*",
                  gai_strerror(rc));
        return rc == EAI_SYSTEM ? FGD_EXIT_OSERR : FGD_EXIT_NOHOST;
    }
    int err = 0, status = FGD_EXIT_UNAVAILABLE;
    char where[NI_MAXHOST + 16] = "";
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char host[NI_MAXHOST] = "?";
        getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, NULL, 0, NI_NUMERICHOST);
        snprintf(where, sizeof where, ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
                 o->port);
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            status = FGD_EXIT_OSERR;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
            err = errno;
            status = (err == EADDRINUSE || err == EADDRNOTAVAIL || err == EACCES)
                         ? FGD_EXIT_UNAVAILABLE : FGD_EXIT_OSERR;
            close(fd);
            continue;
        }
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        getsockname(fd, (struct sockaddr *)&ss, &len);
        char port[NI_MAXSERV] = "0";
        getnameinfo((struct sockaddr *)&ss, len, NULL, 0, port, sizeof port, NI_NUMERICSERV);
        *port_out = (unsigned)strtoul(port, NULL, 10);
        *fd_out = fd;
        freeaddrinfo(res);
        return 0;
    }
    freeaddrinfo(res);
    error_msg("failed to bind RPC listen socket %s: %s (exit status %d: %s)", where,
              strerror(err), status,
              status == FGD_EXIT_UNAVAILABLE ? "address unavailable" : "system error");
    return status;
}

/* --- detaching ------------------------------------------------------------------------- */

/* Forks into the background. In the parent: waits for the child's one-byte status on a
 * pipe (0 = serving) and returns it as the exit status, or -1 in the child, whose ready_fd
 * is then the pipe's write end. */
static int detach(int *ready_fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        error_msg("pipe: %s", strerror(errno));
        return FGD_EXIT_OSERR;
    }
    pid_t pid = fork();
    if (pid < 0) {
        error_msg("fork: %s", strerror(errno));
        return FGD_EXIT_OSERR;
    }
    if (pid > 0) {
        unsigned char status = FGD_EXIT_SOFTWARE;
        close(p[1]);
        while (read(p[0], &status, 1) < 0 && errno == EINTR)
            ;
        return status;
    }
    close(p[0]);
    setsid();
    if (fork() > 0)
        _exit(0); /* the session leader leaves: the daemon can never regain a terminal */
    if (chdir("/") < 0)
        (void)0;
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (null > STDERR_FILENO)
            close(null);
    }
    early_stderr = true;
    *ready_fd = p[1];
    return -1;
}

/* Tells the waiting parent the start-up status and lets go of the terminal's stderr. */
static void report_ready(int *ready_fd, unsigned char status)
{
    if (*ready_fd < 0)
        return;
    while (write(*ready_fd, &status, 1) < 0 && errno == EINTR)
        ;
    close(*ready_fd);
    *ready_fd = -1;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        fflush(stderr);
        dup2(null, STDERR_FILENO);
        close(null);
    }
    early_stderr = false;
}

/* --- serving --------------------------------------------------------------------------- */

struct fgd {
    struct fgd_options opt;
    int listen_fd;
    unsigned port;
    struct fg_daemon *daemon;
    struct fg_server *server;
    TServer abyss;                 /* Abyss accepts itself, or runs our channels */
    bool self_accept;              /* --allow-controller: this file accepts */
    int wake[2];                   /* self-accept mode: the signal thread wakes accept */
    pthread_mutex_t conn_lock;
    unsigned connections;
    atomic_bool stopping;          /* set by the signal thread */
};

static sigset_t stop_signals;

/* Waits for SIGINT/SIGTERM (blocked in every thread) and stops the accept loop. */
static void *signal_thread(void *arg)
{
    struct fgd *g = arg;
    int sig;
    while (sigwait(&stop_signals, &sig) != 0)
        ;
    g->stopping = 1;
    log_line(false, "caught %s, tear down daemon", sig == SIGINT ? "SIGINT" : "SIGTERM");
    if (!g->self_accept) {
        ServerTerminate(&g->abyss); /* made to be called asynchronously: sets a flag and
                                       interrupts the accept */
    } else {
        char b = 1;
        (void)!write(g->wake[1], &b, 1);
    }
    return NULL;
}

/* 0.8.2's HTTP behaviour on the Abyss server, and our call processor on /RPC2. */
static int configure_abyss(struct fgd *g)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    ServerSetKeepaliveTimeout(&g->abyss, KEEPALIVE_TIMEOUT_S);
    ServerSetKeepaliveMaxConn(&g->abyss, KEEPALIVE_MAX_REQUESTS);
    ServerSetTimeout(&g->abyss, REQUEST_TIMEOUT_S);
    ServerSetAdvertise(&g->abyss, false);
    ServerSetMaxConn(&g->abyss, MAX_CONNECTIONS);
    xmlrpc_server_abyss_handler_parms hp;
    memset(&hp, 0, sizeof hp);
    hp.xml_processor = fg_server_process_call;
    hp.xml_processor_arg = g->server;
    hp.xml_processor_max_stack = xmlrpc_registry_max_stackSize(fg_server_registry(g->server));
    hp.uri_path = FG_RPC_PATH;
    xmlrpc_server_abyss_set_handler3(&env, &g->abyss, &hp, XMLRPC_AHPSIZE(uri_path));
    xmlrpc_server_abyss_set_default_handler(&g->abyss); /* 404 for any other path */
    int rc = 0;
    if (env.fault_occurred) {
        log_line(true, "cannot set up the XML-RPC handler: %s", env.fault_string);
        rc = FGD_EXIT_SOFTWARE;
    }
    xmlrpc_env_clean(&env);
    return rc;
}

/* Abyss accepts on our listening socket itself. */
static int setup_library_accept(struct fgd *g)
{
    TChanSwitch *sw = NULL;
    const char *error = NULL;
    ChanSwitchUnixCreateFd(g->listen_fd, &sw, &error);
    if (!error)
        ServerCreateSwitch(&g->abyss, sw, &error);
    if (error) {
        log_line(true, "cannot create the XML-RPC server: %s", error);
        free((void *)error);
        return FGD_EXIT_SOFTWARE;
    }
    int rc = configure_abyss(g);
    if (rc)
        return rc;
    ServerInit2(&g->abyss, &error);
    if (error) {
        log_line(true, "cannot start the XML-RPC server: %s", error);
        free((void *)error);
        return FGD_EXIT_SOFTWARE;
    }
    return 0;
}

struct conn_job {
    struct fgd *g;
    int fd;
    struct fg_server_peer peer;
};

static void *connection_thread(void *arg)
{
    struct conn_job *job = arg;
    struct fgd *g = job->g;
    TChannel *chan = NULL;
    struct abyss_unix_chaninfo *lib_info = NULL;
    const char *error = NULL;

    ChannelUnixCreateFd(job->fd, &chan, &lib_info, &error);
    if (error) {
        log_line(true, "control connection: %s", error);
        free((void *)error);
        close(job->fd);
    } else {
        ServerRunChannel(&g->abyss, chan, &job->peer, &error);
        if (error) {
            log_line(true, "control connection: %s", error);
            free((void *)error);
        }
        /* The channel is ours (its interrupt pipe too), and so is the descriptor: Abyss
         * closes neither for a channel made from a caller's fd. */
        ChannelDestroy(chan);
        close(job->fd);
        free(lib_info);
    }
    free(job);
    pthread_mutex_lock(&g->conn_lock);
    g->connections--;
    pthread_mutex_unlock(&g->conn_lock);
    return NULL;
}

static void start_connection(struct fgd *g, int fd, const struct sockaddr_storage *ss,
                             socklen_t len, const pthread_attr_t *attr)
{
    pthread_mutex_lock(&g->conn_lock);
    bool room = g->connections < MAX_CONNECTIONS;
    if (room)
        g->connections++;
    pthread_mutex_unlock(&g->conn_lock);
    struct conn_job *job = room ? calloc(1, sizeof *job) : NULL;
    pthread_t t;
    if (job) {
        job->g = g;
        job->fd = fd;
        memcpy(&job->peer.addr, ss, sizeof *ss);
        job->peer.len = len;
        if (pthread_create(&t, attr, connection_thread, job) == 0)
            return;
        free(job);
    }
    if (room) {
        pthread_mutex_lock(&g->conn_lock);
        g->connections--;
        pthread_mutex_unlock(&g->conn_lock);
    }
    close(fd); /* too many connections: the client sees the close and may retry */
}

static int setup_own_accept(struct fgd *g)
{
    if (pipe2(g->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        log_line(true, "pipe: %s", strerror(errno));
        return FGD_EXIT_OSERR;
    }
    if (!ServerCreateNoAccept(&g->abyss, "flowgrindd", NULL, NULL)) {
        log_line(true, "cannot create the XML-RPC server");
        return FGD_EXIT_SOFTWARE;
    }
    g->self_accept = true;
    return configure_abyss(g);
}

static void run_own_accept(struct fgd *g)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, CONN_STACK_BYTES);
    struct pollfd pfd[2] = {{.fd = g->listen_fd, .events = POLLIN},
                            {.fd = g->wake[0], .events = POLLIN}};
    while (!g->stopping) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_line(true, "poll: %s", strerror(errno));
            break;
        }
        if (pfd[1].revents)
            break;
        if (!(pfd[0].revents & POLLIN))
            continue;
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(g->listen_fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                poll(NULL, 0, 100); /* out of descriptors: let connections end first */
            continue;
        }
        start_connection(g, fd, &ss, len, &attr);
    }
    pthread_attr_destroy(&attr);
}

static int serve(struct fgd *g)
{
    if (g->self_accept)
        run_own_accept(g);
    else
        ServerRun(&g->abyss);
    return g->stopping ? FGD_EXIT_OK : FGD_EXIT_SOFTWARE;
}

/* Everything after the control socket exists: engine, methods, HTTP server. */
static int build(struct fgd *g)
{
    char err[256] = "";
    struct fg_daemon_config dcfg = {
        .max_flows = g->opt.max_flows,
        .dump_dir = g->opt.dump_dir,
        .log = engine_log,
    };
    g->daemon = fg_daemon_new(&dcfg, err, sizeof err);
    if (!g->daemon) {
        log_line(true, "cannot start the flow engine: %s", err);
        return FGD_EXIT_OSERR;
    }
    struct fg_server_config scfg = {
        .daemon = g->daemon,
        .allow_controller = g->opt.controllers,
        .n_allow_controller = g->opt.n_controllers,
        .allow_destination = g->opt.destinations,
        .n_allow_destination = g->opt.n_destinations,
        .log = engine_log,
    };
    g->server = fg_server_new(&scfg, err, sizeof err);
    if (!g->server) {
        log_line(true, "%s", err);
        return FGD_EXIT_SOFTWARE;
    }
    return g->opt.n_controllers ? setup_own_accept(g) : setup_library_accept(g);
}

static void teardown(struct fgd *g)
{
    if (g->server && !fg_server_close(g->server, CLOSE_WAIT_MS)) {
        /* A call is stuck inside the engine: freeing it under that call would crash. */
        log_line(true, "a call did not return within %d ms; exiting without cleanup",
                 CLOSE_WAIT_MS);
        return;
    }
    fg_daemon_free(g->daemon);
    g->daemon = NULL;
    /* The TServer and the registry may still be used by connection threads waiting on
     * idle clients; the process exits right after, so they are left alone. */
}

static bool bind_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0;
}

static int start(struct fgd *g, int *ready_fd)
{
    int rc;
    if (g->opt.cpu >= 0 && !bind_cpu(g->opt.cpu)) {
        log_line(true, "CPU binding to CPU %d failed: %s", g->opt.cpu, strerror(errno));
        return FGD_EXIT_OSERR;
    }
    /* Signals: one thread waits for them; every other thread (all created after this)
     * inherits the mask. Broken control connections must not kill the daemon. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    xmlrpc_limit_set(XMLRPC_XML_SIZE_LIMIT_ID, MAX_REQUEST_BYTES);

    if ((rc = build(g)) != 0)
        return rc;
    pthread_t sig;
    if (pthread_create(&sig, NULL, signal_thread, g) != 0) {
        log_line(true, "cannot start the signal thread");
        return FGD_EXIT_OSERR;
    }
    pthread_detach(sig);
    log_line(false, "running XML-RPC server on port %u", g->port);
    if (g->opt.foreground) {
        printf("Running XML-RPC server...\n");
        fflush(stdout);
    }
    report_ready(ready_fd, 0);
    rc = serve(g);
    teardown(g);
    return rc;
}

int flowgrindd_main(int argc, char **argv)
{
    static struct fgd g; /* static: the signal thread may outlive a return path */
    int rc, ready_fd = -1;

    lsan_suppressions = "leak:RequestRead\nleak:xmlrpc_strdupsol\n";
    memset(&g, 0, sizeof g);
    g.listen_fd = -1;
    g.wake[0] = g.wake[1] = -1;
    pthread_mutex_init(&g.conn_lock, NULL);
    rc = parse_options(argc, argv, &g.opt);
    if (rc)
        return rc < 0 ? FGD_EXIT_OK : rc;
    if ((rc = check_options(&g.opt)) != 0)
        return rc;
    log_to_stderr = g.opt.foreground;

    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_server_abyss_global_init(&env);
    if (env.fault_occurred) {
        error_msg("cannot initialise the Abyss library: %s", env.fault_string);
        xmlrpc_env_clean(&env);
        return FGD_EXIT_SOFTWARE;
    }
    if ((rc = open_control_socket(&g.opt, &g.listen_fd, &g.port)) != 0)
        return rc;
    if (!g.opt.foreground) {
        openlog("flowgrindd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        if ((rc = detach(&ready_fd)) >= 0)
            return rc; /* the parent: the child's start-up status */
    }
    rc = start(&g, &ready_fd);
    report_ready(&ready_fd, (unsigned char)(rc ? rc : FGD_EXIT_SOFTWARE));
    if (!log_to_stderr)
        closelog();
    return rc;
}
