/* libFuzzer: flowgrindd's request handling (flowgrind/server.h) — the bytes of an HTTP body
 * go through the daemon's call processor (the body check, xmlrpc-c's parser, the method
 * handlers, rpc.h's parsers) into a real flow engine with a small flow limit. Every input
 * must give a response and never crash; the engine is emptied after each input.
 *
 * Loopback only: destinations and bind addresses are held to 127.0.0.0/8 and ::1 by the
 * daemon's own --allow-destination check, and name resolution in this process is numeric
 * only (getaddrinfo below), so no input makes the fuzzer send a packet or a DNS query
 * anywhere else. */
#include <dirent.h>
#include <dlfcn.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xmlrpc-c/base.h>

#include "flowgrind/daemon.h"
#include "flowgrind/rpc.h"
#include "flowgrind/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Numeric-only resolution for the whole process ("localhost" still means 127.0.0.1). */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    struct addrinfo h = {0};
    if (hints)
        h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    if (node && strcmp(node, "localhost") == 0)
        node = "127.0.0.1";
    return real(node, service, &h, res);
}

static struct fg_daemon *daemon_;
static struct fg_server *server;

/* The -M pcap files an input asks for go here, not into the working directory (the
 * repository, when tests/run.sh runs the fuzzers); removed at exit. */
static char dump_dir[] = "/tmp/fuzz_fg_server_dumpsXXXXXX";

static void remove_dump_dir(void)
{
    DIR *d = opendir(dump_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(dump_dir);
}

static void setup(void)
{
    static const char *nets[] = {"127.0.0.0/8", "::1"};
    struct fg_cidr allow[2];
    char err[256];
    for (size_t i = 0; i < 2; i++)
        if (fg_cidr_parse(nets[i], &allow[i], err, sizeof err) < 0)
            abort();
    if (!mkdtemp(dump_dir))
        abort();
    atexit(remove_dump_dir);
    struct fg_daemon_config dcfg = {.max_flows = 4, .dump_dir = dump_dir};
    daemon_ = fg_daemon_new(&dcfg, err, sizeof err);
    if (!daemon_) {
        fprintf(stderr, "fg_daemon_new: %s\n", err);
        abort();
    }
    struct fg_server_config scfg = {
        .daemon = daemon_,
        .allow_destination = allow,
        .n_allow_destination = 2,
    };
    server = fg_server_new(&scfg, err, sizeof err);
    if (!server) {
        fprintf(stderr, "fg_server_new: %s\n", err);
        abort();
    }
    xmlrpc_limit_set(XMLRPC_XML_SIZE_LIMIT_ID, 256 * 1024);
}

/* Stops every flow and drains the report queue, so each input starts from an idle daemon. */
static void reset_daemon(void)
{
    static struct fg_report reports[FG_RPC_REPORTS_PER_CALL];
    char msg[256];
    bool more = true;
    fg_daemon_stop_flow(daemon_, -1, msg, sizeof msg);
    for (int i = 0; more && i < 1000; i++)
        fg_daemon_take_reports(daemon_, reports, FG_RPC_REPORTS_PER_CALL, &more);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server)
        setup();
    xmlrpc_env env;
    xmlrpc_mem_block *response = NULL;
    xmlrpc_env_init(&env);
    fg_server_process_call(&env, server, (const char *)data, size, NULL, &response);
    /* Always a response (xmlrpc-c answers a fault for anything it cannot carry out), and a
     * well-formed start of one. */
    if (env.fault_occurred || !response)
        abort();
    const char *body = XMLRPC_MEMBLOCK_CONTENTS(char, response);
    size_t len = XMLRPC_MEMBLOCK_SIZE(char, response);
    if (len < 30 || memcmp(body, "<?xml", 5) != 0 || !memmem(body, len, "methodResponse", 14))
        abort();
    XMLRPC_MEMBLOCK_FREE(char, response);
    xmlrpc_env_clean(&env);
    reset_daemon();
    return 0;
}
