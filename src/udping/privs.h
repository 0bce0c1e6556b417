#ifndef NETGRIND_UDPING_PRIVS_H
#define NETGRIND_UDPING_PRIVS_H

/* The switch to user nobody that both UDPing programs make when started as root, once
 * their sockets are open (the original's client and server do the same). */

#include <stddef.h>

/* Becomes user nobody for good: drops the supplementary groups, then sets the gid, then
 * the uid (real, effective and saved, so root cannot be taken back; the uid goes last
 * because setgid needs root). Returns 0; -ENOENT with err "cannot switch to user nobody:
 * no such user"; or -errno with err naming the call that failed. The caller decides what
 * each case means for it. Call before any other thread is started (the ids are per
 * process, but glibc has to signal every thread to change them). */
int udping_drop_privileges(char *err, size_t errlen);

#endif
