#ifndef NETGRIND_TCPKALI_DUMP_H
#define NETGRIND_TCPKALI_DUMP_H

/* tcpkali's data dumps (-d, --dump-one*, --dump-all*, the -vv "Last received bytes" line
 * and --message-stop's "Last packet" line): `Snd(<fd>, <len>): [<escaped>]`, where the
 * escaping writes \r, \n (followed by a real newline and a TAB, to keep long dumps
 * readable), \\ for a backslash, and \ooo (three octal digits) for any other byte outside
 * the printable ASCII range; printable bytes go as they are. Pure. */

#include <stddef.h>
#include <stdint.h>

#include "tcpkali/msgsrc.h"

/* Appends the escaped form of p[0, n) to out. 0 or -ENOMEM. */
int tk_dump_escape(struct tk_buf *out, const uint8_t *p, size_t n);

/* Appends a whole dump line: "<what>(<fd>, <n>): [<escaped>]\n" (what is "Snd" or "Rcv").
 * 0 or -ENOMEM. */
int tk_dump_line(struct tk_buf *out, const char *what, int fd, const uint8_t *p, size_t n);

#endif
