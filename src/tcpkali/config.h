#ifndef NETGRIND_TCPKALI_CONFIG_H
#define NETGRIND_TCPKALI_CONFIG_H

/* tcpkali's configuration: everything the command line says, validated, in engine units
 * (ns, bytes, per-second rates). The option parser (opts.c) fills it; the engine and the
 * output read it and never change it. Strings point into argv or into buffers the parser
 * owns until tk_config_free(). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sock.h"

#define TK_MAX_PERCENTILES 32

enum tk_listen_mode {
    TK_LISTEN_SILENT, /* read and discard (the default) */
    TK_LISTEN_ACTIVE, /* send the -1/-m messages to each accepted connection */
    TK_LISTEN_ECHO,   /* beyond the original: send back what was received */
};

enum tk_msg_kind {
    TK_MSG_FIRST,  /* -1 / --first-message / --first-message-file: once per connection */
    TK_MSG_REPEAT, /* -m / --message / -f / --message-file: repeated forever */
};

/* One message argument, in argv order. The text is the raw argument (or the file's bytes);
 * whether -e applies is decided by argv order (tcpkali applies -e only to the options after
 * it) and recorded here. The message source compiles these (expressions come in a later
 * issue; literal bytes now). */
struct tk_msg_arg {
    enum tk_msg_kind kind;
    const char *text;
    size_t len;
    bool unescape;  /* -e came before this option */
    bool from_file; /* -f / --first-message-file */
    const char *file_name;
};

struct tk_percentile {
    double value;      /* 0..100 */
    char label[16];    /* as typed ("99.5", "50.0"), for the summary and statsd names */
};

struct tk_dest {
    char text[300];        /* as given: host:port[/path] */
    struct sock_addr addr; /* one resolved address; a name with several gives several dests */
    const char *path;      /* "/path?query" for WebSocket, or "/" */
};

struct tk_config {
    /* Destinations (client mode) and listening (sink or active mode). */
    struct tk_dest *dests;
    size_t ndests;
    bool listen;
    struct sock_addr_list listen_addrs; /* every address to listen on */
    uint16_t listen_port;
    enum tk_listen_mode listen_mode;

    /* Connections. */
    uint64_t connections;      /* -c */
    double connect_rate;       /* per second */
    uint64_t connect_timeout_ns;
    uint64_t channel_lifetime_ns; /* 0: infinite (the parser maps the original's 0 to "close
                                   * right after connect" only if it keeps that meaning) */
    bool channel_lifetime_set;
    double bandwidth_up_Bps;   /* 0: unlimited */
    double bandwidth_down_Bps; /* < 0: unlimited; 0 is allowed: do not read */
    struct sock_addr *source_ips;
    size_t nsource_ips;
    unsigned workers;          /* resolved: never 0 */
    uint64_t duration_ns;      /* -T; UINT64_MAX: infinite */

    /* Socket options. */
    int nagle;  /* -1 unset, 0 off (TCP_NODELAY=1), 1 on */
    bool write_combine;
    int rcvbuf, sndbuf; /* 0: unset */

    /* Messages. */
    struct tk_msg_arg *msgs;
    size_t nmsgs;
    double message_rate;         /* -r messages per second per connection; 0: unlimited */
    bool rate_search;            /* -r @Latency */
    uint64_t rate_search_target_ns;
    const char *message_stop;    /* literal, after -e if it applied */
    size_t message_stop_len;
    bool closed_loop;            /* beyond the original: next message after the previous reply */

    /* WebSocket and TLS. */
    bool websocket;
    const char **headers;  /* -H lines without CRLF, after -e if it applied */
    size_t nheaders;
    bool ssl;              /* --ssl */
    const char *ssl_cert;  /* --ssl-cert, default "cert.pem" */
    const char *ssl_key;   /* --ssl-key, default "key.pem" */
    bool ssl_cert_given, ssl_key_given; /* given on the command line (a client presents a
                                         * certificate only then) */

    /* Latency. */
    bool latency_connect;
    bool latency_first_byte;
    const char *latency_marker; /* after -e if it applied */
    size_t latency_marker_len;
    uint64_t latency_marker_skip;
    bool message_marker;
    struct tk_percentile percentiles[TK_MAX_PERCENTILES];
    size_t npercentiles;

    /* Output. */
    int verbose;         /* 0..3 */
    unsigned dump;       /* TK_DUMP_* bits */
    bool json;
    bool json_stream;
    bool statsd;
    const char *statsd_host;
    uint16_t statsd_port;
    const char *statsd_namespace;
    uint64_t statsd_latency_window_ns; /* 0: off */
};

#define TK_DUMP_ONE_IN 1u
#define TK_DUMP_ONE_OUT 2u
#define TK_DUMP_ALL_IN 4u
#define TK_DUMP_ALL_OUT 8u

/* Frees what the parser allocated in cfg (not cfg itself). */
void tk_config_free(struct tk_config *cfg);

#endif
