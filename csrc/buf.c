#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(Buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void
buf_free(Buf *b)
{
    free(b->data);
    buf_init(b);
}

int
buf_reserve(Buf *b, size_t extra)
{
    if (extra <= b->cap - b->len) {
        return 0;
    }
    if (extra > SIZE_MAX / 2 - b->len) {
        return -1;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (data == NULL) {
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

int
buf_append(Buf *b, const char *s, size_t n)
{
    if (n == 0) {
        /* b->data may still be NULL, which memcpy() may not be given. */
        return 0;
    }
    if (buf_reserve(b, n) < 0) {
        return -1;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}
