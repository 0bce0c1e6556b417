/* udping_client's sending logic: GUIDs, payload sizes, data and control datagrams, Poisson
 * pacing per port and the -d 0 round-robin. No socket calls here: datagrams leave through
 * the client's send hooks, so the unit tests drive all of it on simulated time. */
#include "udping/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/util.h"

void udping_guid_new(struct rng *r, char out[UDPING_GUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t bits = 0;
    for (int i = 0; i < UDPING_GUID_LEN; i++) {
        if (i % 16 == 0)
            bits = rng_next(r);
        out[i] = hex[bits & 15];
        bits >>= 4;
    }
    out[UDPING_GUID_LEN] = '\0';
}

size_t udping_payload_size(struct rng *r, size_t max_size)
{
    if (max_size <= UDPING_HDR_LEN)
        return UDPING_HDR_LEN;
    return (size_t)rng_range(r, UDPING_HDR_LEN, max_size);
}

int64_t udping_period_end(int64_t now_s, int64_t interval_s)
{
    int64_t start = now_s - ((now_s % interval_s) + interval_s) % interval_s;
    return start + interval_s;
}

static void port_timer_expired(struct loop *loop, struct loop_timer *t)
{
    struct udping_port *p = container_of(t, struct udping_port, timer);
    struct udping_client *c = p->client;
    uint64_t next = udping_port_fire(c, p, loop_update_now(loop));
    if (next && !c->stopping)
        loop_timer_arm(loop, t, next);
    else if (!next && c->ports_done == c->nports)
        udping_client_stop(c);
}

void udping_port_init(struct udping_client *c, struct udping_port *p, uint16_t port,
                      double mean_delay_ms, uint64_t seed, uint64_t start_ns)
{
    memset(p, 0, sizeof *p);
    p->client = c;
    p->port = port;
    p->fd = -1;
    loop_timer_init(&p->timer, port_timer_expired);
    udping_guid_new(&c->rng, p->guid);
    if (mean_delay_ms > 0) {
        pace_sched_init_poisson(&p->sched, mean_delay_ms * (double)NS_PER_MS, seed, start_ns);
        /* A Poisson stream seen from any instant has its next arrival one exponential gap
         * later: skip t0, or every port would send at once at start-up. */
        pace_sched_advance(&p->sched);
    }
}

/* The header of p's next data datagram (offset `ahead` in a batch under construction),
 * stamped with now_ns (CLOCK_REALTIME), encoded at dgram; returns its size. */
static size_t build_data(struct udping_client *c, struct udping_port *p, uint64_t ahead,
                         uint64_t now_ns, uint8_t *dgram)
{
    struct udping_hdr h = {
        .proto_version = UDPING_PROTO_DATA,
        .client_start = c->client_start,
        .seq = (uint32_t)(p->seq + ahead), /* wraps at 2^32, as the field does */
        .sent_sec = (int64_t)(now_ns / NS_PER_SEC),
        .sent_nsec = (int64_t)(now_ns % NS_PER_SEC),
        .size = (uint32_t)udping_payload_size(&c->rng, (size_t)c->cfg->max_size),
    };
    memcpy(h.guid, p->guid, sizeof h.guid);
    /* Only the header is written: the padding after it was zeroed once and stays zero. */
    udping_hdr_encode(&h, dgram);
    return h.size;
}

bool udping_port_roll_if_due(struct udping_client *c, struct udping_port *p, uint64_t now_ns)
{
    int64_t now_s = (int64_t)(now_ns / NS_PER_SEC);
    if (p->period_end_s == 0 || now_s < p->period_end_s)
        return false;
    udping_port_end_guid(c, p);
    p->period_end_s = udping_period_end(now_s, c->cfg->interval_s);
    return true;
}

/* A data datagram of len bytes went out from p. */
static void commit_data(struct udping_client *c, struct udping_port *p, size_t len)
{
    p->seq++;
    p->guid_sent++;
    p->data_sent++;
    p->bytes += len;
    c->data_sent++;
    c->bytes += len;
    if (c->cfg->raw)
        frame_mac_next(c->cfg->macs, c->cfg->nmacs, &p->mac_pos);
}

/* At most one warning a second, whatever its kind. */
static bool warn_now(struct udping_client *c)
{
    uint64_t now = clock_mono_ns();
    if (c->last_warn_ns != 0 && now - c->last_warn_ns < NS_PER_SEC)
        return false;
    c->last_warn_ns = now;
    return true;
}

void udping_client_send_failed(struct udping_client *c, struct udping_port *p, int err)
{
    p->errors++;
    c->errors++;
    c->last_errno = err;
    if (warn_now(c))
        fprintf(stderr, "%s: send from port %u failed: %s\n", UDPING_CLIENT_PROG, p->port,
                strerror(err));
}

void udping_client_icmp_error(struct udping_client *c, struct udping_port *p, int err)
{
    c->icmp_errors++;
    c->last_icmp_errno = err;
    if (warn_now(c))
        fprintf(stderr, "%s: ICMP error reported to port %u: %s\n", UDPING_CLIENT_PROG, p->port,
                strerror(err));
}

bool udping_port_check_done(struct udping_client *c, struct udping_port *p)
{
    if (p->done)
        return true;
    if (c->cfg->count == 0 || p->data_sent < c->cfg->count)
        return false;
    p->done = true;
    c->ports_done++;
    return true;
}

static const uint8_t *port_mac(struct udping_client *c, struct udping_port *p, uint64_t ahead)
{
    if (!c->cfg->raw)
        return NULL;
    return frame_mac_peek(c->cfg->macs, c->cfg->nmacs, p->mac_pos + ahead);
}

int udping_port_send_data(struct udping_client *c, struct udping_port *p)
{
    uint8_t *slot = c->slots;
    /* The period is checked against the very time stamped in the datagram, so every data
     * packet of a GUID carries a time inside the GUID's period (the period timer may fire
     * a little late). */
    uint64_t now = c->real_ns();
    udping_port_roll_if_due(c, p, now);
    size_t len = build_data(c, p, 0, now, slot + FRAME_PAYLOAD_OFF);
    int rc = c->send_one(c, p, slot, len, port_mac(c, p, 0));
    if (rc < 0) {
        udping_client_send_failed(c, p, -rc);
        return rc;
    }
    commit_data(c, p, len);
    return 0;
}

static void record_guid(struct udping_client *c, struct udping_port *p, bool control_sent)
{
    if (!c->keep_history)
        return;
    if (p->nhist == p->caphist) {
        size_t cap = p->caphist ? p->caphist * 2 : 4;
        struct udping_guid_rec *v = realloc(p->hist, cap * sizeof *v);
        if (!v)
            return; /* the record is lost, the run goes on; the totals stay right */
        p->hist = v;
        p->caphist = cap;
    }
    struct udping_guid_rec *g = &p->hist[p->nhist++];
    memcpy(g->guid, p->guid, sizeof g->guid);
    g->first_seq = p->guid_first_seq;
    g->data_sent = p->guid_sent;
    g->control_sent = control_sent;
}

int udping_port_end_guid(struct udping_client *c, struct udping_port *p)
{
    if (p->guid_sent == 0) {
        /* Nothing was sent under this GUID: there is nothing to account for, so no control
         * packet (a server would only print an empty record); the GUID is just replaced. */
        udping_guid_new(&c->rng, p->guid);
        p->guid_first_seq = p->seq;
        return 0;
    }
    uint8_t *slot = c->slots + UDPING_CTL_SLOT * UDPING_SLOT_LEN;
    struct udping_hdr h = {
        .proto_version = UDPING_PROTO_CONTROL,
        .client_start = c->client_start,
        .seq = (uint32_t)p->guid_sent, /* the count of data packets under this GUID */
        .sent_sec = 0,
        .sent_nsec = 0,
        .size = UDPING_HDR_LEN,
    };
    memcpy(h.guid, p->guid, sizeof h.guid);
    udping_hdr_encode(&h, slot + FRAME_PAYLOAD_OFF);
    /* The control packet goes to the MAC the next data packet will use and does not move
     * the rotation, so the data packets keep the original's MAC order. */
    int rc = c->send_one(c, p, slot, UDPING_HDR_LEN, port_mac(c, p, 0));
    if (rc < 0) {
        udping_client_send_failed(c, p, -rc);
    } else {
        p->control_sent++;
        p->bytes += UDPING_HDR_LEN;
        c->control_sent++;
        c->bytes += UDPING_HDR_LEN;
    }
    record_guid(c, p, rc == 0);
    udping_guid_new(&c->rng, p->guid);
    p->guid_first_seq = p->seq;
    p->guid_sent = 0;
    return rc < 0 ? rc : 0;
}

uint64_t udping_port_fire(struct udping_client *c, struct udping_port *p, uint64_t now_ns)
{
    for (int n = 0; n < UDPING_BURST_MAX && pace_sched_next(&p->sched) <= now_ns; n++) {
        if (udping_port_check_done(c, p))
            return 0;
        /* The next intended time follows from this one, not from now: a late send does
         * not push the schedule back. A failed send is counted and not retried. */
        pace_sched_advance(&p->sched);
        udping_port_send_data(c, p);
    }
    if (udping_port_check_done(c, p))
        return 0;
    return pace_sched_next(&p->sched);
}

/* The next port of the round-robin that is not done, or NULL when all are. */
static struct udping_port *next_port(struct udping_client *c)
{
    for (size_t tries = 0; tries < c->nports; tries++) {
        struct udping_port *p = &c->ports[c->rr_next];
        c->rr_next = (c->rr_next + 1) % c->nports;
        if (c->cfg->count == 0 || p->data_sent + p->pending < c->cfg->count)
            return p;
    }
    return NULL;
}

/* Raw mode: builds a batch of complete frames and hands it to the kernel in one call. */
static size_t pump_batch(struct udping_client *c)
{
    uint8_t *slots[UDPING_BATCH];
    size_t lens[UDPING_BATCH], dlen[UDPING_BATCH];
    struct udping_port *who[UDPING_BATCH];
    size_t n = 0;
    for (; n < UDPING_BATCH; n++) {
        struct udping_port *p = next_port(c);
        if (!p)
            break;
        uint64_t now = c->real_ns();
        if (p->pending && p->period_end_s && (int64_t)(now / NS_PER_SEC) >= p->period_end_s) {
            /* p's period ended while some of its datagrams wait in this batch: they belong
             * to the old GUID, so they go first; p rolls over at the next batch. */
            c->rr_next = (size_t)(p - c->ports);
            break;
        }
        udping_port_roll_if_due(c, p, now); /* its control packet goes out on its own */
        slots[n] = c->slots + n * UDPING_SLOT_LEN;
        dlen[n] = build_data(c, p, p->pending, now, slots[n] + FRAME_PAYLOAD_OFF);
        c->addrs.src_port = p->port;
        memcpy(c->addrs.dst_mac, port_mac(c, p, p->pending), 6);
        lens[n] = frame_finish(slots[n], UDPING_SLOT_LEN, &c->addrs, dlen[n]);
        who[n] = p;
        p->pending++;
    }
    int sent = n ? c->send_batch(c, slots, lens, n) : 0;
    for (size_t i = 0; i < n; i++)
        who[i]->pending = 0;
    if (sent < 0) {
        /* The first frame failed: it is counted and dropped (its sequence number is
         * reused), and the round-robin moves past its port. */
        udping_client_send_failed(c, who[0], -sent);
        c->rr_next = (size_t)(who[0] - c->ports + 1) % c->nports;
        return 0;
    }
    for (int i = 0; i < sent; i++) {
        commit_data(c, who[i], dlen[i]);
        udping_port_check_done(c, who[i]);
    }
    /* The kernel took a prefix (its error, if any, comes with the next call): the rest are
     * rebuilt, with the same sequence numbers, from the first that did not go out. */
    if ((size_t)sent < n)
        c->rr_next = (size_t)(who[sent] - c->ports);
    return (size_t)sent;
}

size_t udping_client_pump(struct udping_client *c)
{
    if (c->send_batch)
        return pump_batch(c);
    size_t sent = 0;
    for (size_t i = 0; i < UDPING_BATCH; i++) {
        struct udping_port *p = next_port(c);
        if (!p)
            break;
        if (udping_port_send_data(c, p) == 0) {
            sent++;
            udping_port_check_done(c, p);
        }
    }
    return sent;
}
