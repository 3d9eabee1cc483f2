/*
 * A growable byte buffer and a byte string that may be absent: the memory
 * the other files share.
 */
#ifndef SLIXMPP_PING_C_BUF_H
#define SLIXMPP_PING_C_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

/* A byte string that may be absent (ptr NULL). */
typedef struct {
    const char *ptr;
    size_t len;
} Str;

void buf_init(Buf *b);
void buf_free(Buf *b);
/* Room for extra bytes past b->len: 0, or -1 when memory ran out (the
   buffer is left as it was). */
int buf_reserve(Buf *b, size_t extra);
/* 0, or -1 when memory ran out (the buffer is left as it was). */
int buf_append(Buf *b, const char *s, size_t n);

#endif
