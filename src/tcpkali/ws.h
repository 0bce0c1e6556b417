#ifndef NETGRIND_TCPKALI_WS_H
#define NETGRIND_TCPKALI_WS_H

/* WebSocket (RFC 6455) pieces for tcpkali: the frame codec, the opening handshake on both
 * sides, and the accept key. Pure functions and small state machines over bytes; the
 * WebSocket transport (transport_ws.c) drives them on a connection, and the message source
 * (msgsrc.c) frames messages with tk_ws_frame_append.
 *
 * The lead wrote the encoder contract below (msgsrc.c codes against it); the owner of this
 * module adds the decoder and handshake functions under their own contract comments. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpkali/expr.h" /* TK_WS_OP_*, TK_WS_FIN, TK_WS_RSVn */
#include "tcpkali/msgsrc.h" /* struct tk_buf */

#define TK_WS_MAX_HEADER 14 /* 2 + 8 (64-bit length) + 4 (masking key) */

/* Encodes a frame header for a payload of len bytes into out: byte0 as given (FIN, RSV,
 * opcode), the MASK bit and key when mask_key is not NULL, and the shortest length form
 * (7-bit up to 125, 16-bit up to 65535, else 64-bit). Returns the header's length. */
size_t tk_ws_header_encode(uint8_t out[TK_WS_MAX_HEADER], uint8_t byte0, uint64_t len,
                           const uint8_t *mask_key);

/* XORs p[0, n) with key, starting at key byte (phase % 4): masking and unmasking are the
 * same operation, and phase lets a payload be handled in pieces. */
void tk_ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t phase);

/* Appends one whole frame (header and payload, the payload masked with mask_key when it is
 * not NULL) to out. 0 or -ENOMEM. */
int tk_ws_frame_append(struct tk_buf *out, uint8_t byte0, const uint8_t *payload, size_t len,
                       const uint8_t *mask_key);

#endif
