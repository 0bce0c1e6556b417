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
    char host[ADDR_HOST_MAX];  /* brackets stripped; "" when the string gave none */
    char port[ADDR_PORT_MAX];  /* as written (a number or a service name); "" when none */
    bool has_local;
    char local[ADDR_HOST_MAX]; /* the part before ',' with ADDR_F_LOCAL; brackets stripped */
    const char *path;          /* with ADDR_F_PATH: points into the input at '/', else NULL */
};

#define ADDR_F_LOCAL 1u         /* accept "local,host:port" */
#define ADDR_F_PORT_OPTIONAL 2u /* "host" alone is fine (port left "") */
#define ADDR_F_PATH 4u          /* accept "host:port/path" (tcpkali's WebSocket path) */

/* Splits s into its parts. The port follows the last ':' outside brackets ("::1:80" is
 * host "::1", port "80"; "[::1]:80" the same). Returns 0, or -EINVAL with err naming the
 * problem ("missing port in 'x'", "unbalanced '[' in 'x'", "host too long ...").
 * out->path points into s. */
int addr_parse_endpoint(const char *s, unsigned flags, struct addr_endpoint *out, char *err,
                        size_t errlen);

/* A decimal port 0..65535 with nothing after it. 0 or -EINVAL. */
int addr_parse_port(const char *s, uint16_t *out);

#endif
