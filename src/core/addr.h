#ifndef NETGRIND_CORE_ADDR_H
#define NETGRIND_CORE_ADDR_H

/* Address strings as the tools' command lines write them, parsed without resolving:
 * "host:port", "[v6]:port", "local,host:port", "host:port/path", port numbers and port
 * ranges. Pure (no syscalls); every error fills err with what was wrong and where. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADDR_HOST_MAX 256
#define ADDR_PORT_MAX 32

struct addr_endpoint {
    char host[ADDR_HOST_MAX]; /* brackets stripped; "" when the string gave none */
    char port[ADDR_PORT_MAX]; /* as written (a number or a service name); "" when none */
    bool has_local;
    char local[ADDR_HOST_MAX]; /* the part before ',' with ADDR_F_LOCAL; brackets stripped */
    const char *path;          /* with ADDR_F_PATH: points into the input at '/', else NULL */
};

#define ADDR_F_LOCAL 1u         /* accept "local,host:port" */
#define ADDR_F_PORT_OPTIONAL 2u /* "host" alone is fine (port left "") */
#define ADDR_F_PATH 4u          /* accept "host:port/path" (tcpkali's WebSocket path) */
/* All digits alone is a port, host left "" (tcpkali's -l [host:]port); wins over
 * ADDR_F_PORT_OPTIONAL. */
#define ADDR_F_HOST_OPTIONAL 8u

/* Splits s into its parts. The port follows the last ':' outside brackets ("::1:80" is
 * host "::1", port "80"; "[::1]:80" the same). Returns 0, or -EINVAL with err naming the
 * problem ("missing port in 'x'", "unbalanced '[' in 'x'", "host too long ...").
 * out->path points into s. */
int addr_parse_endpoint(const char *s, unsigned flags, struct addr_endpoint *out, char *err,
                        size_t errlen);

/* A decimal port 0..65535 with nothing after it. 0 or -EINVAL. */
int addr_parse_port(const char *s, uint16_t *out);

/* UDPing's source-port descriptor (udping.md §2.1): only digits, ',' and '-'; split on ',';
 * each item is "P" or "A-B" (A <= B); every port in [min, max] (UDPing: 1024..60000).
 * With count > 0 the descriptor must be a single port S and means S..S+count-1 (UDPing's
 * -n); count 0 means no -n. Writes the ports in order to ports[] (capacity cap; UDPing:
 * 5000) and their number to *n. Unlike UDPing, an empty item ("1,,2", "5-"), a second '-'
 * in an item, a duplicate port and -n with a list or range are errors, not ignored.
 * Returns 0 or -EINVAL / -ERANGE with err holding UDPing's text where it has one:
 *   "Invalid source port descriptor X", "Port too low: N", "Port too high: N",
 *   "Invalid port range A-B", "Too many ports defined",
 *   and "Duplicate port N in source port descriptor X",
 *   "-n applies to a single start port, not to 'X'". */
int addr_parse_port_list(const char *s, uint16_t min, uint16_t max, unsigned count, uint16_t *ports,
                         size_t cap, size_t *n, char *err, size_t errlen);

/* A comma-separated list of MAC addresses, each six 1- or 2-digit hex octets joined by ':'
 * (UDPing's -a). Writes up to cap entries to macs and their number to *n. 0, or -EINVAL
 * with err "Invalid MAC string 'X'" naming the bad entry, or "too many MAC addresses (at
 * most N)". */
int addr_parse_mac_list(const char *s, uint8_t (*macs)[6], size_t cap, size_t *n, char *err,
                        size_t errlen);

/* One item of flowgrind's per-endpoint list "x=VALUE[,x=VALUE]..." (flowgrind.md §2.5):
 * which is 's' (source), 'd' (destination) or 'b' (both); the '=' may be omitted ("s" and
 * "s8192" are accepted, as flowgrind does); value points into the input, value_len bytes,
 * possibly empty. */
struct addr_flow_item {
    char which;
    const char *value;
    size_t value_len;
};

/* Splits a flowgrind endpoint list at ','. opt is the option letter for the message.
 * Returns 0, or -EINVAL with err "Invalid endpoint specifier in Option -X" (flowgrind's
 * text) for an item that does not start with s, d or b or is empty, or "too many
 * endpoint items in Option -X" beyond cap. Items keep their order; repeats are kept (the
 * caller decides: -O accumulates, others take the last). */
int addr_split_flow_list(char opt, const char *s, struct addr_flow_item *items, size_t cap,
                         size_t *n, char *err, size_t errlen);

#define ADDR_FLOWGRIND_CONTROL_PORT 5999

/* flowgrind's -H value "HOST[/CONTROL[:PORT]]" (flowgrind.md §3.5). HOST is the test
 * address; CONTROL the XML-RPC address (default HOST), PORT its port (default 5999). A
 * host part is "[v6]", "[v6]:port", "v4:port", "name:port", or a bare name, v4 or v6
 * literal (more than one ':' and no brackets: all of it is the host). Unlike flowgrind
 * 0.8.2 (issue #224) "HOST:PORT" without '/' is accepted: HOST is the test address, and
 * HOST:PORT the control address. */
struct addr_flowgrind_host {
    char test[ADDR_HOST_MAX];    /* brackets stripped */
    char control[ADDR_HOST_MAX]; /* brackets stripped; equals test when not given */
    uint16_t port;               /* control port; 5999 when not given */
    bool has_control;            /* a "/CONTROL" part was given */
};

/* 0, or -EINVAL with err naming the problem ("empty test address in -H value 'x'",
 * "invalid control port 'p' in -H value 'x'", "unbalanced '[' ..."). */
int addr_parse_flowgrind_host(const char *s, struct addr_flowgrind_host *out, char *err,
                              size_t errlen);

/* The daemon URL of h: "http://CONTROL:PORT/RPC2", with CONTROL in brackets when it is an
 * IPv6 literal (contains ':'). Returns snprintf's length (>= len: truncated). */
int addr_flowgrind_url(const struct addr_flowgrind_host *h, char *buf, size_t len);

/* flowgrind's summary form: TEST, then "/CONTROL" when it differs from TEST, then ":PORT"
 * when PORT is not 5999 ("127.0.0.1:20100", "::1/127.0.0.1:20100"). Returns snprintf's
 * length. */
int addr_flowgrind_label(const struct addr_flowgrind_host *h, char *buf, size_t len);

#endif
