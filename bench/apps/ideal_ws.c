/* The least a WebSocket echo server can do per message, for bench/realtime.py's "ideal" row.

   cc -O2 -o ideal_ws ideal_ws.c && ./ideal_ws PORT

   One thread, epoll, non-blocking sockets on 127.0.0.1:PORT. A connection's first bytes are an
   HTTP upgrade request: the server reads its Sec-WebSocket-Key, answers 101 with the
   Sec-WebSocket-Accept it computes (SHA-1 and base64 below), then for each complete masked client
   frame in what one read() brought, unmasks the payload and queues it back as one unmasked frame
   of the same opcode; the frames one read() completed leave in one write(). A close frame is
   answered with a close and the connection ends. No HTTP routing, no validation beyond what the
   echo needs, no fragmentation: the benchmark's client sends whole small text frames. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536
#define MAX_FDS 4096

struct conn {
    int upgraded;
    size_t len;  /* bytes waiting in in[] */
    uint8_t in[BUF];
    uint8_t out[BUF + 16];
};

static struct conn *conns[MAX_FDS];

/* SHA-1 (FIPS 180-4) of a short message, enough for a handshake key. */
static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1(const uint8_t *msg, size_t len, uint8_t digest[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    uint8_t block[64];
    size_t total = ((len + 8) / 64 + 1) * 64;
    for (size_t off = 0; off < total; off += 64) {
        for (size_t i = 0; i < 64; i++) {
            size_t at = off + i;
            block[i] = at < len ? msg[at] : at == len ? 0x80 : 0;
        }
        if (off + 64 == total)
            for (int i = 0; i < 8; i++)
                block[56 + i] = (uint8_t)(((uint64_t)len * 8) >> (56 - 8 * i));
        uint32_t w[80];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
                   (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
        for (int i = 16; i < 80; i++)
            w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
            else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
            else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
            else { f = b ^ c ^ d; k = 0xCA62C1D6; }
            uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d; d = c; c = rol(b, 30); b = a; a = t;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
    }
    for (int i = 0; i < 20; i++)
        digest[i] = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static size_t base64(const uint8_t *src, size_t len, char *dst)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (i + 1 < len ? src[i + 1] << 8 : 0) | (i + 2 < len ? src[i + 2] : 0);
        dst[o++] = abc[v >> 18];
        dst[o++] = abc[(v >> 12) & 63];
        dst[o++] = i + 1 < len ? abc[(v >> 6) & 63] : '=';
        dst[o++] = i + 2 < len ? abc[v & 63] : '=';
    }
    return o;
}

static void drop(int epfd, int fd)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd]);
    conns[fd] = NULL;
}

/* Writes all of buf; a full send buffer (never with one message in flight) waits in poll(). */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EAGAIN) {
                struct pollfd p = {fd, POLLOUT, 0};
                poll(&p, 1, -1);
                continue;
            }
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Answers the upgrade request at the start of c->in once it is whole: 1 done, 0 wait, -1 bad. */
static int handshake(int fd, struct conn *c)
{
    uint8_t *end = memmem(c->in, c->len, "\r\n\r\n", 4);
    if (!end)
        return c->len == BUF ? -1 : 0;
    static const char name[] = "Sec-WebSocket-Key:";
    uint8_t *key = memmem(c->in, (size_t)(end - c->in), name, sizeof name - 1);
    if (!key)
        return -1;
    key += sizeof name - 1;
    while (*key == ' ')
        key++;
    uint8_t *key_end = key;
    while (key_end < end && *key_end != '\r' && *key_end != ' ')
        key_end++;
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t joined[128], digest[20];
    size_t klen = (size_t)(key_end - key);
    if (klen + sizeof guid > sizeof joined)
        return -1;
    memcpy(joined, key, klen);
    memcpy(joined + klen, guid, sizeof guid - 1);
    sha1(joined, klen + sizeof guid - 1, digest);
    char answer[160];
    int n = snprintf(answer, sizeof answer, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: ");
    n += (int)base64(digest, 20, answer + n);
    memcpy(answer + n, "\r\n\r\n", 4);
    if (write_all(fd, (uint8_t *)answer, (size_t)n + 4) < 0)
        return -1;
    size_t used = (size_t)(end + 4 - c->in);
    memmove(c->in, c->in + used, c->len - used);
    c->len -= used;
    c->upgraded = 1;
    return 1;
}

/* Echoes every complete frame in c->in: 0 keep going, -1 close the connection. */
static int echo(int fd, struct conn *c)
{
    size_t at = 0, out = 0;
    int closing = 0;
    while (!closing && c->len - at >= 2) {
        uint8_t *f = c->in + at;
        size_t avail = c->len - at, head = 2;
        uint64_t plen = f[1] & 0x7F;
        if (!(f[1] & 0x80))
            return -1;  /* a client frame must be masked */
        if (plen == 126) {
            if (avail < 4)
                break;
            plen = (uint64_t)f[2] << 8 | f[3];
            head = 4;
        } else if (plen == 127) {
            if (avail < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | f[2 + i];
            head = 10;
        }
        if (plen > BUF - 14)
            return -1;
        if (avail < head + 4 + plen)
            break;
        const uint8_t *mask = f + head;
        uint8_t *payload = f + head + 4;
        if (out + 10 + plen > sizeof c->out) {  /* flush what is queued before this frame */
            if (write_all(fd, c->out, out) < 0)
                return -1;
            out = 0;
        }
        uint8_t opcode = f[0] & 0x0F;
        closing = opcode == 0x8;
        c->out[out++] = 0x80 | opcode;
        if (plen < 126) {
            c->out[out++] = (uint8_t)plen;
        } else {
            c->out[out++] = 126;
            c->out[out++] = (uint8_t)(plen >> 8);
            c->out[out++] = (uint8_t)plen;
        }
        for (uint64_t i = 0; i < plen; i++)
            c->out[out++] = payload[i] ^ mask[i & 3];
        at += head + 4 + plen;
    }
    memmove(c->in, c->in + at, c->len - at);
    c->len -= at;
    if (out && write_all(fd, c->out, out) < 0)
        return -1;
    return closing ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 128) < 0) {
        perror("listen");
        return 1;
    }
    int epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event events[64];
    for (;;) {
        int n = epoll_wait(epfd, events, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int cfd;
                while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (cfd >= MAX_FDS || !(conns[cfd] = calloc(1, sizeof(struct conn)))) {
                        close(cfd);
                        continue;
                    }
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &cev);
                }
                continue;
            }
            struct conn *c = conns[fd];
            ssize_t got = read(fd, c->in + c->len, BUF - c->len);
            if (got < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (got <= 0) {
                drop(epfd, fd);
                continue;
            }
            c->len += (size_t)got;
            int r = c->upgraded ? 0 : handshake(fd, c);
            if (r < 0 || (c->upgraded && echo(fd, c) < 0))
                drop(epfd, fd);
        }
    }
}
