/*
 * What the C harnesses that cut a stream into reads share: the cut points,
 * two bytes each (little endian) of the input, and the failed oracle's
 * abort.
 */
#ifndef SLIXMPP_PING_C_FUZZ_CUTS_H
#define SLIXMPP_PING_C_FUZZ_CUTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The oracle: what must hold, or the harness aborts (a finding). */
static inline void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz harness: %s\n", what);
        abort();
    }
}

static inline int
fuzz_by_offset(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* cuts[0:n_cuts] from at[0:2 * n_cuts], each modulo len + 1 (a stream
   offset), in order. */
static inline void
fuzz_read_cuts(const uint8_t *at, size_t n_cuts, size_t len, size_t *cuts)
{
    for (size_t i = 0; i < n_cuts; i++) {
        cuts[i] = ((size_t)at[2 * i] | (size_t)at[2 * i + 1] << 8)
                  % (len + 1);
    }
    qsort(cuts, n_cuts, sizeof(size_t), fuzz_by_offset);
}

#endif
