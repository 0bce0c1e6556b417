/* The flowgrind controller's command line (opts.h; specs/flowgrind.md §2, §3.5, §6.2, §7.4,
 * §8.1).
 *
 * Three steps. First the argument words are normalised so that getopt can read the forms
 * 0.8.2's own parser rejected but its documentation promises ("-h socket", "-C s",
 * "--log-file FILE"). Then getopt runs twice over them: once for -n alone (0.8.2 applies
 * -n before every flow option, wherever it stands, so that -F can check flow ids), then for
 * everything in command-line order. Last come the settings derived from several options
 * (read_* from the peer, -i/-Q, -e, -H's URL) and 0.8.2's sanity checks, in its order. */

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/rng.h"
#include "core/units.h"
#include "core/util.h"
#include "flowgrind/opts.h"

#define PROG "flowgrind"
#define MAX_ITEMS 64  /* x=VALUE items in one option */
#define MIN_BLOCK 40  /* a bare block header; -U below this cannot work */
#define CC_ALG_MAX 15 /* TCP_CA_NAME_MAX - 1: 0.8.2 rejects longer names */
#define DSCP_MAX 0x3f
#define RATE_WARN_BPS INT32_MAX /* write_rate travels as i4 */

enum {
    LONG_HELP = 256,
    LONG_VERSION,
    LONG_SHOW_COLON,
    LONG_DUMP_PREFIX,
    LONG_REPORT_INTERVAL,
    LONG_LOG_FILE,
    LONG_FLOWS,
    LONG_QUIET,
    LONG_TCP_STACK,
    LONG_JSON,
};

/* '+' first: stop at the first non-option word; ':' next: a missing argument returns ':'. */
static const char SHORT_OPTS[] = "+:h::vc:e:i:mn:opqs:wA:B:C::D:EF:G:H:IJ:LM:NO:P:QR:S:T:U:W:Y:";

static const struct option LONG_OPTS[] = {
    {"help", optional_argument, NULL, LONG_HELP},
    {"version", no_argument, NULL, LONG_VERSION},
    {"show-colon", required_argument, NULL, LONG_SHOW_COLON},
    {"dump-prefix", required_argument, NULL, LONG_DUMP_PREFIX},
    {"report-interval", required_argument, NULL, LONG_REPORT_INTERVAL},
    {"log-file", optional_argument, NULL, LONG_LOG_FILE},
    {"flows", required_argument, NULL, LONG_FLOWS},
    {"quiet", no_argument, NULL, LONG_QUIET},
    {"tcp-stack", required_argument, NULL, LONG_TCP_STACK},
    {"json", no_argument, NULL, LONG_JSON},
    {NULL, 0, NULL, 0},
};

/* The three traffic fields -A, -G, -R and -S share (0.8.2's conflict groups). */
enum field {
    F_REQUEST,
    F_RESPONSE,
    F_GAP,
    F_COUNT
};

/* What the parser keeps per flow endpoint beyond the settings. */
struct ep_state {
    double rate_bps;      /* -R before truncation, for the rate check; 0 = none */
    char setter[F_COUNT]; /* option letter that last set each traffic field; 0 = default */
};

/* Normalised argument words: argv[i] either points into the caller's argv or is owned. */
struct words {
    int argc;
    char **argv;
    char **owned;
    int n_owned;
};

struct parser {
    struct fg_opts *o;
    FILE *out, *errout;
    bool *selected;       /* per flow: the current -F selection applies to it */
    int first_selected;   /* the flow named in per-flow error messages */
    struct ep_state *eps; /* [flow * 2 + endpoint] */
    bool c_given;
    unsigned c_groups;
    char dump_prefix[FG_RPC_STRING_MAX];
};

/* --- messages ------------------------------------------------------------------------ */

static void vmsg(FILE *f, const char *kind, const char *fmt, va_list ap)
{
    fprintf(f, "%s: %s: ", PROG, kind);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
}

/* A parse error: the message, then 0.8.2's hint. Returns -1 for the caller to pass on. */
__attribute__((format(printf, 2, 3))) static int usage_error(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(p->errout, "error", fmt, ap);
    va_end(ap);
    fprintf(p->errout, "Try '%s -h' for more information\n", PROG);
    return -1;
}

/* An error of the checks after parsing: no hint (as 0.8.2). */
__attribute__((format(printf, 2, 3))) static int check_error(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(p->errout, "error", fmt, ap);
    va_end(ap);
    return -1;
}

__attribute__((format(printf, 2, 3))) static void warn(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(p->errout, "warning", fmt, ap);
    va_end(ap);
}

/* --- argument words ------------------------------------------------------------------ */

static void words_free(struct words *w)
{
    for (int i = 0; i < w->n_owned; i++)
        free(w->owned[i]);
    free(w->owned);
    free(w->argv);
    memset(w, 0, sizeof *w);
}

/* Appends a + b as one owned word. */
static int words_push_joined(struct words *w, const char *a, const char *sep, const char *b)
{
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *s = malloc(n);
    if (!s)
        return -ENOMEM;
    snprintf(s, n, "%s%s%s", a, sep, b);
    w->owned[w->n_owned++] = s;
    w->argv[w->argc++] = s;
    return 0;
}

/* The long option a "--name[=...]" word names: exact name or unique prefix, as getopt_long
 * matches. NULL when none or ambiguous. */
static const struct option *find_long(const char *word)
{
    const char *name = word + 2;
    size_t len = strcspn(name, "=");
    const struct option *found = NULL;
    for (const struct option *lo = LONG_OPTS; lo->name; lo++) {
        if (strncmp(lo->name, name, len) != 0)
            continue;
        if (strlen(lo->name) == len)
            return lo;
        if (found)
            return NULL;
        found = lo;
    }
    return found;
}

static bool is_help_topic(const char *s)
{
    return s && (strcmp(s, "socket") == 0 || strcmp(s, "traffic") == 0);
}

/* Whether s can be -C's endpoint list ("s", "d=1", "s,d"). */
static bool is_endpoint_list(const char *s)
{
    struct addr_flow_item items[MAX_ITEMS];
    size_t n;
    char err[128];
    return s && s[0] != '-' &&
           addr_split_flow_list('C', s, items, MAX_ITEMS, &n, err, sizeof err) == 0;
}

/* How a long-option word continues into the next word: 1 when next is its argument (a
 * required argument given separately), 2 when the two words are to be joined with '='
 * (netgrind's "--help socket" and "--log-file FILE"), 0 otherwise. */
static int long_takes_next(const char *word, const char *next)
{
    const struct option *lo = find_long(word);
    if (!lo || strchr(word, '=') || !next)
        return 0;
    if (lo->has_arg == required_argument)
        return 1;
    if (lo->val == LONG_HELP && is_help_topic(next))
        return 2;
    if (lo->val == LONG_LOG_FILE && next[0] != '-' && next[0])
        return 2;
    return 0;
}

/* Whether short option c takes a required argument ("x:" in SHORT_OPTS, not "x::"). */
static bool short_takes_arg(char c)
{
    const char *o = c != ':' ? strchr(SHORT_OPTS + 2, c) : NULL;
    return o && o[1] == ':' && o[2] != ':';
}

/* The same for a cluster of short options ("-LNs", "-T", "-h"): 1 when the last option of
 * the cluster takes next as its argument, 2 when next is to be appended to the word
 * ("-h socket" -> "-hsocket", "-C s" -> "-Cs"), 0 otherwise. */
static int short_takes_next(const char *word, const char *next)
{
    for (const char *c = word + 1; *c; c++) {
        bool last = c[1] == '\0';
        if (short_takes_arg(*c))
            return last && next ? 1 : 0;
        if (*c == 'h' || *c == 'C') {
            if (!last || !next)
                return 0;
            if (*c == 'h' ? is_help_topic(next) : is_endpoint_list(next))
                return 2;
            return 0;
        }
    }
    return 0;
}

/* Copies argv into w, joining the word pairs getopt could not read as one option with
 * its argument (see long_takes_next / short_takes_next). Stops joining at "--" or at
 * the first word that is not an option, where getopt stops too. */
static int words_normalise(struct words *w, int argc, char **argv)
{
    memset(w, 0, sizeof *w);
    w->argv = calloc((size_t)argc + 1, sizeof *w->argv);
    w->owned = calloc((size_t)argc + 1, sizeof *w->owned);
    if (!w->argv || !w->owned)
        return -ENOMEM;
    bool options = true;
    for (int i = 0; i < argc; i++) {
        const char *word = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        int how = 0;
        if (i == 0 || !options) {
            how = 0;
        } else if (strcmp(word, "--") == 0 || word[0] != '-' || word[1] == '\0') {
            options = false;
        } else if (word[1] == '-') {
            how = long_takes_next(word, next);
        } else {
            how = short_takes_next(word, next);
        }
        if (how == 2) {
            int rc = words_push_joined(w, word, word[1] == '-' ? "=" : "", next);
            if (rc)
                return rc;
            i++;
            continue;
        }
        w->argv[w->argc++] = argv[i];
        if (how == 1)
            w->argv[w->argc++] = argv[++i];
    }
    w->argv[w->argc] = NULL;
    return 0;
}

/* --- numbers ------------------------------------------------------------------------- */

static bool parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char err[128];
    uint64_t v;
    bool neg = s[0] == '-';
    if (units_parse_u64(neg ? s + 1 : s, 0, UINT64_MAX / 2, &v, err, sizeof err) < 0)
        return false;
    int64_t x = neg ? -(int64_t)v : (int64_t)v;
    if (x < min || x > max)
        return false;
    *out = x;
    return true;
}

static bool parse_num(const char *s, double min, double *out)
{
    char err[128];
    return units_parse_double(s, min, HUGE_VAL, out, err, sizeof err) == 0;
}

/* -D's value: decimal, "0x" hex, or (as 0.8.2 read everything) bare hex such as "2e". */
static bool parse_dscp(const char *s, int32_t *out)
{
    char err[128];
    uint64_t v;
    bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    bool decimal = !hex && s[0] && strspn(s, "0123456789") == strlen(s);
    int rc = decimal ? units_parse_u64(s, 0, DSCP_MAX, &v, err, sizeof err)
                     : units_parse_hex_u64(s, 0, DSCP_MAX, &v, err, sizeof err);
    if (rc < 0)
        return false;
    *out = (int32_t)v;
    return true;
}

/* -R's value "#.#[z|k|M|G][b|B]": 0.8.2 needed both letters; the help promises b as the
 * default type, and z (2**0) is the natural default unit. Fills the rate in bytes/s, or
 * err with 0.8.2's words. */
static int parse_rate(const char *s, double *bps, char *err, size_t errlen)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !*s || isspace((unsigned char)*s)) {
        snprintf(err, errlen, "malformed rate");
        return -1;
    }
    char buf[128], two[3] = {0};
    size_t num = (size_t)(end - s);
    const char *letters = end;
    if (!letters[0] || (!letters[1] && strchr("zkMGbB", letters[0]))) {
        bool type_only = letters[0] == 'b' || letters[0] == 'B';
        two[0] = letters[0] && !type_only ? letters[0] : 'z';
        two[1] = type_only ? letters[0] : 'b';
        letters = two;
    }
    if (num + strlen(letters) >= sizeof buf) {
        snprintf(err, errlen, "malformed rate");
        return -1;
    }
    snprintf(buf, sizeof buf, "%.*s%s", (int)num, s, letters);
    if (units_parse_flowgrind_rate(buf, bps, err, errlen) == 0)
        return 0;
    if (v == 0)
        snprintf(err, errlen, "rate of 0");
    else if (strstr(err, "not a number"))
        snprintf(err, errlen, "malformed rate");
    return -1;
}

/* --- per-flow application ------------------------------------------------------------ */

static struct fg_endpoint_settings *settings(struct parser *p, int flow, int ep)
{
    return &p->o->flows[flow].ep[ep].s;
}

static struct ep_state *ep_state(struct parser *p, int flow, int ep)
{
    return &p->eps[flow * 2 + ep];
}

/* Endpoint indexes an item's letter names: [first, last]. */
static void item_endpoints(char which, int *first, int *last)
{
    *first = which == 'd' ? FG_DESTINATION : FG_SOURCE;
    *last = which == 's' ? FG_SOURCE : FG_DESTINATION;
}

/* Records that option opt set field f of an endpoint; warns (once per option word) when
 * another of -A, -G, -R, -S had set it, since one overrides the other there (0.8.2 made
 * this an error, for the destination only: its bug 19). */
static void claim_field(struct parser *p, int flow, int ep, enum field f, char opt, bool *warned)
{
    struct ep_state *st = ep_state(p, flow, ep);
    char prev = st->setter[f];
    if (prev && prev != opt && !*warned) {
        *warned = true;
        bool rate = prev == 'R' || opt == 'R';
        warn(p, "In flow %d: option -%c conflicts with option -%c (%s)", flow, opt, prev,
             rate ? "the rate of -R is used" : "the later one is used");
    }
    st->setter[f] = opt;
}

/* Raises an endpoint's maximum block size to at least v (0.8.2 does so for -S and for
 * -G with C or U, so the receiver accepts the blocks). */
static void raise_block(struct fg_endpoint_settings *s, double v)
{
    if (v > s->maximum_block_size)
        s->maximum_block_size = v >= INT32_MAX ? INT32_MAX : (int32_t)v;
}

/* One parsed -G value. */
struct traffic_value {
    enum field field;
    struct fg_dist_param d;
};

static const struct {
    char letter;
    enum fg_dist_code code;
    enum dist_kind kind;
} DISTS[] = {
    {'C', FG_DIST_CONSTANT, DIST_CONSTANT},       {'U', FG_DIST_UNIFORM, DIST_UNIFORM},
    {'E', FG_DIST_EXPONENTIAL, DIST_EXPONENTIAL}, {'N', FG_DIST_NORMAL, DIST_NORMAL},
    {'L', FG_DIST_LOGNORMAL, DIST_LOGNORMAL},     {'P', FG_DIST_PARETO, DIST_PARETO},
    {'W', FG_DIST_WEIBULL, DIST_WEIBULL},
};

/* Copies the start of s up to the first character of stop (or the end) into buf as a
 * string. Its length, or 0 when it is empty or does not fit. */
static size_t copy_token(const char *s, const char *stop, char *buf, size_t size)
{
    size_t len = strcspn(s, stop);
    if (len == 0 || len >= size)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return len;
}

/* Reads one number of a -G value up to ':' or the end; *s moves past it. */
static bool take_number(const char **s, double *out)
{
    char buf[64];
    size_t len = copy_token(*s, ":", buf, sizeof buf);
    if (len == 0)
        return false;
    char err[128];
    if (units_parse_double(buf, -HUGE_VAL, HUGE_VAL, out, err, sizeof err) < 0)
        return false;
    *s += len;
    return true;
}

/* -G's value "(q|p|g):(C|U|E|N|L|P|W):#1[:#2]" with 0.8.2's checks and words. */
static int parse_traffic(struct parser *p, const char *v, struct traffic_value *tv)
{
    int flow = p->first_selected;
    const char *s = v;
    char which = s[0];
    double p1 = 0, p2 = 0;
    if (!which || s[1] != ':' || !s[2] || s[3] != ':')
        return usage_error(p, "flow %d: option -G: malformed traffic generation parameters", flow);
    char letter = s[2];
    s += 4;
    bool ok = take_number(&s, &p1);
    if (ok && *s == ':') {
        s++;
        ok = take_number(&s, &p2);
    }
    if (!ok || *s)
        return usage_error(p, "flow %d: option -G: malformed traffic generation parameters", flow);
    if (which == 'q')
        tv->field = F_REQUEST;
    else if (which == 'p')
        tv->field = F_RESPONSE;
    else if (which == 'g')
        tv->field = F_GAP;
    else
        return usage_error(p,
                           "flow %d: option -G: syntax error: %c is not a flow parameter "
                           "(q, p or g)",
                           flow, which);
    size_t k = 0;
    while (k < ARRAY_LEN(DISTS) && DISTS[k].letter != letter)
        k++;
    if (k == ARRAY_LEN(DISTS))
        return usage_error(p, "flow %d: option -G: syntax error: %c is not a distribution", flow,
                           letter);
    switch (letter) {
    case 'C':
        if (p1 <= 0)
            return usage_error(p,
                               "flow %d: option -G: constant distribution needs one positive "
                               "parameters",
                               flow);
        break;
    case 'E':
        if (p1 <= 0)
            return usage_error(p,
                               "flow %d: option -G: exponential distribution needs one "
                               "positive parameter",
                               flow);
        break;
    case 'U':
        if (p1 <= 0 || p2 <= 0 || p1 > p2)
            return usage_error(p,
                               "flow %d: option -G: uniform distribution needs two positive "
                               "parameters",
                               flow);
        break;
    default:
        if (p1 == 0 || p2 == 0)
            return usage_error(p,
                               "flow %d: option -G: %s distribution needs two non-zero "
                               "parameters",
                               flow, dist_name(DISTS[k].kind));
        break;
    }
    /* What the daemons' samplers (core/dist.h) need beyond 0.8.2's checks, e.g. a
     * positive pareto shape. */
    struct dist d;
    char err[160];
    if (dist_init(&d, DISTS[k].kind, p1, p2, err, sizeof err) < 0)
        return usage_error(p, "flow %d: option -G: %s", flow, err);
    tv->d.distribution = DISTS[k].code;
    tv->d.param_one = p1;
    tv->d.param_two = p2;
    return 0;
}

/* -O's value into the endpoint settings. */
static int apply_sockopt(struct parser *p, const char *v, int flow, int ep)
{
    struct fg_endpoint_settings *s = settings(p, flow, ep);
    static const char *const CC[] = {"TCP_CONGESTION=", "TCP_CONG_MODULE="};
    for (size_t i = 0; i < ARRAY_LEN(CC); i++) {
        size_t n = strlen(CC[i]);
        if (strncmp(v, CC[i], n) == 0) {
            if (strlen(v + n) > CC_ALG_MAX)
                return usage_error(p,
                                   "in flow %d: option -O: too large string for "
                                   "TCP_CONGESTION",
                                   p->first_selected);
            snprintf(s->cc_alg, sizeof s->cc_alg, "%s", v + n);
            p->o->flows[flow].ep[ep].cc_given = true;
            return 0;
        }
    }
    if (strcmp(v, "TCP_CORK") == 0)
        s->cork = 1;
    else if (strcmp(v, "TCP_NODELAY") == 0)
        s->nonagle = 1;
    else if (strcmp(v, "SO_DEBUG") == 0)
        s->so_debug = true;
    else if (strcmp(v, "IP_MTU_DISCOVER") == 0)
        s->ipmtudiscover = 1;
    else if (strcmp(v, "ROUTE_RECORD") == 0)
        s->route_record = true;
    else if (strcmp(v, "TCP_MTCP") == 0)
        s->mtcp = 1;
    else if (strcmp(v, "TCP_ELCN") == 0)
        s->elcn = 1;
    else if (strcmp(v, "TCP_LCD") == 0)
        s->lcd = 1;
    else
        return usage_error(p,
                           "in flow %d: option -O: unknown socket option or socket option not "
                           "implemented",
                           p->first_selected);
    return 0;
}

/* One parsed x=VALUE value, ready to apply to every selected flow. */
struct value {
    int64_t i;
    double d;
    struct traffic_value traffic;
    struct addr_flowgrind_host host;
};

/* Parses the value of item (option opt) once, with 0.8.2's error words. */
static int parse_value(struct parser *p, char opt, const char *v, struct value *out,
                       bool *warned_value)
{
    int flow = p->first_selected;
    char err[512];
    switch (opt) {
    case 'A':
    case 'C':
    case 'M':
    case 'P':
        if (v[0] && !*warned_value) {
            *warned_value = true;
            warn(p, "option -%c takes no value, '%s' ignored", opt, v);
        }
        return 0;
    case 'B':
        if (!parse_int(v, 0, INT32_MAX, &out->i))
            return usage_error(p, "in flow %d: option -B needs positive integer", flow);
        return 0;
    case 'W':
        if (!parse_int(v, 0, INT32_MAX, &out->i))
            return usage_error(p, "in flow %d: option -W needs non-negative number", flow);
        return 0;
    case 'S':
        if (!parse_int(v, 0, INT32_MAX, &out->i))
            return usage_error(p, "in flow %d: option -S needs positive integer", flow);
        if (out->i < MIN_BLOCK && !*warned_value) {
            *warned_value = true;
            warn(p,
                 "in flow %d: option -S: blocks are at least %d bytes (the header), %s "
                 "is raised to %d",
                 flow, MIN_BLOCK, v, MIN_BLOCK);
        }
        return 0;
    case 'U':
        if (!parse_int(v, 1, INT32_MAX, &out->i))
            return usage_error(p, "in flow %d: option -U needs positive integer", flow);
        if (out->i < MIN_BLOCK)
            return usage_error(p,
                               "in flow %d: option -U: a block needs at least %d bytes (the "
                               "header)",
                               flow, MIN_BLOCK);
        return 0;
    case 'T':
        if (!parse_num(v, 0, &out->d))
            return usage_error(p, "in flow %d: option -T needs positive number", flow);
        return 0;
    case 'Y':
        if (!parse_num(v, 0, &out->d))
            return usage_error(p, "in flow %d: option -Y needs non-negative number", flow);
        return 0;
    case 'D': {
        int32_t dscp;
        if (!parse_dscp(v, &dscp))
            return usage_error(p, "in flow %d: option -D service code point is malformed", flow);
        out->i = dscp;
        return 0;
    }
    case 'G':
        return parse_traffic(p, v, &out->traffic);
    case 'H':
        if (!v[0] || v[0] == '/')
            return usage_error(p, "flow %d: no test host given in argument", flow);
        if (addr_parse_flowgrind_host(v, &out->host, err, sizeof err) < 0) {
            if (strstr(err, "control port"))
                return usage_error(p, "flow %d: invalid port for RPC", flow);
            return usage_error(p, "flow %d: %s", flow, err);
        }
        return 0;
    case 'O':
        if (!v[0])
            return usage_error(p, "in flow %d: option -O requires a value for each endpoint", flow);
        return 0; /* checked per endpoint by apply_sockopt */
    case 'R':
        if (!v[0])
            return usage_error(p, "in flow %d: option -R requires a value for each given endpoint",
                               flow);
        if (parse_rate(v, &out->d, err, sizeof err) < 0)
            return usage_error(p, "flow %d: option -R: %s", flow, err);
        return 0;
    }
    return usage_error(p, "uncaught option tag!");
}

/* Applies a parsed value of option opt to endpoint ep of flow. */
static int apply_value(struct parser *p, char opt, const char *v, const struct value *val, int flow,
                       int ep, bool *warned_conflict)
{
    struct fg_opts_endpoint *oe = &p->o->flows[flow].ep[ep];
    struct fg_endpoint_settings *s = &oe->s;
    switch (opt) {
    case 'A':
        s->response = (struct fg_dist_param){FG_DIST_CONSTANT, MIN_BLOCK, 0};
        claim_field(p, flow, ep, F_RESPONSE, 'A', warned_conflict);
        break;
    case 'B':
        s->requested_send_buffer_size = (int32_t)val->i;
        break;
    case 'C':
        s->flow_control = true;
        break;
    case 'D':
        s->dscp = (int32_t)val->i;
        break;
    case 'G': {
        const struct traffic_value *tv = &val->traffic;
        struct fg_dist_param *d = tv->field == F_REQUEST    ? &s->request
                                  : tv->field == F_RESPONSE ? &s->response
                                                            : &s->gap;
        *d = tv->d;
        claim_field(p, flow, ep, tv->field, 'G', warned_conflict);
        /* 0.8.2 raises both endpoints of the flow, for any of q, p and g. */
        double need = tv->d.distribution == FG_DIST_CONSTANT  ? tv->d.param_one
                      : tv->d.distribution == FG_DIST_UNIFORM ? tv->d.param_two
                                                              : 0;
        raise_block(settings(p, flow, FG_SOURCE), need);
        raise_block(settings(p, flow, FG_DESTINATION), need);
        break;
    }
    case 'H':
        oe->host = val->host;
        break;
    case 'M':
        s->traffic_dump = true;
        break;
    case 'O':
        return apply_sockopt(p, v, flow, ep);
    case 'P':
        s->pushy = true;
        break;
    case 'R':
        ep_state(p, flow, ep)->rate_bps = val->d;
        s->write_rate = val->d >= RATE_WARN_BPS ? INT32_MAX : (int32_t)val->d;
        snprintf(oe->rate_text, sizeof oe->rate_text, "%s", v);
        claim_field(p, flow, ep, F_GAP, 'R', warned_conflict);
        break;
    case 'S':
        s->request = (struct fg_dist_param){FG_DIST_CONSTANT, (double)val->i, 0};
        claim_field(p, flow, ep, F_REQUEST, 'S', warned_conflict);
        break;
    case 'T':
        s->write_duration = val->d;
        break;
    case 'U':
        s->maximum_block_size = (int32_t)val->i;
        break;
    case 'W':
        s->requested_read_buffer_size = (int32_t)val->i;
        break;
    case 'Y':
        s->write_delay = val->d;
        break;
    }
    return 0;
}

/* A flow option with endpoint list arg ("s=1,d=2"), applied to the selected flows. */
static int endpoint_option(struct parser *p, char opt, const char *arg)
{
    char err[160];
    char bare[64];
    /* -U 32000: the help's example (0.8.2 wanted an endpoint, its bug 20). */
    if (opt == 'U' && isdigit((unsigned char)arg[0]) && strlen(arg) < sizeof bare - 3) {
        snprintf(bare, sizeof bare, "b=%s", arg);
        arg = bare;
    }
    struct addr_flow_item items[MAX_ITEMS];
    size_t n;
    if (addr_split_flow_list(opt, arg, items, MAX_ITEMS, &n, err, sizeof err) < 0)
        return usage_error(p, "%s", err);
    bool warned_value = false, warned_conflict = false;
    for (size_t i = 0; i < n; i++) {
        char *v = strndup(items[i].value, items[i].value_len);
        if (!v)
            return check_error(p, "out of memory");
        struct value val;
        memset(&val, 0, sizeof val);
        int rc = parse_value(p, opt, v, &val, &warned_value);
        int first, last;
        item_endpoints(items[i].which, &first, &last);
        for (int f = 0; rc == 0 && f < p->o->n_flows; f++) {
            if (!p->selected[f])
                continue;
            for (int e = first; rc == 0 && e <= last; e++)
                rc = apply_value(p, opt, v, &val, f, e, &warned_conflict);
        }
        free(v);
        if (rc)
            return rc;
        /* 0.8.2 raises the maximum block size of every flow and both endpoints for -S. */
        for (int f = 0; opt == 'S' && f < p->o->n_flows; f++)
            for (int e = 0; e < 2; e++)
                raise_block(settings(p, f, e), (double)val.i);
    }
    return 0;
}

/* -F #[,#]...: the flows the following flow options apply to; -1 = all. */
static int select_flows(struct parser *p, const char *arg)
{
    int n = p->o->n_flows;
    bool *sel = calloc((size_t)n, sizeof *sel);
    if (!sel)
        return check_error(p, "out of memory");
    const char *s = arg;
    for (;;) {
        char buf[32];
        int64_t id;
        size_t len = copy_token(s, ",", buf, sizeof buf);
        if (len == 0 || !parse_int(buf, -1, INT32_MAX, &id)) {
            free(sel);
            return usage_error(p, "Malformed flow specifier");
        }
        if (id >= n) {
            free(sel);
            return usage_error(p, "must not specify option for non-existing flow");
        }
        if (id == -1)
            for (int f = 0; f < n; f++)
                sel[f] = true;
        else
            sel[id] = true;
        if (!s[len])
            break;
        s += len + 1;
    }
    free(p->selected);
    p->selected = sel;
    p->first_selected = 0;
    while (p->first_selected < n - 1 && !sel[p->first_selected])
        p->first_selected++;
    return 0;
}

/* -J #: an unsigned 32-bit seed; a negative value as it travels (signed i4) is accepted. */
static int seed_option(struct parser *p, const char *arg)
{
    int64_t v;
    if (!parse_int(arg, INT32_MIN, UINT32_MAX, &v))
        return usage_error(p, "option -J needs an integer argument");
    for (int f = 0; f < p->o->n_flows; f++) {
        if (!p->selected[f])
            continue;
        struct fg_opts_flow *fl = &p->o->flows[f];
        fl->ep[FG_SOURCE].s.random_seed = fl->ep[FG_DESTINATION].s.random_seed = (uint32_t)v;
        fl->seed_given = true;
    }
    return 0;
}

/* -E -I -L -N -Q: flow options without an endpoint. */
static void flag_option(struct parser *p, char opt)
{
    if (opt == 'I')
        p->o->show_delay = true;
    for (int f = 0; f < p->o->n_flows; f++) {
        if (!p->selected[f])
            continue;
        struct fg_opts_flow *fl = &p->o->flows[f];
        for (int e = 0; e < 2; e++) {
            if (opt == 'E')
                fl->ep[e].s.byte_counting = true;
            else if (opt == 'N')
                fl->ep[e].s.shutdown = true;
        }
        if (opt == 'L')
            fl->late_connect = true;
        else if (opt == 'Q')
            fl->quiet = true;
    }
}

/* --- controller options -------------------------------------------------------------- */

static bool parse_flows(const char *arg, int *n)
{
    int64_t v;
    if (!parse_int(arg, 1, FG_OPTS_MAX_FLOWS, &v))
        return false;
    *n = (int)v;
    return true;
}

static int help_option(struct parser *p, const char *topic, bool is_long)
{
    if (topic && !is_help_topic(topic))
        return usage_error(p, "invalid argument '%s' for %s", topic, is_long ? "--help" : "-h");
    fg_opts_help(p->out, topic);
    return 1;
}

static int log_file_option(struct parser *p, const char *arg)
{
    struct fg_opts *o = p->o;
    o->log_to_file = true;
    if (!arg)
        return 0;
    if (!arg[0])
        return check_error(p, "could not open logfile ''");
    if (strlen(arg) >= sizeof o->log_file)
        return usage_error(p, "log file name too long");
    snprintf(o->log_file, sizeof o->log_file, "%s", arg);
    return 0;
}

/* The long option with value val, for messages. */
static const char *long_name(int val)
{
    for (const struct option *lo = LONG_OPTS; lo->name; lo++)
        if (lo->val == val)
            return lo->name;
    return "?";
}

/* getopt's own errors in 0.8.2's words (its messages went through the same error path). */
static int getopt_error(struct parser *p, int c, char **argv)
{
    int opt = optopt;
    if (c == ':') {
        if (opt >= LONG_HELP)
            return usage_error(p, "option '--%s' requires an argument", long_name(opt));
        return usage_error(p, "option requires an argument -- %c", opt);
    }
    if (opt >= LONG_HELP)
        return usage_error(p, "option '--%s' doesn't allow an argument", long_name(opt));
    if (opt)
        return usage_error(p, "invalid option -- %c", opt);
    return usage_error(p, "unrecognized option '%s'", argv[optind - 1]);
}

/* One option of the second pass. Returns 0, -1 (error printed) or 1 (help/version done). */
static int handle_option(struct parser *p, int c, const char *arg)
{
    struct fg_opts *o = p->o;
    int n;
    switch (c) {
    case 'h':
    case LONG_HELP:
        return help_option(p, arg, c == LONG_HELP);
    case 'v':
    case LONG_VERSION:
        fg_opts_version(p->out);
        return 1;
    case 'c':
    case LONG_SHOW_COLON:
        if (fg_table_parse_groups(arg, &p->c_groups) < 0)
            return usage_error(p, "malformed option '-c'");
        p->c_given = true;
        return 0;
    case 'e':
    case LONG_DUMP_PREFIX:
        if (strlen(arg) >= sizeof p->dump_prefix)
            return usage_error(p, "option -e: dump prefix too long");
        snprintf(p->dump_prefix, sizeof p->dump_prefix, "%s", arg);
        return 0;
    case 'i':
    case LONG_REPORT_INTERVAL:
        if (!parse_num(arg, 0, &o->interval_s) || !(o->interval_s > 0))
            return usage_error(p, "option -i needs a positive number (in seconds)");
        return 0;
    case LONG_LOG_FILE:
        return log_file_option(p, arg);
    case 'm':
        o->table.mib = true;
        return 0;
    case 'n':
    case LONG_FLOWS:
        if (!parse_flows(arg, &n))
            return usage_error(p, "option -n (number of flows) must be within [1..%d]",
                               FG_OPTS_MAX_FLOWS);
        return 0; /* applied in the first pass */
    case 'o':
        o->overwrite = true;
        return 0;
    case 'p':
        o->table.numeric = true;
        return 0;
    case 'q':
    case LONG_QUIET:
        o->quiet = true;
        return 0;
    case 's':
    case LONG_TCP_STACK:
        if (strcmp(arg, "segment") == 0)
            o->tcp_stack = FG_TCP_STACK_SEGMENT;
        else if (strcmp(arg, "byte") == 0)
            o->tcp_stack = FG_TCP_STACK_BYTE;
        else
            return usage_error(p, "invalid argument '%s' for option -s", arg);
        return 0;
    case 'w':
        o->log_to_file = true;
        return 0;
    case LONG_JSON:
        o->json = true;
        return 0;
    case 'E':
    case 'I':
    case 'L':
    case 'N':
    case 'Q':
        flag_option(p, (char)c);
        return 0;
    case 'J':
        return seed_option(p, arg);
    case 'F':
        return select_flows(p, arg);
    case 'C':
        if (!arg) {
            /* 0.8.2 ignored a bare -C (its bug 11); so do we, scripts may have it. */
            warn(p, "option -C needs an endpoint (-C s, -C d or -C b); a bare -C is "
                    "ignored, as by flowgrind 0.8.2");
            return 0;
        }
        return endpoint_option(p, 'C', arg);
    case 'A':
        o->show_rtt = true;
        return endpoint_option(p, 'A', arg);
    case 'B':
    case 'D':
    case 'G':
    case 'H':
    case 'M':
    case 'O':
    case 'P':
    case 'R':
    case 'S':
    case 'T':
    case 'U':
    case 'W':
    case 'Y':
        return endpoint_option(p, (char)c, arg);
    }
    return usage_error(p, "uncaught option tag!");
}

/* --- the passes ---------------------------------------------------------------------- */

/* The first pass: the last valid -n (1 when none is valid: the second pass reports it). */
static int count_flows(struct words *w)
{
    int n = 1, c;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(w->argc, w->argv, SHORT_OPTS, LONG_OPTS, NULL)) != -1) {
        int v;
        if ((c == 'n' || c == LONG_FLOWS) && parse_flows(optarg, &v))
            n = v;
    }
    return n;
}

static void defaults(struct fg_opts *o, const char *argv0)
{
    memset(o, 0, sizeof *o);
    o->n_flows = 1;
    o->interval_s = FG_OPTS_DEFAULT_INTERVAL;
    fg_table_opts_init(&o->table);
    const char *base = argv0 ? strrchr(argv0, '/') : NULL;
    snprintf(o->progname, sizeof o->progname, "%s",
             base                ? base + 1
             : argv0 && argv0[0] ? argv0
                                 : PROG);
}

static void flow_defaults(struct fg_opts_flow *f)
{
    memset(f, 0, sizeof *f);
    for (int e = 0; e < 2; e++) {
        struct fg_opts_endpoint *oe = &f->ep[e];
        fg_rpc_settings_defaults(&oe->s);
        snprintf(oe->host.test, sizeof oe->host.test, "%s", "localhost");
        snprintf(oe->host.control, sizeof oe->host.control, "%s", "localhost");
        oe->host.port = ADDR_FLOWGRIND_CONTROL_PORT;
    }
    f->ep[FG_SOURCE].s.write_duration = 10; /* -T default s=10,d=0 */
}

static int parse_words(struct parser *p, struct words *w)
{
    int c;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(w->argc, w->argv, SHORT_OPTS, LONG_OPTS, NULL)) != -1) {
        int rc = (c == '?' || c == ':') ? getopt_error(p, c, w->argv) : handle_option(p, c, optarg);
        if (rc)
            return rc;
    }
    if (optind < w->argc)
        return usage_error(p, "unexpected argument '%s'", w->argv[optind]);
    return 0;
}

/* Copies a string between two members of one struct: snprintf("%s") there trips gcc's
 * -Wrestrict at -O1 with the sanitizers (it cannot tell the members apart). */
static void copy_text(char *dst, size_t size, const char *src)
{
    size_t len = strnlen(src, size - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* The settings that depend on several options: the peer's durations, -i and -Q, -e, -H. */
static void derive(struct parser *p)
{
    struct fg_opts *o = p->o;
    o->table.groups = p->c_given ? p->c_groups : FG_GROUP_DEFAULT;
    /* -A and -I show their columns whatever the order with -c (0.8.2's bug 8). */
    if (o->show_rtt)
        o->table.groups |= FG_GROUP_RTT;
    if (o->show_delay)
        o->table.groups |= FG_GROUP_DELAY;
    for (int f = 0; f < o->n_flows; f++) {
        struct fg_opts_flow *fl = &o->flows[f];
        for (int e = 0; e < 2; e++) {
            struct fg_opts_endpoint *oe = &fl->ep[e];
            const struct fg_endpoint_settings *peer = &fl->ep[1 - e].s;
            oe->s.flow_id = f;
            oe->s.read_delay = peer->write_delay;
            oe->s.read_duration = peer->write_duration;
            oe->s.reporting_interval = fl->quiet ? 0 : o->interval_s;
            snprintf(oe->s.dump_prefix, sizeof oe->s.dump_prefix, "%s", p->dump_prefix);
            copy_text(oe->s.bind_address, sizeof oe->s.bind_address, oe->host.test);
            addr_flowgrind_url(&oe->host, oe->url, sizeof oe->url);
            addr_flowgrind_label(&oe->host, oe->label, sizeof oe->label);
        }
    }
}

/* The largest request block an endpoint will write: what the rate must carry at least
 * once a second. */
static double largest_request(const struct fg_endpoint_settings *s)
{
    double v = s->maximum_block_size;
    if (s->request.distribution == FG_DIST_CONSTANT)
        v = s->request.param_one;
    else if (s->request.distribution == FG_DIST_UNIFORM)
        v = s->request.param_two;
    if (v > s->maximum_block_size)
        v = s->maximum_block_size;
    return v < MIN_BLOCK ? MIN_BLOCK : v;
}

/* 0.8.2's checks after parsing, per flow and in its order. */
static int check_flows(struct parser *p)
{
    static const char *const WHO[2] = {"client", "server"};
    for (int f = 0; f < p->o->n_flows; f++) {
        struct fg_opts_flow *fl = &p->o->flows[f];
        const struct fg_endpoint_settings *src = &fl->ep[FG_SOURCE].s;
        const struct fg_endpoint_settings *dst = &fl->ep[FG_DESTINATION].s;
        for (int e = 0; e < 2; e++) {
            const struct fg_endpoint_settings *s = &fl->ep[e].s;
            if (s->write_delay > 0 && s->write_duration == 0)
                return check_error(p, "%s flow %d has a delay but no runtime", WHO[e], f);
        }
        if (src->write_duration == 0 && dst->write_duration == 0)
            return check_error(p, "server and client flow have both zero runtime for flow %d", f);
        if (fl->late_connect && dst->write_duration > 0 && dst->write_delay < src->write_delay)
            return check_error(p,
                               "server flow %d starts earlier than client flow while late "
                               "connecting",
                               f);
        bool too_high = false;
        for (int e = 0; e < 2; e++) {
            double rate = ep_state(p, f, e)->rate_bps;
            if (rate > 0 && rate / largest_request(&fl->ep[e].s) < 1)
                return check_error(p, "%s block size for flow %d is too big for specified rate",
                                   WHO[e], f);
            too_high |= rate >= RATE_WARN_BPS;
        }
        if (too_high)
            warn(p, "rate of flow %d too high (capped at %d bytes/s)", f, INT32_MAX);
    }
    return 0;
}

/* A nonzero seed from the urandom device, or from getrandom when it cannot be read. */
static uint32_t random_seed(FILE *urandom)
{
    for (int tries = 0; tries < 8; tries++) {
        uint32_t v = 0;
        if (!urandom || fread(&v, sizeof v, 1, urandom) != 1)
            v = (uint32_t)rng_entropy_seed();
        if (v)
            return v;
    }
    return 1;
}

/* Per flow without -J: one seed from the urandom device, the same at both endpoints. */
static void draw_seeds(struct fg_opts *o)
{
    FILE *urandom = NULL;
    for (int f = 0; f < o->n_flows; f++) {
        struct fg_opts_flow *fl = &o->flows[f];
        if (fl->seed_given)
            continue;
        if (!urandom)
            urandom = fopen("/dev/urandom", "rb");
        uint32_t seed = random_seed(urandom);
        fl->ep[FG_SOURCE].s.random_seed = fl->ep[FG_DESTINATION].s.random_seed = seed;
    }
    if (urandom)
        fclose(urandom);
}

enum fg_opts_result fg_opts_parse(int argc, char **argv, struct fg_opts *o, FILE *out, FILE *errout)
{
    struct parser p = {.o = o, .out = out, .errout = errout};
    struct words w;
    int rc = 0;
    defaults(o, argc > 0 ? argv[0] : NULL);
    snprintf(p.dump_prefix, sizeof p.dump_prefix, "%s", "flowgrind-");
    if (words_normalise(&w, argc, argv) < 0) {
        rc = check_error(&p, "out of memory");
        goto done;
    }
    o->n_flows = count_flows(&w);
    o->flows = calloc((size_t)o->n_flows, sizeof *o->flows);
    p.selected = calloc((size_t)o->n_flows, sizeof *p.selected);
    p.eps = calloc((size_t)o->n_flows * 2, sizeof *p.eps);
    if (!o->flows || !p.selected || !p.eps) {
        rc = check_error(&p, "out of memory");
        goto done;
    }
    for (int f = 0; f < o->n_flows; f++) {
        flow_defaults(&o->flows[f]);
        p.selected[f] = true;
    }
    rc = parse_words(&p, &w);
    if (rc == 0) {
        derive(&p);
        rc = check_flows(&p);
    }
    if (rc == 0)
        draw_seeds(o);
done:
    words_free(&w);
    free(p.selected);
    free(p.eps);
    optind = 0;
    if (rc == 0)
        return FG_OPTS_RUN;
    fg_opts_free(o);
    return rc > 0 ? FG_OPTS_DONE : FG_OPTS_ERROR;
}

void fg_opts_free(struct fg_opts *o)
{
    free(o->flows);
    o->flows = NULL;
    o->n_flows = 0;
}
