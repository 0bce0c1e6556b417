/* Address strings as the tools write them, split without resolving. */

#include "core/addr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

/* Copies the n bytes at s into dst (size cap) as a string; false when it does not fit. */
static bool copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* The first of the n bytes at s that no host or port name may contain (space, control
 * characters), or NULL. */
static const char *find_bad_char(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f)
            return s + i;
    }
    return NULL;
}

/* Splits a host that may be in brackets: "[v6]" -> "v6". On return *rest points past the
 * host part (at ':' or the end). whole is the full input, for messages. */
static int split_host(const char *s, size_t n, const char **host, size_t *hostlen,
                      const char **rest, const char *whole, char *err, size_t errlen)
{
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) {
            snprintf(err, errlen, "unbalanced '[' in '%s'", whole);
            return -EINVAL;
        }
        *host = s + 1;
        *hostlen = (size_t)(close - s - 1);
        if (*hostlen == 0) {
            snprintf(err, errlen, "empty address in brackets in '%s'", whole);
            return -EINVAL;
        }
        if (memchr(*host, '[', *hostlen)) {
            snprintf(err, errlen, "unbalanced '[' in '%s'", whole);
            return -EINVAL;
        }
        *rest = close + 1;
        if (*rest < s + n && **rest != ':') {
            snprintf(err, errlen, "unexpected '%c' after ']' in '%s'", **rest, whole);
            return -EINVAL;
        }
        return 0;
    }
    if (memchr(s, ']', n)) {
        snprintf(err, errlen, "unbalanced ']' in '%s'", whole);
        return -EINVAL;
    }
    if (memchr(s, '[', n)) {
        snprintf(err, errlen, "unbalanced '[' in '%s'", whole);
        return -EINVAL;
    }
    *host = s;
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ':')
            colon = s + i;
    *hostlen = colon ? (size_t)(colon - s) : n;
    *rest = s + *hostlen;
    return 0;
}

static int parse_local(const char *s, size_t n, struct addr_endpoint *out, const char *whole,
                       char *err, size_t errlen)
{
    const char *host, *rest;
    size_t hostlen;
    if (n == 0) {
        snprintf(err, errlen, "empty local address before ',' in '%s'", whole);
        return -EINVAL;
    }
    int rc = split_host(s, n, &host, &hostlen, &rest, whole, err, errlen);
    if (rc)
        return rc;
    /* A local address without brackets may be IPv6 with colons: take it whole. */
    if (s[0] != '[') {
        host = s;
        hostlen = n;
    } else if (rest != s + n) {
        snprintf(err, errlen, "unexpected port in local address in '%s'", whole);
        return -EINVAL;
    }
    if (!copy_part(out->local, sizeof out->local, host, hostlen)) {
        snprintf(err, errlen, "local address too long in '%s' (at most %d bytes)", whole,
                 ADDR_HOST_MAX - 1);
        return -EINVAL;
    }
    out->has_local = true;
    return 0;
}

int addr_parse_endpoint(const char *s, unsigned flags, struct addr_endpoint *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s || !*s) {
        snprintf(err, errlen, "empty address");
        return -EINVAL;
    }
    const char *bad = find_bad_char(s, strlen(s));
    if (bad) {
        snprintf(err, errlen, "invalid character 0x%02x in address '%s'", (unsigned char)*bad, s);
        return -EINVAL;
    }
    const char *p = s;
    const char *comma = strchr(s, ',');
    if (comma) {
        if (!(flags & ADDR_F_LOCAL)) {
            snprintf(err, errlen, "unexpected ',' in '%s'", s);
            return -EINVAL;
        }
        int rc = parse_local(s, (size_t)(comma - s), out, s, err, errlen);
        if (rc)
            return rc;
        p = comma + 1;
        if (strchr(p, ',')) {
            snprintf(err, errlen, "more than one ',' in '%s'", s);
            return -EINVAL;
        }
    }
    size_t n = strlen(p);
    const char *slash = strchr(p, '/');
    if (slash) {
        if (!(flags & ADDR_F_PATH)) {
            snprintf(err, errlen, "unexpected '/' in '%s'", s);
            return -EINVAL;
        }
        out->path = slash;
        n = (size_t)(slash - p);
    }
    if (n == 0) {
        snprintf(err, errlen, "missing host in '%s'", s);
        return -EINVAL;
    }

    if ((flags & ADDR_F_HOST_OPTIONAL) && strspn(p, "0123456789") >= n) {
        if (!copy_part(out->port, sizeof out->port, p, n)) {
            snprintf(err, errlen, "port too long in '%s' (at most %d bytes)", s, ADDR_PORT_MAX - 1);
            return -EINVAL;
        }
        return 0;
    }
    const char *host, *rest;
    size_t hostlen;
    int rc = split_host(p, n, &host, &hostlen, &rest, s, err, errlen);
    if (rc)
        return rc;
    if (!copy_part(out->host, sizeof out->host, host, hostlen)) {
        snprintf(err, errlen, "host too long in '%s' (at most %d bytes)", s, ADDR_HOST_MAX - 1);
        return -EINVAL;
    }
    const char *end = p + n;
    if (rest == end) {
        if (!(flags & ADDR_F_PORT_OPTIONAL)) {
            snprintf(err, errlen, "missing port in '%s'", s);
            return -EINVAL;
        }
        return 0;
    }
    /* *rest == ':' */
    const char *port = rest + 1;
    size_t portlen = (size_t)(end - port);
    if (portlen == 0) {
        snprintf(err, errlen, "missing port after ':' in '%s'", s);
        return -EINVAL;
    }
    for (size_t i = 0; i < portlen; i++) {
        char c = port[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || c == '.')) {
            snprintf(err, errlen, "invalid character '%c' in port of '%s'", c, s);
            return -EINVAL;
        }
    }
    if (!copy_part(out->port, sizeof out->port, port, portlen)) {
        snprintf(err, errlen, "port too long in '%s' (at most %d bytes)", s, ADDR_PORT_MAX - 1);
        return -EINVAL;
    }
    return 0;
}

int addr_parse_port(const char *s, uint16_t *out)
{
    if (!s || !*s || strlen(s) > 5)
        return -EINVAL;
    unsigned v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > 65535)
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

/* ---- UDPing's source-port descriptor ---- */

/* The value of the decimal digits s[0..len) (all digits), saturated at UINT32_MAX. */
static uint32_t digits_value(const char *s, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return UINT32_MAX;
    }
    return (uint32_t)v;
}

static int check_port_bounds(uint32_t port, uint16_t min, uint16_t max, char *err, size_t errlen)
{
    if (port < min) {
        snprintf(err, errlen, "Port too low: %u", port);
        return -ERANGE;
    }
    if (port > max) {
        if (port == UINT32_MAX)
            snprintf(err, errlen, "Port too high: %s", "(more than 4294967294)");
        else
            snprintf(err, errlen, "Port too high: %u", port);
        return -ERANGE;
    }
    return 0;
}

/* Appends the ports first..last to the list, refusing duplicates and overflow. seen is a
 * 65536-bit set of the ports already in the list. */
static int append_port_range(uint32_t first, uint32_t last, const char *whole, uint8_t *seen,
                             uint16_t *ports, size_t cap, size_t *n, char *err, size_t errlen)
{
    for (uint32_t p = first; p <= last; p++) {
        if (seen[p >> 3] & (1u << (p & 7))) {
            snprintf(err, errlen, "Duplicate port %u in source port descriptor %s", p, whole);
            return -EINVAL;
        }
        if (*n >= cap) {
            snprintf(err, errlen, "Too many ports defined");
            return -ERANGE;
        }
        seen[p >> 3] |= (uint8_t)(1u << (p & 7));
        ports[(*n)++] = (uint16_t)p;
    }
    return 0;
}

/* One item of the descriptor: "P" or "A-B", len bytes at item. */
static int parse_port_item(const char *item, size_t len, const char *whole, uint16_t min,
                           uint16_t max, uint32_t *first, uint32_t *last, char *err, size_t errlen)
{
    const char *dash = memchr(item, '-', len);
    size_t alen = dash ? (size_t)(dash - item) : len;
    size_t blen = dash ? len - alen - 1 : 0;
    if (alen == 0 || (dash && (blen == 0 || memchr(dash + 1, '-', blen)))) {
        snprintf(err, errlen, "Invalid source port descriptor %s", whole);
        return -EINVAL;
    }
    *first = digits_value(item, alen);
    *last = dash ? digits_value(dash + 1, blen) : *first;
    int rc = check_port_bounds(*first, min, max, err, errlen);
    if (!rc)
        rc = check_port_bounds(*last, min, max, err, errlen);
    if (rc)
        return rc;
    if (*first > *last) {
        snprintf(err, errlen, "Invalid port range %u-%u", *first, *last);
        return -EINVAL;
    }
    return 0;
}

int addr_parse_port_list(const char *s, uint16_t min, uint16_t max, unsigned count, uint16_t *ports,
                         size_t cap, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    if (!s || !*s || strspn(s, "0123456789,-") != strlen(s)) {
        snprintf(err, errlen, "Invalid source port descriptor %s", s ? s : "");
        return -EINVAL;
    }
    if (count > 0 && strpbrk(s, ",-")) {
        snprintf(err, errlen, "-n applies to a single start port, not to '%s'", s);
        return -EINVAL;
    }
    uint8_t seen[65536 / 8] = {0};
    const char *item = s;
    for (;;) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        if (len == 0) {
            snprintf(err, errlen, "Invalid source port descriptor %s", s);
            return -EINVAL;
        }
        uint32_t first, last;
        int rc = parse_port_item(item, len, s, min, max, &first, &last, err, errlen);
        if (rc)
            return rc;
        if (count > 0) {
            uint64_t end = (uint64_t)first + count - 1;
            last = end > UINT32_MAX ? UINT32_MAX : (uint32_t)end;
            rc = check_port_bounds(last, min, max, err, errlen);
            if (rc)
                return rc;
        }
        rc = append_port_range(first, last, s, seen, ports, cap, n, err, errlen);
        if (rc)
            return rc;
        if (!comma)
            return 0;
        item = comma + 1;
    }
}

/* ---- MAC lists ---- */

/* Six 1- or 2-digit hex octets joined by ':', exactly len bytes. */
static bool parse_mac(const char *s, size_t len, uint8_t mac[6])
{
    size_t i = 0;
    for (int octet = 0; octet < 6; octet++) {
        if (octet > 0) {
            if (i >= len || s[i] != ':')
                return false;
            i++;
        }
        int v = 0, digits = 0;
        while (i < len && digits < 3 && util_hex_digit((unsigned char)s[i]) >= 0) {
            v = v * 16 + util_hex_digit((unsigned char)s[i]);
            i++;
            digits++;
        }
        if (digits == 0 || digits > 2)
            return false;
        mac[octet] = (uint8_t)v;
    }
    return i == len;
}

int addr_parse_mac_list(const char *s, uint8_t (*macs)[6], size_t cap, size_t *n, char *err,
                        size_t errlen)
{
    *n = 0;
    if (!s) {
        snprintf(err, errlen, "Invalid MAC string ''");
        return -EINVAL;
    }
    const char *item = s;
    for (;;) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        if (*n >= cap) {
            snprintf(err, errlen, "too many MAC addresses (at most %zu)", cap);
            return -ERANGE;
        }
        if (!parse_mac(item, len, macs[*n])) {
            snprintf(err, errlen, "Invalid MAC string '%.*s'", (int)len, item);
            return -EINVAL;
        }
        (*n)++;
        if (!comma)
            return 0;
        item = comma + 1;
    }
}

/* ---- flowgrind ---- */

int addr_split_flow_list(char opt, const char *s, struct addr_flow_item *items, size_t cap,
                         size_t *n, char *err, size_t errlen)
{
    *n = 0;
    const char *item = s ? s : "";
    for (;;) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        if (len == 0 || (item[0] != 's' && item[0] != 'd' && item[0] != 'b')) {
            snprintf(err, errlen, "Invalid endpoint specifier in Option -%c", opt);
            return -EINVAL;
        }
        if (*n >= cap) {
            snprintf(err, errlen, "too many endpoint items in Option -%c", opt);
            return -ERANGE;
        }
        size_t skip = (len > 1 && item[1] == '=') ? 2 : 1;
        items[*n].which = item[0];
        items[*n].value = item + skip;
        items[*n].value_len = len - skip;
        (*n)++;
        if (!comma)
            return 0;
        item = comma + 1;
    }
}

/* One host part of a -H value (len bytes at s): "[v6]", "[v6]:port", "host:port", or a
 * bare host (no ':' or more than one). *port is 0 when none was given. */
static int parse_fg_host_part(const char *s, size_t len, const char *what, const char *whole,
                              char *host, uint16_t *port, char *err, size_t errlen)
{
    const char *h = s, *port_s = NULL;
    size_t hlen = len;
    *port = 0;
    if (len == 0) {
        snprintf(err, errlen, "empty %s address in -H value '%s'", what, whole);
        return -EINVAL;
    }
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close || close == s + 1) {
            snprintf(err, errlen, "unbalanced '[' in -H value '%s'", whole);
            return -EINVAL;
        }
        h = s + 1;
        hlen = (size_t)(close - s - 1);
        if (close + 1 < s + len) {
            if (close[1] != ':') {
                snprintf(err, errlen, "unexpected '%c' after ']' in -H value '%s'", close[1],
                         whole);
                return -EINVAL;
            }
            port_s = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon && !memchr(colon + 1, ':', (size_t)(s + len - colon - 1))) {
            hlen = (size_t)(colon - s);
            port_s = colon + 1;
        }
    }
    if (hlen == 0) {
        snprintf(err, errlen, "empty %s address in -H value '%s'", what, whole);
        return -EINVAL;
    }
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= ' ' || c == 0x7f || c == '[' || c == ']' || c == ',') {
            snprintf(err, errlen, "invalid character in %s address of -H value '%s'", what, whole);
            return -EINVAL;
        }
    }
    if (!copy_part(host, ADDR_HOST_MAX, h, hlen)) {
        snprintf(err, errlen, "%s address too long in -H value '%s'", what, whole);
        return -EINVAL;
    }
    if (port_s) {
        char buf[8];
        size_t plen = (size_t)(s + len - port_s);
        if (!copy_part(buf, sizeof buf, port_s, plen) || addr_parse_port(buf, port) < 0 ||
            *port == 0) {
            snprintf(err, errlen, "invalid control port '%.*s' in -H value '%s'", (int)plen, port_s,
                     whole);
            return -EINVAL;
        }
    }
    return 0;
}

int addr_parse_flowgrind_host(const char *s, struct addr_flowgrind_host *out, char *err,
                              size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s)
        s = "";
    const char *slash = strchr(s, '/');
    size_t tlen = slash ? (size_t)(slash - s) : strlen(s);
    uint16_t port = 0;
    int rc = parse_fg_host_part(s, tlen, "test", s, out->test, &port, err, errlen);
    if (rc)
        return rc;
    if (slash) {
        if (port) {
            snprintf(err, errlen,
                     "a port on the test address in -H value '%s' (the port "
                     "belongs to the control address after '/')",
                     s);
            return -EINVAL;
        }
        if (strchr(slash + 1, '/')) {
            snprintf(err, errlen, "more than one '/' in -H value '%s'", s);
            return -EINVAL;
        }
        rc = parse_fg_host_part(slash + 1, strlen(slash + 1), "control", s, out->control, &port,
                                err, errlen);
        if (rc)
            return rc;
        out->has_control = true;
    } else {
        memcpy(out->control, out->test, sizeof out->control);
    }
    out->port = port ? port : ADDR_FLOWGRIND_CONTROL_PORT;
    return 0;
}

int addr_flowgrind_url(const struct addr_flowgrind_host *h, char *buf, size_t len)
{
    bool v6 = strchr(h->control, ':') != NULL;
    return snprintf(buf, len, v6 ? "http://[%s]:%u/RPC2" : "http://%s:%u/RPC2", h->control,
                    (unsigned)h->port);
}

int addr_flowgrind_label(const struct addr_flowgrind_host *h, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s", h->test);
    size_t used = n < 0 ? 0 : (size_t)n;
    if (strcmp(h->control, h->test) != 0)
        n += snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0, "/%s",
                      h->control);
    used = n < 0 ? 0 : (size_t)n;
    if (h->port != ADDR_FLOWGRIND_CONTROL_PORT)
        n += snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0, ":%u",
                      (unsigned)h->port);
    return n;
}
