/* netgrind: the multi-call dispatch. `netgrind TOOL ARGS` runs a tool; a link named after
 * a tool (build/bin/seqtest -> netgrind) runs that tool directly, as busybox does. */
#include <stdio.h>
#include <string.h>

#include "core/version.h"
#include "flowgrind/flowgrind.h"
#include "seqtest/seqtest.h"
#include "tcpkali/tcpkali.h"
#include "udping/udping.h"

struct tool {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};

static const struct tool tools[] = {
    {"seqtest", seqtest_main, "TCP ordering, integrity and round-trip latency under load"},
    {"udping_client", udping_client_main, "one-way UDP latency and loss: the sender"},
    {"udping_server", udping_server_main, "one-way UDP latency and loss: the receiver"},
    {"tcpkali", tcpkali_main, "TCP load generator and sink: connections, rates, latency"},
    {"flowgrind", flowgrind_main, "distributed TCP measurement: the controller"},
    {"flowgrindd", flowgrindd_main, "distributed TCP measurement: the daemon (XML-RPC)"},
    {"flowgrind-stop", flowgrind_stop_main, "stop all flows on flowgrind daemons"},
};

static const struct tool *find_tool(const char *name)
{
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        if (strcmp(tools[i].name, name) == 0)
            return &tools[i];
    return NULL;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void print_help(FILE *out)
{
    fprintf(out, "Usage: netgrind TOOL [ARGS...]   or   TOOL [ARGS...] through a link\n\n"
                 "Tools:\n");
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        fprintf(out, "  %-16s %s\n", tools[i].name, tools[i].summary);
    fprintf(out, "\n`netgrind TOOL --help` describes one tool; `netgrind --version` names the "
                 "version and features.\n");
}

int main(int argc, char **argv)
{
    const struct tool *tool = find_tool(base_name(argv[0]));
    if (tool)
        return tool->main(argc, argv);

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 64 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("netgrind %s\nfeatures: %s\n", NETGRIND_VERSION, version_features());
        return 0;
    }
    tool = find_tool(argv[1]);
    if (!tool) {
        fprintf(stderr, "netgrind: unknown tool '%s'\n", argv[1]);
        print_help(stderr);
        return 64;
    }
    return tool->main(argc - 1, argv + 1);
}
