// Host benchmark of the C parser core: parses each request file given on the command line
// repeatedly and prints "name run requests_per_second megabytes_per_second" for each of 5 runs.
// Built -O2 by bench/parser.py.
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln_http.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    static char buf[65536];
    static kiln_http_header_t headers[64];
    volatile long sink = 0;
    for (int a = 1; a < argc; a++) {
        FILE *f = fopen(argv[a], "rb");
        if (!f) {
            perror(argv[a]);
            return 2;
        }
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        kiln_http_request_t r;
        memset(&r, 0, sizeof(r));
        if (kiln_http_parse_request(&r, buf, n, headers, 64, NULL) != (int)n) {
            fprintf(stderr, "%s: not one complete request\n", argv[a]);
            return 2;
        }
        for (int run = 0; run < 5; run++) {
            long iters = 0;
            double t0 = now(), dt;
            do {
                for (int i = 0; i < 10000; i++) {
                    memset(&r, 0, sizeof(r));
                    sink += kiln_http_parse_request(&r, buf, n, headers, 64, NULL);
                }
                iters += 10000;
                dt = now() - t0;
            } while (dt < 0.3);
            printf("%s %d %.0f %.1f\n", argv[a], run, iters / dt, iters * n / dt / 1e6);
        }
    }
    return sink == 0;
}
