/* udping_server's accounting (see session.h for the rules). */
#include "udping/session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* ---- sequence-number set ---------------------------------------------------------------- */

static size_t seq_index(const struct udping_seqs *s, int64_t off)
{
    return (size_t)((uint64_t)off & (s->nbits - 1));
}

static bool seq_bit(const struct udping_seqs *s, int64_t off)
{
    size_t i = seq_index(s, off);
    return (s->bits[i >> 6] >> (i & 63)) & 1;
}

static void seq_set(struct udping_seqs *s, int64_t off)
{
    size_t i = seq_index(s, off);
    s->bits[i >> 6] |= 1ull << (i & 63);
}

/* Clears n (< nbits) ring positions starting at index i, wrapping at nbits. */
static void seq_clear_ring(struct udping_seqs *s, size_t i, size_t n)
{
    while (n > 0) {
        if ((i & 63) == 0 && n >= 64) {
            size_t words = n / 64;
            size_t room = (s->nbits - i) / 64;
            if (words > room)
                words = room;
            memset(&s->bits[i >> 6], 0, words * sizeof s->bits[0]);
            i = (i + words * 64) & (s->nbits - 1);
            n -= words * 64;
            continue;
        }
        s->bits[i >> 6] &= ~(1ull << (i & 63));
        i = (i + 1) & (s->nbits - 1);
        n--;
    }
}

/* Clears the bits of the offsets (from, to]: they enter the window as it moves up, and
 * their positions still hold the offsets that leave it. */
static void seq_clear_entering(struct udping_seqs *s, int64_t from, int64_t to)
{
    uint64_t n = (uint64_t)(to - from);
    if (n >= s->nbits) {
        memset(s->bits, 0, s->nbits / 8);
        return;
    }
    seq_clear_ring(s, seq_index(s, from + 1), (size_t)n);
}

/* Makes the window at least span bits wide if the limits allow; keeps every bit. */
static void seqs_grow(struct udping_seqs *s, uint64_t span, size_t *budget)
{
    if (span <= s->nbits || s->nbits >= UDPING_SEQ_BITS_MAX)
        return;
    size_t n = s->nbits ? s->nbits : UDPING_SEQ_BITS_MIN;
    while (n < span && n < UDPING_SEQ_BITS_MAX)
        n *= 2;
    size_t add = (n - s->nbits) / 8;
    if (budget && *budget < add)
        return;
    uint64_t *bits = calloc(n / 64, sizeof *bits);
    if (!bits)
        return;
    if (s->nbits) {
        for (int64_t off = s->max_off - (int64_t)s->nbits + 1; off <= s->max_off; off++) {
            if (seq_bit(s, off)) {
                size_t i = (size_t)((uint64_t)off & (n - 1));
                bits[i >> 6] |= 1ull << (i & 63);
            }
        }
    }
    free(s->bits);
    s->bits = bits;
    s->nbits = n;
    if (budget)
        *budget -= add;
}

enum udping_seq_class udping_seqs_add(struct udping_seqs *s, uint32_t seq, size_t *budget)
{
    if (!s->any) {
        s->any = true;
        s->max_seq = seq;
        s->min_off = s->max_off = 0;
        s->floor = INT64_MIN;
        seqs_grow(s, 1, budget);
        if (s->nbits)
            seq_set(s, 0);
        return UDPING_SEQ_NEW;
    }
    int32_t d = (int32_t)(seq - s->max_seq);
    int64_t off = s->max_off + d;
    if (d > 0) {
        seqs_grow(s, (uint64_t)(off - s->min_off) + 1, budget);
        if (s->nbits) {
            seq_clear_entering(s, s->max_off, off);
            int64_t lo = off - (int64_t)s->nbits + 1;
            if (s->min_off < lo && lo > s->floor)
                s->floor = lo; /* received numbers fell out of the window */
            seq_set(s, off);
        } else {
            s->floor = off;
        }
        s->max_off = off;
        s->max_seq = seq;
        return UDPING_SEQ_NEW;
    }
    if (d == 0)
        return UDPING_SEQ_DUPLICATE;
    int64_t new_min = off < s->min_off ? off : s->min_off;
    seqs_grow(s, (uint64_t)(s->max_off - new_min) + 1, budget);
    bool checkable = s->nbits && off > s->max_off - (int64_t)s->nbits && off >= s->floor;
    s->min_off = new_min;
    if (!checkable)
        return UDPING_SEQ_UNCHECKED;
    if (seq_bit(s, off))
        return UDPING_SEQ_DUPLICATE;
    seq_set(s, off);
    return UDPING_SEQ_REORDERED;
}

uint32_t udping_seqs_min(const struct udping_seqs *s)
{
    return s->max_seq - (uint32_t)(uint64_t)(s->max_off - s->min_off);
}

uint64_t udping_seqs_span(const struct udping_seqs *s)
{
    return s->any ? (uint64_t)(s->max_off - s->min_off) + 1 : 0;
}

void udping_seqs_free(struct udping_seqs *s, size_t *budget)
{
    if (budget && s->nbits)
        *budget += s->nbits / 8;
    free(s->bits);
    memset(s, 0, sizeof *s);
}

/* ---- latency ---------------------------------------------------------------------------- */

#define NS_PER_S 1000000000LL

double udping_latency_ms(int64_t rx_real_ns, int64_t sent_sec, int64_t sent_nsec, int64_t *ns)
{
    int64_t rx_sec = rx_real_ns / NS_PER_S, rx_nsec = rx_real_ns % NS_PER_S;
    if (rx_nsec < 0) {
        rx_nsec += NS_PER_S;
        rx_sec--;
    }
    /* 128 bits: the wire's fields are any int64, and the difference must not overflow. */
    __int128 dsec = (__int128)rx_sec - sent_sec;
    __int128 dnsec = (__int128)rx_nsec - sent_nsec;
    if (ns) {
        __int128 v = dsec * NS_PER_S + dnsec;
        *ns = v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
    }
    /* The original's expression, term by term, in double. */
    return ((double)dsec * 1e9 + (double)rx_nsec - (double)sent_nsec) / 1e6;
}

/* ---- keys and hashing ------------------------------------------------------------------- */

void udping_addr_key_init(struct udping_addr_key *k, const struct sock_addr *a)
{
    memset(k, 0, sizeof *k);
    if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
        k->family = AF_INET6;
        k->port = ntohs(s6->sin6_port);
        k->scope = s6->sin6_scope_id;
        memcpy(k->addr, &s6->sin6_addr, 16);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;
        k->family = AF_INET;
        k->port = ntohs(s4->sin_port);
        memcpy(k->addr, &s4->sin_addr, 4);
    }
}

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#define FNV_BASIS 0xcbf29ce484222325ull

static uint64_t source_hash(const struct udping_addr_key *k)
{
    return fnv1a(k, sizeof *k, FNV_BASIS);
}

static uint64_t session_hash(const struct udping_source *src, const char *guid)
{
    uintptr_t p = (uintptr_t)src;
    return fnv1a(guid, UDPING_GUID_LEN, fnv1a(&p, sizeof p, FNV_BASIS));
}

/* Doubles a bucket array when it holds more entries than buckets. */
static int rehash_sessions(struct udping_table *t)
{
    size_t n = t->nsbuckets * 2;
    struct udping_session **b = calloc(n, sizeof *b);
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < t->nsbuckets; i++) {
        struct udping_session *s = t->sbuckets[i];
        while (s) {
            struct udping_session *next = s->hnext;
            size_t h = (size_t)(session_hash(s->src, s->guid) & (n - 1));
            s->hnext = b[h];
            b[h] = s;
            s = next;
        }
    }
    free(t->sbuckets);
    t->sbuckets = b;
    t->nsbuckets = n;
    return 0;
}

static int rehash_sources(struct udping_table *t)
{
    size_t n = t->ncbuckets * 2;
    struct udping_source **b = calloc(n, sizeof *b);
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < t->ncbuckets; i++) {
        struct udping_source *c = t->cbuckets[i];
        while (c) {
            struct udping_source *next = c->hnext;
            size_t h = (size_t)(source_hash(&c->key) & (n - 1));
            c->hnext = b[h];
            b[h] = c;
            c = next;
        }
    }
    free(t->cbuckets);
    t->cbuckets = b;
    t->ncbuckets = n;
    return 0;
}

/* ---- table ------------------------------------------------------------------------------ */

#define BUCKETS_INITIAL 64

int udping_table_init(struct udping_table *t, uint64_t keepalive_ns, int64_t start_real_ns)
{
    memset(t, 0, sizeof *t);
    t->sbuckets = calloc(BUCKETS_INITIAL, sizeof *t->sbuckets);
    t->cbuckets = calloc(BUCKETS_INITIAL, sizeof *t->cbuckets);
    if (!t->sbuckets || !t->cbuckets) {
        free(t->sbuckets);
        free(t->cbuckets);
        return -ENOMEM;
    }
    t->nsbuckets = t->ncbuckets = BUCKETS_INITIAL;
    t->max_sessions = UDPING_SESSIONS_MAX;
    t->max_sources = UDPING_SOURCES_MAX;
    t->seq_budget = UDPING_SEQ_BUDGET;
    t->start_real_ns = start_real_ns;
    t->keepalive_ns = keepalive_ns;
    t->grace_ns = keepalive_ns < UDPING_GRACE_NS ? keepalive_ns : UDPING_GRACE_NS;
    return 0;
}

static void session_destroy(struct udping_table *t, struct udping_session *s)
{
    udping_seqs_free(&s->seqs, &t->seq_budget);
    hist_free(&s->pos);
    hist_free(&s->neg);
    free(s);
}

void udping_table_free(struct udping_table *t)
{
    struct udping_session *s = t->head;
    while (s) {
        struct udping_session *next = s->next;
        session_destroy(t, s);
        s = next;
    }
    struct udping_source *c = t->lru_head;
    while (c) {
        struct udping_source *next = c->lru_next;
        free(c);
        c = next;
    }
    free(t->sbuckets);
    free(t->cbuckets);
    memset(t, 0, sizeof *t);
}

static void lru_unlink(struct udping_table *t, struct udping_source *c)
{
    if (c->lru_prev)
        c->lru_prev->lru_next = c->lru_next;
    else
        t->lru_head = c->lru_next;
    if (c->lru_next)
        c->lru_next->lru_prev = c->lru_prev;
    else
        t->lru_tail = c->lru_prev;
    c->lru_prev = c->lru_next = NULL;
}

static void lru_append(struct udping_table *t, struct udping_source *c)
{
    c->lru_prev = t->lru_tail;
    c->lru_next = NULL;
    if (t->lru_tail)
        t->lru_tail->lru_next = c;
    else
        t->lru_head = c;
    t->lru_tail = c;
}

static void source_remove(struct udping_table *t, struct udping_source *c)
{
    struct udping_source **pp = &t->cbuckets[source_hash(&c->key) & (t->ncbuckets - 1)];
    while (*pp && *pp != c)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = c->hnext;
    lru_unlink(t, c);
    t->nsources--;
    free(c);
}

/* Forgets the least recently active source without open sessions. */
static bool evict_source(struct udping_table *t)
{
    for (struct udping_source *c = t->lru_head; c; c = c->lru_next) {
        if (c->nopen == 0) {
            source_remove(t, c);
            return true;
        }
    }
    return false;
}

static struct udping_source *find_source(struct udping_table *t, const struct udping_addr_key *k)
{
    struct udping_source *c = t->cbuckets[source_hash(k) & (t->ncbuckets - 1)];
    while (c && memcmp(&c->key, k, sizeof *k) != 0)
        c = c->hnext;
    return c;
}

static struct udping_source *get_source(struct udping_table *t, const struct sock_addr *from,
                                        struct udping_rx_result *res)
{
    struct udping_addr_key k;
    udping_addr_key_init(&k, from);
    struct udping_source *c = find_source(t, &k);
    if (c) {
        lru_unlink(t, c);
        lru_append(t, c);
        return c;
    }
    if (t->nsources >= t->max_sources && !evict_source(t)) {
        res->outcome = UDPING_RX_REFUSED;
        return NULL;
    }
    if (t->nsources >= t->ncbuckets)
        rehash_sources(t); /* on failure the chains just get longer */
    c = calloc(1, sizeof *c);
    if (!c) {
        res->outcome = UDPING_RX_NOMEM;
        return NULL;
    }
    c->key = k;
    c->addr = *from;
    size_t h = (size_t)(source_hash(&k) & (t->ncbuckets - 1));
    c->hnext = t->cbuckets[h];
    t->cbuckets[h] = c;
    lru_append(t, c);
    t->nsources++;
    res->src_created = true;
    return c;
}

static struct udping_session *find_session(struct udping_table *t, struct udping_source *src,
                                           const char *guid)
{
    struct udping_session *s = t->sbuckets[session_hash(src, guid) & (t->nsbuckets - 1)];
    while (s && (s->src != src || memcmp(s->guid, guid, UDPING_GUID_LEN) != 0))
        s = s->hnext;
    return s;
}

static bool recently_closed(const struct udping_source *src, const char *guid)
{
    for (unsigned i = 0; i < UDPING_CLOSED_RING; i++)
        if (src->closed[i][0] && memcmp(src->closed[i], guid, UDPING_GUID_LEN) == 0)
            return true;
    return false;
}

/* Whether a run's first session starts at sequence number 0: the server was listening
 * before the client started. Compared on the client's clock: the server's start moved by
 * the observed (clock offset + latency) of this packet, plus 1 s for the latency and the
 * whole-second client_start, so the clocks' offset cancels. */
static bool run_began_while_listening(const struct udping_table *t, const struct udping_rx *rx)
{
    __int128 sent = (__int128)rx->hdr->sent_sec * NS_PER_S + rx->hdr->sent_nsec;
    __int128 server_start_cc = (__int128)t->start_real_ns - ((__int128)rx->rx_real_ns - sent);
    return (__int128)rx->hdr->client_start * NS_PER_S >= server_start_cc + NS_PER_S;
}

/* Puts s into the three places a session is found from: its hash chain, the table's list
 * (creation order: the oldest is emitted first at exit) and its source's open sessions
 * (where successor() looks). */
static void session_link(struct udping_table *t, struct udping_session *s)
{
    struct udping_source *src = s->src;
    size_t h = (size_t)(session_hash(src, s->guid) & (t->nsbuckets - 1));
    s->hnext = t->sbuckets[h];
    t->sbuckets[h] = s;
    s->prev = t->tail;
    if (t->tail)
        t->tail->next = s;
    else
        t->head = s;
    t->tail = s;
    s->src_next = src->open;
    if (src->open)
        src->open->src_prev = s;
    src->open = s;
    src->nopen++;
    t->nsessions++;
}

/* Takes s out of the places session_link put it. */
static void session_unlink(struct udping_table *t, struct udping_session *s)
{
    struct udping_source *src = s->src;
    struct udping_session **pp = &t->sbuckets[session_hash(src, s->guid) & (t->nsbuckets - 1)];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = s->hnext;
    if (s->prev)
        s->prev->next = s->next;
    else
        t->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        t->tail = s->prev;
    if (s->src_prev)
        s->src_prev->src_next = s->src_next;
    else
        src->open = s->src_next;
    if (s->src_next)
        s->src_next->src_prev = s->src_prev;
    src->nopen--;
    t->nsessions--;
}

static struct udping_session *new_session(struct udping_table *t, struct udping_source *src,
                                          const struct udping_rx *rx)
{
    if (t->nsessions >= t->max_sessions)
        return NULL;
    if (t->nsessions >= t->nsbuckets)
        rehash_sessions(t);
    struct udping_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->table = t;
    s->src = src;
    loop_timer_init(&s->timer, t->on_timer);
    memcpy(s->guid, rx->hdr->guid, UDPING_GUID_LEN);
    s->client_start = rx->hdr->client_start;
    s->id = ++t->next_id;
    s->first_mono_ns = s->last_mono_ns = rx->now_mono_ns;
    s->max_ms = s->min_ms = 0;
    hist_init(&s->pos, UDPING_HIST_SUB_BITS);
    hist_init(&s->neg, UDPING_HIST_SUB_BITS);
    if (!src->have_run || src->run_start != s->client_start) {
        src->have_run = true;
        src->run_start = s->client_start;
        src->run_guids = 0;
        src->have_end = false;
    }
    s->first_period = !rx->control && src->run_guids == 0 && run_began_while_listening(t, rx);
    src->run_guids++;
    session_link(t, s);
    return s;
}

static void count_latency(struct udping_session *s, const struct udping_rx *rx,
                          struct udping_rx_result *res)
{
    int64_t ns;
    double ms = udping_latency_ms(rx->rx_real_ns, rx->hdr->sent_sec, rx->hdr->sent_nsec, &ns);
    res->latency_ms = ms;
    if (s->count == 0 || ms > s->max_ms)
        s->max_ms = ms;
    if (s->count == 0 || ms < s->min_ms)
        s->min_ms = ms;
    s->count++;
    s->sum_ms += ms;
    s->sumsq_ms += ms * ms;
    if (ns < 0) {
        s->negative++;
        hist_record(&s->neg, ns == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)-ns);
    } else {
        hist_record(&s->pos, (uint64_t)ns);
    }
    if (rx->ts_kernel)
        s->ts_kernel++;
    else
        s->ts_user++;
}

static void receive_data(struct udping_table *t, struct udping_session *s,
                         const struct udping_rx *rx, struct udping_rx_result *res)
{
    t->data++;
    res->seq_class = udping_seqs_add(&s->seqs, rx->hdr->seq, &t->seq_budget);
    s->last_mono_ns = rx->now_mono_ns;
    if (res->seq_class == UDPING_SEQ_DUPLICATE) {
        s->duplicates++;
        t->duplicates++;
        res->outcome = UDPING_RX_DUPLICATE;
        return;
    }
    if (res->seq_class != UDPING_SEQ_NEW)
        s->reordered++;
    if (res->seq_class == UDPING_SEQ_UNCHECKED)
        s->unchecked++;
    count_latency(s, rx, res);
    res->outcome = UDPING_RX_COUNTED;
}

static void receive_control(struct udping_table *t, struct udping_session *s,
                            const struct udping_rx *rx, struct udping_rx_result *res)
{
    t->controls++;
    s->last_mono_ns = rx->now_mono_ns;
    if (s->have_control) {
        t->control_repeated++;
        res->outcome = UDPING_RX_CONTROL_AGAIN;
        return;
    }
    s->have_control = true;
    s->control_count = rx->hdr->seq;
    s->control_mono_ns = rx->now_mono_ns;
    res->outcome = UDPING_RX_CONTROL;
}

void udping_table_receive(struct udping_table *t, const struct udping_rx *rx,
                          struct udping_rx_result *res)
{
    memset(res, 0, sizeof *res);
    struct udping_source *src = get_source(t, rx->from, res);
    if (!src) {
        t->refused += res->outcome == UDPING_RX_REFUSED;
        t->nomem += res->outcome == UDPING_RX_NOMEM;
        return;
    }
    res->src = src;
    src->last_mono_ns = rx->now_mono_ns;
    if (rx->control)
        src->sends_control = true;
    struct udping_session *s = find_session(t, src, rx->hdr->guid);
    if (!s) {
        if (recently_closed(src, rx->hdr->guid)) {
            t->late++;
            res->outcome = UDPING_RX_LATE;
            return;
        }
        if (rx->control && rx->hdr->seq == 0) {
            t->controls++;
            t->control_empty++;
            res->outcome = UDPING_RX_CONTROL_EMPTY;
            return;
        }
        bool full = t->nsessions >= t->max_sessions;
        s = new_session(t, src, rx);
        if (!s) {
            res->outcome = full ? UDPING_RX_REFUSED : UDPING_RX_NOMEM;
            t->refused += full;
            t->nomem += !full;
            return;
        }
        res->created = true;
    }
    res->s = s;
    if (rx->control)
        receive_control(t, s, rx, res);
    else
        receive_data(t, s, rx, res);
    res->complete = s->have_control && s->count >= s->control_count;
}

uint64_t udping_session_deadline(const struct udping_table *t, const struct udping_session *s)
{
    uint64_t d = s->last_mono_ns + t->keepalive_ns;
    if (s->have_control && s->control_mono_ns + t->grace_ns < d)
        d = s->control_mono_ns + t->grace_ns;
    return d;
}

const char *udping_trigger_name(enum udping_trigger t)
{
    switch (t) {
    case UDPING_TRIGGER_CONTROL:
        return "control";
    case UDPING_TRIGGER_GRACE:
        return "grace";
    case UDPING_TRIGGER_KEEPALIVE:
        return "keepalive";
    case UDPING_TRIGGER_EXIT:
        return "exit";
    }
    return "unknown";
}

const char *udping_expected_source_name(enum udping_expected_source e)
{
    switch (e) {
    case UDPING_EXP_CONTROL:
        return "control";
    case UDPING_EXP_INFERRED:
        return "inferred";
    case UDPING_EXP_NONE:
        return "none";
    }
    return "unknown";
}

/* ---- percentiles ------------------------------------------------------------------------ */

/* The rank (1-based) of percentile p among n values: ceil(p/100 * n), a product within
 * 1e-9 of a whole number counting as that number (as hist_percentile does). */
static uint64_t pct_rank(double p, uint64_t n)
{
    if (!(p > 0))
        return 1;
    if (p > 100)
        p = 100;
    double x = p / 100.0 * (double)n;
    double r = nearbyint(x);
    uint64_t k = fabs(x - r) <= 1e-9 * (x > 1 ? x : 1) ? (uint64_t)r : (uint64_t)ceil(x);
    return k < 1 ? 1 : k > n ? n : k;
}

/* The k-th smallest (1-based) value of h: exact at both ends, within the histogram's
 * error between them. */
static uint64_t hist_kth(const struct hist *h, uint64_t k)
{
    if (k <= 1)
        return hist_min(h);
    if (k >= hist_count(h))
        return hist_max(h);
    return hist_percentile(h, 100.0 * (double)k / (double)hist_count(h));
}

double udping_session_percentile(const struct udping_session *s, double p)
{
    uint64_t nneg = hist_count(&s->neg), npos = hist_count(&s->pos);
    uint64_t n = nneg + npos;
    if (n == 0)
        return 0;
    uint64_t r = pct_rank(p, n);
    if (r <= nneg) /* the r-th smallest signed value is the (nneg-r+1)-th largest magnitude */
        return -(double)hist_kth(&s->neg, nneg - r + 1) / 1e6;
    return (double)hist_kth(&s->pos, r - nneg) / 1e6;
}

/* ---- closing ---------------------------------------------------------------------------- */

/* The open session of the same run whose numbers follow s's most closely. */
static const struct udping_session *successor(const struct udping_session *s)
{
    const struct udping_session *best = NULL;
    int32_t best_gap = 0;
    for (const struct udping_session *o = s->src->open; o; o = o->src_next) {
        if (o == s || o->client_start != s->client_start || !o->seqs.any)
            continue;
        int32_t gap = (int32_t)(udping_seqs_min(&o->seqs) - s->seqs.max_seq);
        if (gap > 0 && (!best || gap < best_gap)) {
            best = o;
            best_gap = gap;
        }
    }
    return best;
}

/* targetCount from the sequence numbers (session.h), and what it charges to the run. */
static uint64_t infer_expected(struct udping_session *s)
{
    struct udping_source *src = s->src;
    if (!s->seqs.any)
        return 0;
    uint32_t lo = udping_seqs_min(&s->seqs), hi = s->seqs.max_seq;
    uint64_t lead = 0, tail = 0;
    bool same_run = src->have_run && src->run_start == s->client_start;
    if (same_run && src->have_end) {
        int32_t gap = (int32_t)(lo - (src->end_seq + 1));
        if (gap > 0)
            lead = (uint64_t)gap;
    } else if (s->first_period && (int32_t)lo > 0) {
        lead = lo;
    }
    const struct udping_session *next = successor(s);
    if (next) {
        int32_t gap = (int32_t)(udping_seqs_min(&next->seqs) - hi) - 1;
        if (gap > 0)
            tail = (uint64_t)gap;
    }
    uint32_t end = hi + (uint32_t)tail;
    if (same_run && (!src->have_end || (int32_t)(end - src->end_seq) > 0)) {
        src->have_end = true;
        src->end_seq = end;
    }
    return udping_seqs_span(&s->seqs) + lead + tail;
}

static void fill_summary(struct udping_session *s, enum udping_trigger trigger,
                         struct udping_summary *out)
{
    memset(out, 0, sizeof *out);
    out->from = s->src->addr;
    out->host = s->src->host;
    memcpy(out->guid, s->guid, sizeof out->guid);
    out->client_start = s->client_start;
    out->trigger = trigger;
    out->count = s->count;
    out->duplicates = s->duplicates;
    out->reordered = s->reordered;
    out->unchecked = s->unchecked;
    out->negative = s->negative;
    out->ts_kernel = s->ts_kernel;
    out->ts_user = s->ts_user;
    if (s->have_control) {
        out->exp_source = UDPING_EXP_CONTROL;
        out->expected = s->control_count;
    } else if (s->src->sends_control) {
        out->exp_source = UDPING_EXP_NONE;
        out->expected = 0;
    } else {
        out->exp_source = UDPING_EXP_INFERRED;
        out->expected = infer_expected(s);
    }
    out->lost = out->exp_source == UDPING_EXP_NONE ? 0
                                                    : (int64_t)out->expected - (int64_t)s->count;
    if (s->count) {
        out->sum_ms = s->sum_ms;
        out->sumsq_ms = s->sumsq_ms;
        out->max_ms = s->max_ms;
        out->min_ms = s->min_ms;
        out->mean_ms = s->sum_ms / (double)s->count;
        out->p50_ms = udping_session_percentile(s, 50);
        out->p90_ms = udping_session_percentile(s, 90);
        out->p99_ms = udping_session_percentile(s, 99);
        out->p99_9_ms = udping_session_percentile(s, 99.9);
    }
}

void udping_table_close(struct udping_table *t, struct udping_session *s,
                        enum udping_trigger trigger, struct udping_summary *out)
{
    fill_summary(s, trigger, out);
    session_unlink(t, s);
    /* Remembered so that a straggler of this GUID is dropped as late rather than opening a
     * second report of the same period. */
    struct udping_source *src = s->src;
    memcpy(src->closed[src->closed_next], s->guid, sizeof src->closed[0]);
    src->closed_next = (src->closed_next + 1) % UDPING_CLOSED_RING;
    session_destroy(t, s);
}
