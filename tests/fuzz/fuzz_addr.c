/* libFuzzer target for src/core/addr.c: endpoints under every flag combination, ports,
 * UDPing port descriptors and MAC lists, flowgrind endpoint lists and -H values. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

static void check_err(int rc, const char *err, size_t cap)
{
    size_t n = strnlen(err, cap);
    CHECK(n < cap);
    if (rc != 0)
        CHECK(n > 0);
}

static void fuzz_endpoint(const char *s, size_t len)
{
    char err[256];
    for (unsigned flags = 0; flags < 16; flags++) {
        struct addr_endpoint e;
        err[0] = '\0';
        int rc = addr_parse_endpoint(s, flags, &e, err, sizeof err);
        check_err(rc, err, sizeof err);
        if (rc != 0)
            continue;
        CHECK(strnlen(e.host, ADDR_HOST_MAX) < ADDR_HOST_MAX);
        CHECK(strnlen(e.port, ADDR_PORT_MAX) < ADDR_PORT_MAX);
        CHECK(strnlen(e.local, ADDR_HOST_MAX) < ADDR_HOST_MAX);
        CHECK(!e.has_local || (flags & ADDR_F_LOCAL));
        CHECK(e.path == NULL ||
              ((flags & ADDR_F_PATH) && e.path >= s && e.path < s + len && *e.path == '/'));
        CHECK(e.port[0] || (flags & ADDR_F_PORT_OPTIONAL));
    }
    uint16_t p;
    (void)addr_parse_port(s, &p);
}

static void fuzz_port_list(const char *s, unsigned count)
{
    static uint16_t ports[5000];
    static uint8_t seen[65536];
    char err[256];
    size_t n = 0;
    err[0] = '\0';
    int rc = addr_parse_port_list(s, 1024, 60000, count, ports, 5000, &n, err, sizeof err);
    check_err(rc, err, sizeof err);
    if (rc != 0)
        return;
    CHECK(n >= 1 && n <= 5000);
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < n; i++) {
        CHECK(ports[i] >= 1024 && ports[i] <= 60000);
        CHECK(!seen[ports[i]]);
        seen[ports[i]] = 1;
    }
    if (count)
        CHECK(n == count);
}

static void fuzz_lists(const char *s)
{
    char err[256];
    uint8_t macs[8][6];
    size_t n = 0;
    err[0] = '\0';
    int rc = addr_parse_mac_list(s, macs, 8, &n, err, sizeof err);
    check_err(rc, err, sizeof err);
    if (rc == 0)
        CHECK(n >= 1 && n <= 8);

    struct addr_flow_item items[4];
    err[0] = '\0';
    rc = addr_split_flow_list('H', s, items, 4, &n, err, sizeof err);
    check_err(rc, err, sizeof err);
    if (rc != 0)
        return;
    CHECK(n >= 1 && n <= 4);
    for (size_t i = 0; i < n; i++) {
        CHECK(items[i].which == 's' || items[i].which == 'd' || items[i].which == 'b');
        CHECK(items[i].value >= s && items[i].value + items[i].value_len <= s + strlen(s));
        /* Each value is then a -H value. */
        char value[600];
        size_t vl = items[i].value_len < sizeof value - 1 ? items[i].value_len : sizeof value - 1;
        memcpy(value, items[i].value, vl);
        value[vl] = '\0';
        struct addr_flowgrind_host h;
        err[0] = '\0';
        rc = addr_parse_flowgrind_host(value, &h, err, sizeof err);
        check_err(rc, err, sizeof err);
        if (rc != 0)
            continue;
        CHECK(h.test[0] && h.control[0] && h.port != 0);
        char url[600], label[600];
        CHECK(addr_flowgrind_url(&h, url, sizeof url) > 0);
        CHECK(addr_flowgrind_label(&h, label, sizeof label) > 0);
        char tiny[3];
        (void)addr_flowgrind_label(&h, tiny, sizeof tiny);
        CHECK(strlen(tiny) <= 2);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = strlen(s);
    fuzz_endpoint(s, len);
    /* The first byte picks a -n count for the port descriptor (0: none). */
    fuzz_port_list(s, 0);
    if (size > 1)
        fuzz_port_list(s + 1, (unsigned)(data[0] % 8));
    fuzz_lists(s);
    struct addr_flowgrind_host h;
    char err[64];
    (void)addr_parse_flowgrind_host(s, &h, err, sizeof err);
    free(s);
    return 0;
}
