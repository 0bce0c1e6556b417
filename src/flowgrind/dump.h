#ifndef NETGRIND_FLOWGRIND_DUMP_H
#define NETGRIND_FLOWGRIND_DUMP_H

/* flowgrindd -M: a pcap capture of one flow endpoint's data connection (spec §7.4 "-e").
 *
 * The file is <dir>/<prefix><local time %Y-%m-%d-%H:%M:%S>-<hostname>-<interface>.pcap, as
 * 0.8.2 names it; when that file already exists (both endpoints of a flow, or two flows,
 * started in the same second) "-<flow id>-<S|D>" goes before ".pcap" so no capture
 * overwrites another. Snap length 130, not promiscuous, like the original; the filter is the
 * data connection's port ("tcp port P") instead of the original's "tcp", so flows do not
 * capture each other's packets. The interface is the one owning the endpoint's address
 * ("any" when none does, e.g. the wildcard).
 *
 * Packets are read without a thread: fg_dump_fd() is a non-blocking descriptor the caller
 * watches for readability (the flow engine's loop) and then calls fg_dump_poll(). Only with
 * libpcap (NETGRIND_HAVE_PCAP); otherwise fg_dump_open always fails with a message saying so.
 * One thread per dump. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fg_dump;

struct fg_dump_spec {
    const char *dir;     /* NULL or "": the working directory */
    const char *prefix;  /* dump_prefix, e.g. "flowgrind-" */
    const char *address; /* the endpoint's test address (numeric or name); "" = unknown */
    uint16_t port;       /* the data connection's destination port */
    int32_t flow_id;
    bool source;
};

/* Opens the capture and its file. NULL with err filled ("traffic dump: ... permission
 * denied", "traffic dump: not supported, built without libpcap"). */
struct fg_dump *fg_dump_open(const struct fg_dump_spec *spec, char *err, size_t errlen);

/* The descriptor to watch for readability. */
int fg_dump_fd(const struct fg_dump *dp);

/* Writes every packet captured so far to the file. */
void fg_dump_poll(struct fg_dump *dp);

/* Writes what is left, closes the file and the capture. NULL is fine. */
void fg_dump_close(struct fg_dump *dp);

#endif
