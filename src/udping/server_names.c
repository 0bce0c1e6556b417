/* Source host names for udping_server (see server_names.h). */
#include "udping/server_names.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "udping/session.h"

struct udping_name {
    struct udping_name *hnext;
    struct udping_addr_key key;
    char numeric[SOCK_ADDR_STRLEN];
    char *resolved;
    bool pending;
};

struct names_request {
    struct names_request *next;
    struct sockaddr_storage ss;
    socklen_t len;
    struct udping_name *entry; /* only dereferenced on the loop thread */
    bool ok;
    char name[NI_MAXHOST];
};

/* What the resolver thread shares with the loop thread; freed by the last to let go. */
struct names_shared {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* queue changed, or a lookup finished */
    struct names_request *head, *tail;
    bool busy;   /* the thread is inside getnameinfo */
    bool closed; /* no more posting; the thread exits */
    int refs;
    struct loop *loop;
};

#define NAMES_BUCKETS 1024u

struct udping_names {
    struct names_shared *sh; /* NULL: no resolver */
    struct udping_name *buckets[NAMES_BUCKETS];
    size_t count;
    unsigned pending;
    struct loop *loop;
};

static void shared_release(struct names_shared *sh)
{
    bool last = --sh->refs == 0;
    pthread_mutex_unlock(&sh->mu);
    if (!last)
        return;
    struct names_request *r = sh->head;
    while (r) {
        struct names_request *next = r->next;
        free(r);
        r = next;
    }
    pthread_mutex_destroy(&sh->mu);
    pthread_cond_destroy(&sh->cv);
    free(sh);
}

/* Loop thread: stores an answer. */
static void apply_answer(void *arg)
{
    struct names_request *r = arg;
    struct udping_name *e = r->entry;
    if (r->ok && !e->resolved)
        e->resolved = strdup(r->name);
    e->pending = false;
    free(r);
}

static void *resolver_main(void *arg)
{
    struct names_shared *sh = arg;
    pthread_mutex_lock(&sh->mu);
    for (;;) {
        while (!sh->head && !sh->closed)
            pthread_cond_wait(&sh->cv, &sh->mu);
        if (sh->closed)
            break;
        struct names_request *r = sh->head;
        sh->head = r->next;
        if (!sh->head)
            sh->tail = NULL;
        sh->busy = true;
        pthread_mutex_unlock(&sh->mu);
        r->ok = getnameinfo((struct sockaddr *)&r->ss, r->len, r->name, sizeof r->name, NULL, 0,
                            NI_NAMEREQD) == 0;
        pthread_mutex_lock(&sh->mu);
        sh->busy = false;
        /* Posting under the mutex: the loop thread sets closed under it before the loop
         * can go away, so a post never reaches a freed loop. */
        if (sh->closed || loop_post(sh->loop, apply_answer, r) < 0)
            free(r);
        pthread_cond_broadcast(&sh->cv);
    }
    shared_release(sh);
    return NULL;
}

struct udping_names *udping_names_new(struct loop *loop, bool resolve, bool *warn)
{
    if (warn)
        *warn = false;
    struct udping_names *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->loop = loop;
    if (!resolve)
        return n;
    struct names_shared *sh = calloc(1, sizeof *sh);
    if (!sh)
        goto no_thread;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&sh->mu, NULL);
    pthread_cond_init(&sh->cv, &ca);
    pthread_condattr_destroy(&ca);
    sh->loop = loop;
    sh->refs = 2;
    pthread_t th;
    if (pthread_create(&th, NULL, resolver_main, sh) != 0) {
        pthread_mutex_destroy(&sh->mu);
        pthread_cond_destroy(&sh->cv);
        free(sh);
        goto no_thread;
    }
    pthread_detach(th);
    n->sh = sh;
    return n;
no_thread:
    if (warn)
        *warn = true;
    return n;
}

/* One entry per IP address, whatever the port. */
static void ip_key(const struct sock_addr *a, struct udping_addr_key *k)
{
    udping_addr_key_init(k, a);
    k->port = 0;
}

static unsigned key_bucket(const struct udping_addr_key *k)
{
    uint32_t h = 2166136261u;
    const uint8_t *b = (const uint8_t *)k;
    for (size_t i = 0; i < sizeof *k; i++)
        h = (h ^ b[i]) * 16777619u;
    return h % NAMES_BUCKETS;
}

static void queue_lookup(struct udping_names *n, struct udping_name *e, const struct sock_addr *a)
{
    struct names_request *r = calloc(1, sizeof *r);
    if (!r)
        return;
    memcpy(&r->ss, &a->ss, sizeof r->ss);
    r->len = a->len;
    r->entry = e;
    struct names_shared *sh = n->sh;
    pthread_mutex_lock(&sh->mu);
    if (sh->tail)
        sh->tail->next = r;
    else
        sh->head = r;
    sh->tail = r;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
    e->pending = true;
}

struct udping_name *udping_names_get(struct udping_names *n, const struct sock_addr *a)
{
    struct udping_addr_key k;
    ip_key(a, &k);
    unsigned b = key_bucket(&k);
    for (struct udping_name *e = n->buckets[b]; e; e = e->hnext)
        if (memcmp(&e->key, &k, sizeof k) == 0)
            return e;
    if (n->count >= UDPING_NAMES_MAX)
        return NULL;
    struct udping_name *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->key = k;
    sock_addr_host(a, e->numeric, sizeof e->numeric);
    e->hnext = n->buckets[b];
    n->buckets[b] = e;
    n->count++;
    if (n->sh)
        queue_lookup(n, e, a);
    return e;
}

const char *udping_name_text(const struct udping_name *e)
{
    return e->resolved ? e->resolved : e->numeric;
}

unsigned udping_names_pending(const struct udping_names *n)
{
    unsigned k = 0;
    for (unsigned b = 0; b < NAMES_BUCKETS; b++)
        for (const struct udping_name *e = n->buckets[b]; e; e = e->hnext)
            k += e->pending;
    return k;
}

void udping_names_close(struct udping_names *n, uint64_t wait_ns)
{
    struct names_shared *sh = n->sh;
    if (!sh)
        return;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(wait_ns / 1000000000u);
    deadline.tv_nsec += (long)(wait_ns % 1000000000u);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&sh->mu);
    while ((sh->head || sh->busy) &&
           pthread_cond_timedwait(&sh->cv, &sh->mu, &deadline) != ETIMEDOUT)
        ;
    sh->closed = true;
    pthread_cond_broadcast(&sh->cv);
    n->sh = NULL;
    shared_release(sh); /* unlocks */
}

void udping_names_free(struct udping_names *n)
{
    if (!n)
        return;
    if (n->sh)
        udping_names_close(n, 0);
    for (unsigned b = 0; b < NAMES_BUCKETS; b++) {
        struct udping_name *e = n->buckets[b];
        while (e) {
            struct udping_name *next = e->hnext;
            free(e->resolved);
            free(e);
            e = next;
        }
    }
    free(n);
}
