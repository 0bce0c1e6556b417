#ifndef NETGRIND_SEQTEST_CONFIG_H
#define NETGRIND_SEQTEST_CONFIG_H

/* seqtest's command line: modes, -d, the -o sub-options with their range rules, --json,
 * and the address operands. Pure (no I/O) except seq_config_help; every error fills
 * err with a message naming the option and the limit (without the "seqtest: " prefix). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum seq_mode {
    SEQ_MODE_ASYNC,   /* -s, the default */
    SEQ_MODE_SYNC,    /* -S */
    SEQ_MODE_REPLIER, /* -r */
};

#define SEQ_THREADS_MAX 1000000u
#define SEQ_DELAY_MAX 4294967295ull /* the header's rdly is 32 bits; sdelay shares the bound */

/* A value drawn per message from [min, max], both inclusive. *_set record which ends the
 * user gave, since the rules for a missing end differ (see seq_config_finish). */
struct seq_range {
    uint64_t min, max;
    bool min_set, max_set;
};

struct seq_config {
    enum seq_mode mode;
    int debug;
    bool json, json_stream, help;
    struct seq_range ssize, rsize, sdelay, rdelay;
    uint64_t threads;   /* 0: one per resolved address */
    uint64_t rinterval; /* effective value: 1 with -S */
    uint64_t count;
    uint64_t workers; /* 0: default */
    uint64_t seed;
    bool seed_set;
    bool verify;
    char *dump_path; /* malloc'd (seq_config_free) */
    char **addrs;    /* the address operands (point into argv) */
    int naddrs;
};

/* Defaults: -s, sizes 40, delays 0, rinterval 1, count 1, threads 0. */
void seq_config_init(struct seq_config *c);

/* Frees what the config owns (the dump path). */
void seq_config_free(struct seq_config *c);

/* Applies one -o argument ("name=value,name,..."). Returns 0, or -EINVAL with err set:
 * "no value for NAME", "bad option TOKEN", "NAME=V: <why>". Empty items are skipped. */
int seq_config_subopts(struct seq_config *c, const char *arg, char *err, size_t errlen);

/* Applies the range rules once every -o is read: sizes given only as _min go up to 8000
 * and only as _max start at 40; delays given only as _min are fixed and only as _max start
 * at 0; a range whose max is below its min is an error; count must be at least 1; -S forces
 * rinterval to 1. Returns 0 or -EINVAL with err. */
int seq_config_finish(struct seq_config *c, char *err, size_t errlen);

/* Parses the whole command line (argv[0] is the program name) into c, then
 * seq_config_finish. Returns 0, or the exit code (1) with err set; when *printed is true
 * the message was already printed (getopt's own text for an unknown flag). --help sets
 * c->help and returns 0. Not thread-safe (getopt). */
int seq_config_parse(struct seq_config *c, int argc, char **argv, bool *printed, char *err,
                     size_t errlen);

/* True when argv asks for --json or --json-stream (looked for before parsing, so that even
 * a command-line error is reported as JSON). */
bool seq_config_wants_json(int argc, char **argv, bool *stream);

struct addr_endpoint;
/* Splits one address operand: "host:port", "[v6]:port", and for the senders
 * "local,host:port" (the replier refuses the local form). The port is required. Returns 0,
 * or -EINVAL with err: "no port found: OP", "the local,host:port form is for the senders
 * (-s, -S): OP", or the parser's reason. Pure. */
int seq_config_parse_address(const char *op, bool replier, struct addr_endpoint *ep, char *err,
                             size_t errlen);

/* Prints the usage text. */
void seq_config_help(FILE *out);

/* Draws a value of r (uniform in [min, max]) from 64 random bits. Pure. */
static inline uint64_t seq_range_pick(const struct seq_range *r, uint64_t bits)
{
    uint64_t span = r->max - r->min;
    if (span == 0)
        return r->min;
    if (span == UINT64_MAX)
        return bits;
    return r->min + (uint64_t)(((unsigned __int128)bits * (span + 1)) >> 64);
}

#endif
