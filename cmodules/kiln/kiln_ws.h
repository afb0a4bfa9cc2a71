// WebSocket framing (RFC 6455) for the server side: portable C, no MicroPython header, owns no
// memory. The reader takes a client's frames piece by piece from the caller's buffer, so a
// message never needs to fit in it; the writer makes a server frame's header.
//
// Return convention of kiln_ws_read:
//   > 0   a piece is ready (its payload is unmasked in place, see kiln_ws_piece_t); the value is
//         how many input bytes it used
//   0     every byte so far is valid, more are needed
//   < 0   the connection is failed with close code -value (1002 protocol error, 1007 bad UTF-8
//         in a text message or close reason, 1009 message too big); every later call returns it
#ifndef KILN_WS_H
#define KILN_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    KILN_WS_CONT = 0x0,
    KILN_WS_TEXT = 0x1,
    KILN_WS_BINARY = 0x2,
    KILN_WS_CLOSE = 0x8,
    KILN_WS_PING = 0x9,
    KILN_WS_PONG = 0xa,
};

// Close codes the reader fails with.
#define KILN_WS_PROTOCOL_ERROR (1002)
#define KILN_WS_INVALID_DATA (1007)
#define KILN_WS_TOO_BIG (1009)

// Longest header a server frame needs (2 + 8 bytes for a 64-bit length).
#define KILN_WS_MAX_HEADER (10)

// Reader state: zero it for a new connection.
typedef struct {
    uint64_t left;          // payload bytes of the current frame not yet handed out
    size_t msg_len;         // payload bytes of the current data message so far
    int error;              // close code once failed, else 0
    uint32_t utf8;          // text message: validator state (see kiln_ws_utf8)
    uint8_t mask[4];
    uint8_t moff;           // bytes of the frame unmasked so far, mod 4
    uint8_t opcode;         // of the current frame
    uint8_t msg_op;         // TEXT or BINARY while a data message is in progress, else 0
    bool in_frame;          // a data frame's header was read, its payload is on its way
    bool fin;               // the current frame ends its message
} kiln_ws_reader_t;

// One piece of a client's input, as kiln_ws_read hands it out.
typedef struct {
    uint8_t opcode;         // TEXT or BINARY (the message's type) for data, else the control op
    bool end;               // the last piece of its message (control frames come whole)
    size_t off;             // where the unmasked payload starts in the caller's buffer
    size_t len;
} kiln_ws_piece_t;

// Reads from buf[0..len): the next piece of payload (data frames are handed out as their bytes
// arrive; a control frame once it is whole, which needs up to 131 bytes of buffer). A message
// (all its frames) may hold at most max_message payload bytes: a frame header announcing more
// fails with 1009 before any of that payload is held. Text is checked as UTF-8 across
// fragments; a close frame's code and reason are checked too.
int kiln_ws_read(kiln_ws_reader_t *r, uint8_t *buf, size_t len, size_t max_message,
    kiln_ws_piece_t *piece);

// Writes a server (unmasked) frame's header for a payload of len bytes to out; returns its
// length (2, 4 or 10).
size_t kiln_ws_header(uint8_t *out, unsigned opcode, bool fin, uint64_t len);

// XORs p[0..n) with the mask, starting at mask byte moff; returns the new offset.
unsigned kiln_ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], unsigned moff);

// Incremental UTF-8 check: feeds p[0..n) to state (0 to start); returns the new state, or
// KILN_WS_UTF8_BAD once the bytes cannot be UTF-8 (overlong forms, surrogates and code points
// above U+10FFFF included). A complete text ends in state 0.
#define KILN_WS_UTF8_BAD (0xffffffffu)
uint32_t kiln_ws_utf8(uint32_t state, const uint8_t *p, size_t n);

// Whether a close frame's status code may be sent by a peer: 1000-1003, 1007-1014 (1012-1014
// registered after RFC 6455) and 3000-4999.
bool kiln_ws_close_code_ok(unsigned code);

#endif // KILN_WS_H
