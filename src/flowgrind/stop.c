/* flowgrind-stop: calls stop_flow with flow_id -1 on each daemon named on the command line
 * (specs/flowgrind.md §1.1, §2.4, §8.2). Arguments are ADDR, ADDR:PORT, [IPv6]:PORT or a bare
 * IPv6 literal; the control port defaults to 5999. For each daemon it prints
 * "Stopping all flows on http://HOST:PORT/RPC2", then makes the call on the curl transport
 * (the same HTTP the original's stop client sends, User-Agent included).
 *
 * Where the original is wrong, this does what a script needs:
 *  - a daemon that cannot be reached or answers with a fault is a warning naming it, the
 *    other daemons are still stopped, and the exit status is 1 (0.8.2 exits 0, bug 52);
 *  - every address is checked before any daemon is contacted: a malformed one (0.8.2 warned
 *    and then called "http://[[::1]:5999/RPC2" or port 70000 anyway) and a missing one are
 *    usage errors, exit 64 (EX_USAGE; 0.8.2 exits 1);
 *  - each call is bounded by a timeout, so a daemon that accepts and never answers cannot
 *    hang the command. */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xmlrpc-c/base.h>
#include <xmlrpc-c/client.h>

#include "core/addr.h"
#include "core/version.h"
#include "flowgrind/flowgrind.h"
#include "flowgrind/rpc.h"
#include "flowgrind/rpc_client.h"

#define STOP_PROG "flowgrind-stop"
#define STOP_EXIT_OK 0
#define STOP_EXIT_DAEMON 1 /* some daemon unreachable or faulted */
#define STOP_EXIT_USAGE 64 /* EX_USAGE */
#define STOP_TIMEOUT_MS 10000
#define STOP_URL_MAX (ADDR_HOST_MAX + 32)

static const char stop_usage[] =
    "Usage: flowgrind-stop [OPTION]... [ADDRESS]...\n"
    "Stop all flows on the daemons running at the given addresses.\n"
    "\n"
    "Mandatory arguments to long options are mandatory for short options too.\n"
    "  -h, --help     display this help and exit\n"
    "  -v, --version  print version information and exit\n"
    "\n"
    "Example:\n"
    "   flowgrind-stop localhost 127.2.3.4:5999 example.com\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, STOP_PROG ": error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '" STOP_PROG " -h' for more information\n");
    return STOP_EXIT_USAGE;
}

/* The daemon URL for one command-line address; 0, or -1 when the address is malformed. */
static int address_to_url(const char *arg, char *url, size_t len)
{
    struct addr_flowgrind_host h;
    char err[512];
    /* flowgrind-stop takes a control address only: no "TEST/CONTROL" form */
    if (strchr(arg, '/') != NULL || addr_parse_flowgrind_host(arg, &h, err, sizeof err) < 0)
        return -1;
    int n = addr_flowgrind_url(&h, url, len);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* stop_flow(-1) on url. 0, or -1 after a warning naming the daemon and the reason. */
static int stop_daemon(xmlrpc_client *client, const char *url)
{
    printf("Stopping all flows on %s\n", url);
    fflush(stdout);

    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_value *params = fg_rpc_stop_flow_params(&env, -1);
    xmlrpc_server_info *server = NULL;
    if (!env.fault_occurred)
        server = xmlrpc_server_info_new(&env, url);
    xmlrpc_value *result = NULL;
    if (!env.fault_occurred)
        xmlrpc_client_call2(&env, client, server, "stop_flow", params, &result);
    int rc = 0;
    if (env.fault_occurred) {
        fprintf(stderr, STOP_PROG ": warning: could not stop flows on %s: %s (%d)\n", url,
                env.fault_string, env.fault_code);
        rc = -1;
    }
    if (result)
        xmlrpc_DECREF(result);
    if (server)
        xmlrpc_server_info_free(server);
    if (params)
        xmlrpc_DECREF(params);
    xmlrpc_env_clean(&env);
    return rc;
}

/* Calls every daemon in order, even after a failure. */
static int stop_all(char (*urls)[STOP_URL_MAX], int n)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_client_setup_global_const(&env);
    if (env.fault_occurred) {
        fprintf(stderr, STOP_PROG ": error: XML-RPC client setup failed: %s\n", env.fault_string);
        xmlrpc_env_clean(&env);
        return STOP_EXIT_DAEMON;
    }
    /* no application name: the User-Agent is xmlrpc-c's and curl's, as the original sends */
    struct fg_rpc_client rc;
    fg_rpc_client_open(&env, &rc, NULL, NULL, true, STOP_TIMEOUT_MS);
    int status = STOP_EXIT_OK;
    if (env.fault_occurred) {
        fprintf(stderr, STOP_PROG ": error: XML-RPC client: %s\n", env.fault_string);
        status = STOP_EXIT_DAEMON;
    } else {
        for (int i = 0; i < n; i++)
            if (stop_daemon(rc.client, urls[i]) < 0)
                status = STOP_EXIT_DAEMON;
        fg_rpc_client_close(&rc);
    }
    xmlrpc_client_teardown_global_const();
    xmlrpc_env_clean(&env);
    return status;
}

/* Parses options; -1 to go on (optind at the first address), else the exit status. */
static int parse_options(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 0; /* glibc: a full re-initialisation, so the entry point can run twice */
    int c;
    while ((c = getopt_long(argc, argv, ":hv", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(stop_usage, stdout);
            return STOP_EXIT_OK;
        case 'v':
            printf(STOP_PROG " %s (netgrind %s)\n", FG_RPC_VERSION, NETGRIND_VERSION);
            return STOP_EXIT_OK;
        default:
            if (optopt != 0) {
                char opt[2] = {(char)optopt, '\0'};
                return usage_error("invalid option -- %s", opt);
            }
            return usage_error("unrecognized option '%s'", argv[optind - 1]);
        }
    }
    return -1;
}

int flowgrind_stop_main(int argc, char **argv)
{
    int rc = parse_options(argc, argv);
    if (rc >= 0)
        return rc;
    int n = argc - optind;
    if (n <= 0)
        return usage_error("no address given%s", "");

    char(*urls)[STOP_URL_MAX] = calloc((size_t)n, sizeof *urls);
    if (urls == NULL) {
        fprintf(stderr, STOP_PROG ": error: out of memory\n");
        return 71;
    }
    for (int i = 0; i < n && rc < 0; i++)
        if (address_to_url(argv[optind + i], urls[i], STOP_URL_MAX) < 0)
            rc = usage_error("invalid daemon address '%s' (expected HOST, HOST:PORT, "
                             "[IPv6]:PORT or IPv6, port 1..65535)",
                             argv[optind + i]);
    if (rc < 0)
        rc = stop_all(urls, n);
    free(urls);
    return rc;
}
