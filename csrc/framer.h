/*
 * The framer: the stream's bytes cut where the tap needs them, in pure C
 * (no Python).  It owns the scanner, one read's scanner events, the stream
 * header's bytes, and the bytes of a stanza held back across reads.  The
 * tap (tap.c) decides what to hand to slixmpp and when; the framer holds
 * no Python object and calls nothing outside the plain-C units.
 */
#ifndef SLIXMPP_PING_C_FRAMER_H
#define SLIXMPP_PING_C_FRAMER_H

#include <stddef.h>

#include "buf.h"
#include "scanner.h"

/* A scanner event of the current read, kept so that the read is looked at
   whole before anything in it is acted upon. */
typedef struct {
    ScanEvent kind;
    size_t pos;
    int flag;           /* STANZA_START: '<' in an earlier read; NAME:
                           held (rules.h); STANZA_END: crowded (see
                           scanner.h) */
} FrameEvent;

typedef struct {
    Scanner scanner;
    Buf header;                 /* the stream header's bytes so far */
    int in_header;
    int holding;                /* a stanza's bytes are held back */
    int lone_lt;                /* ...or only the '<' that ended a read */
    Buf carry;                  /* the held bytes of earlier reads */
    FrameEvent *events;         /* the current read's, framer_scan() */
    size_t events_cap;
} Framer;

void framer_init(Framer *f);
void framer_free(Framer *f);
/* A new stream begins: header, held bytes and scanner start over. */
void framer_restart(Framer *f);
/* Scans a whole read into f->events: how many, or -1 when the scanner
   gave up or memory ran out.  *stanza_ended: the read ends a stanza. */
long framer_scan(Framer *f, const char *buf, size_t len, int *stanza_ended);
/* Holds p[0:n] after the bytes held already: 0, 1 if that would hold more
   than a ping or pong can be (nothing is added), -1 if memory ran out. */
int framer_hold(Framer *f, const char *p, size_t n);
/* Keeps p[0:n] of the stream header: 0, or -1 when the header is larger
   than one worth understanding or memory ran out. */
int framer_keep_header(Framer *f, const char *p, size_t n);

#endif
