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

/* An iq larger than this is no ping nor pong: slixmpp gets it as it
   comes (framer_hold()). */
#define FRAMER_MAX_HELD ((size_t)16 * 1024)

/* What the framer asks of the tap, one at a time (framer_next()). */
typedef enum {
    FRAME_DONE,         /* the read is dealt with up to framer_rest() */
    FRAME_PASS,         /* hand p[0:n] to slixmpp now */
    FRAME_HEADER,       /* the stream header is whole: the framer's header */
    FRAME_CANDIDATE,    /* a held stanza is whole, p[0:n] (carried: held
                           across reads); say framer_taken() */
    FRAME_PASSIVE,      /* the framer cannot follow the stream from here:
                           the tap hands everything to slixmpp */
    FRAME_NO_MEMORY
} FrameKind;

typedef struct {
    FrameKind kind;
    const char *p;
    size_t n;
    int carried;
} Frame;

/* What the tap lets the framer do, told at each framer_next(). */
typedef enum {
    FRAMER_PASSIVE,     /* nothing: slixmpp gets every byte */
    FRAMER_FOLLOW,      /* follow the stream, holding nothing back */
    FRAMER_HOLD         /* hold back the stanzas a rule may act on */
} FramerMode;

/* Where the framer stands in the current read (framer.c). */
typedef struct {
    const char *buf;
    size_t len;
    size_t n_events, next_event;
    size_t pass_from;           /* buf[pass_from:] has not reached slixmpp */
    size_t hold_from;           /* where the held stanza began in buf */
    size_t candidate_end;       /* the candidate framer_taken() answers */
    int candidate_carried;
    int stage;
    int stopped;                /* passive: events are no longer followed */
    int owe_carry;              /* the held bytes go to slixmpp next */
} FrameRead;

typedef struct {
    Scanner scanner;
    Buf header;                 /* the stream header's bytes so far */
    int in_header;
    int holding;                /* a stanza's bytes are held back */
    int lone_lt;                /* ...or only the '<' that ended a read */
    Buf carry;                  /* the held bytes of earlier reads */
    size_t max_held;            /* FRAMER_MAX_HELD (lower in a test) */
    FrameEvent *events;         /* the current read's, framer_scan() */
    size_t events_cap;
    FrameRead read;
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

/*
 * The read framer_scan() scanned (n_events: what it returned, -1 when it
 * failed) is cut into frames: the tap calls framer_next() until
 * FRAME_DONE, does what each frame asks, then hands slixmpp framer_rest().
 * Every byte of the read reaches slixmpp through a FRAME_PASS or the rest,
 * in order and once, but for a candidate the tap took.
 */
void framer_begin_read(Framer *f, const char *buf, size_t len,
                       long n_events);
FrameKind framer_next(Framer *f, FramerMode mode, Frame *out);
/* The three below are called for every candidate and read: inline. */

/* A candidate the tap may act on: the read's bytes before it that have
   not reached slixmpp yet, which must first (none when carried). */
static inline void
framer_pass_before(Framer *f, Frame *out)
{
    FrameRead *r = &f->read;
    out->kind = FRAME_PASS;
    out->carried = 0;
    /* Carried: its read's bytes before it went when it was first held. */
    size_t to = r->candidate_carried ? r->pass_from : r->hold_from;
    out->p = r->buf + r->pass_from;
    out->n = to - r->pass_from;
    r->pass_from = to;
}

/* The tap took the candidate (1) or left it to slixmpp (0). */
static inline void
framer_taken(Framer *f, int taken)
{
    FrameRead *r = &f->read;
    if (taken) {
        r->pass_from = r->candidate_end;
        f->carry.len = 0;
    }
    else if (r->candidate_carried) {
        r->pass_from = r->candidate_end;
        r->owe_carry = 1;
    }
}

/* The read's bytes the frames did not pass: slixmpp's, after them. */
static inline void
framer_rest(const Framer *f, Frame *out)
{
    const FrameRead *r = &f->read;
    out->kind = FRAME_PASS;
    out->p = r->buf + r->pass_from;
    out->n = r->len - r->pass_from;
    out->carried = 0;
}

#endif
