#ifndef NETGRIND_FLOWGRIND_SERVER_H
#define NETGRIND_FLOWGRIND_SERVER_H

/* flowgrindd's XML-RPC methods (specs/flowgrind.md §3.1) on an xmlrpc-c registry: the eight
 * methods of 0.8.2 (add_flow_destination, add_flow_source, start_flows, get_reports,
 * stop_flow, get_version, get_status, get_uuid), each parsing its call with rpc.h, carrying
 * it out with daemon.h and answering with rpc.h's reply shapes or a fault (§3.7).
 *
 * Beyond 0.8.2: two allow-lists, both off by default, against a daemon being used to send
 * traffic anywhere on anybody's request (a reflection risk):
 *  - allow_controller: the calling peer's address must lie in one of these networks, else
 *    every method answers fault -500 "controller ADDR not allowed";
 *  - allow_destination: add_flow_source's destination_address and add_flow_destination's
 *    bind_address must resolve into one of these networks, else fault -500 "destination
 *    ADDR not allowed" / "bind address ADDR not allowed". The name is resolved once here and
 *    replaced by the numeric address that was checked, so the engine cannot resolve it to
 *    another address later. An empty bind_address (wildcard) counts as 0.0.0.0.
 *
 * The peer of a call. xmlrpc-c's Abyss hands a method the call's TSession as callInfo, whose
 * channel info is struct abyss_unix_chaninfo when Abyss accepted the connection itself; that
 * struct holds a bare struct sockaddr and so truncates IPv6 peers. The daemon therefore
 * accepts connections itself whenever allow_controller is set and runs each one through
 * ServerRunChannel() with a struct fg_server_peer as the channel info; the methods read the
 * peer from there. callInfo NULL (a direct xmlrpc_registry_process_call2) = peer unknown,
 * refused when allow_controller is set. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <xmlrpc-c/server.h>
#include <xmlrpc-c/server_abyss.h>

#include "flowgrind/daemon.h"

/* One network of an allow-list: "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or
 * /128). IPv4-mapped IPv6 peers (::ffff:a.b.c.d) match IPv4 networks. */
struct fg_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix;
};

#define FG_SERVER_MAX_NETS 64 /* per allow-list */

/* Parses one network. 0, or -EINVAL with err naming the text. Pure; any thread. */
int fg_cidr_parse(const char *text, struct fg_cidr *out, char *err, size_t errlen);

/* Whether sa (AF_INET or AF_INET6) lies in one of the n networks. Pure; any thread. */
bool fg_cidr_match(const struct fg_cidr *nets, size_t n, const struct sockaddr *sa);

/* The channel info the daemon gives Abyss for a connection it accepted itself. */
struct fg_server_peer {
    struct sockaddr_storage addr;
    socklen_t len;
};

struct fg_server_config {
    struct fg_daemon *daemon;                /* not owned */
    const struct fg_cidr *allow_controller;  /* copied; n = 0: any controller */
    size_t n_allow_controller;
    const struct fg_cidr *allow_destination; /* copied; n = 0: any destination */
    size_t n_allow_destination;
    fg_daemon_log_fn log; /* refused calls are logged here (rate limited); may be NULL */
    void *log_ctx;
};

struct fg_server;

/* Builds the registry with the eight methods (the library's system.* methods stay) and the
 * process's UUID. NULL with err filled on failure (too many networks, out of memory). */
struct fg_server *fg_server_new(const struct fg_server_config *cfg, char *err, size_t errlen);

/* The registry for Abyss or xmlrpc_registry_process_call2; owned by s. */
xmlrpc_registry *fg_server_registry(struct fg_server *s);

/* The xmlrpc_call_processor the daemon installs on Abyss (xmlrpc_server_abyss_set_handler3,
 * xml_processor_arg = s): answers a controller outside allow_controller with its fault -500
 * before parsing anything; refuses, with fault -503, a body nested deeper than
 * FG_RPC_MAX_XML_DEPTH elements, holding a document type declaration or a malformed <i8>
 * (fg_rpc_xml_acceptable says why), then runs xmlrpc_registry_process_call2 with the session as
 * callInfo. session may be NULL (fuzzing, tests). *response gets the reply (a fault reply
 * for a refused body); env's fault is set only when no reply could be built. Any thread. */
void fg_server_process_call(xmlrpc_env *env, void *s, const char *xml, size_t len,
                            TSession *session, xmlrpc_mem_block **response);

/* The UUID get_uuid answers, generated once in fg_server_new. */
const char *fg_server_uuid(const struct fg_server *s);

/* From now on every method answers fault -500 "daemon shutting down" without touching the
 * daemon; waits up to timeout_ms for calls already inside the daemon to return. Returns
 * whether none is left (only then may the caller free the daemon). Any thread. */
bool fg_server_close(struct fg_server *s, int timeout_ms);

/* Frees the registry. Only after fg_server_close and once no call can arrive. NULL is fine. */
void fg_server_free(struct fg_server *s);

/* A version 1 (time-based) UUID string, RFC 4122 §4.2: the 60-bit count of 100 ns intervals
 * since 1582-10-15 from now (CLOCK_REALTIME), a 14-bit clock sequence from rnd[0..1] and a
 * random 48-bit node from rnd[2..7] with the multicast bit set (§4.5: not a MAC address).
 * out gets 36 characters and a NUL. Pure; any thread. */
void fg_server_make_uuid(const struct timespec *now, const uint8_t rnd[8], char out[37]);

#endif
