/* The framer (framer.h). */
#include "framer.h"

#include <stdlib.h>

#include "rules.h"

/* A stream header larger than this is not one we need to understand. */
#define MAX_HEADER ((size_t)64 * 1024)

void
framer_init(Framer *f)
{
    scanner_init(&f->scanner);
    buf_init(&f->header);
    buf_init(&f->carry);
    f->max_held = FRAMER_MAX_HELD;
    f->in_header = 1;
    f->holding = 0;
    f->lone_lt = 0;
    f->events = NULL;
    f->events_cap = 0;
    framer_begin_read(f, NULL, 0, 0);
}

void
framer_free(Framer *f)
{
    scanner_free(&f->scanner);
    buf_free(&f->header);
    buf_free(&f->carry);
    free(f->events);
    f->events = NULL;
    f->events_cap = 0;
}

void
framer_restart(Framer *f)
{
    scanner_reset(&f->scanner);
    f->header.len = 0;
    f->in_header = 1;
    f->holding = 0;
    f->carry.len = 0;
    f->scanner.strict = 0;
    f->scanner.report_open = 0;
}

int
framer_hold(Framer *f, const char *p, size_t n)
{
    if (f->carry.len + n > f->max_held) {
        return 1;
    }
    return buf_append(&f->carry, p, n) < 0 ? -1 : 0;
}

int
framer_keep_header(Framer *f, const char *p, size_t n)
{
    if (f->header.len + n > MAX_HEADER) {
        return -1;
    }
    return buf_append(&f->header, p, n);
}

/* Right after SCAN_STANZA_NAME: whether a rule may act on the stanza
   (its name as written, no prefix: the stream's default namespace, which
   the parser checks). */
static int
stanza_is_held(const Scanner *scanner)
{
    size_t n;
    const char *name = scanner_stanza_name(scanner, &n);
    return rules_hold(name, n);
}

/* Room for one more event. */
static int
reserve_event(Framer *f, size_t n)
{
    if (n < f->events_cap) {
        return 0;
    }
    size_t cap = f->events_cap ? f->events_cap * 2 : 64;
    FrameEvent *events = realloc(f->events, cap * sizeof(FrameEvent));
    if (events == NULL) {
        return -1;
    }
    f->events = events;
    f->events_cap = cap;
    return 0;
}

long
framer_scan(Framer *f, const char *buf, size_t len, int *stanza_ended)
{
    size_t n = 0, pos = 0;
    *stanza_ended = 0;
    for (;;) {
        ScanEvent ev = scanner_next(&f->scanner, buf, len, &pos);
        if (ev == SCAN_MORE) {
            break;
        }
        if (ev == SCAN_FAILED || reserve_event(f, n) < 0) {
            return -1;
        }
        FrameEvent *e = &f->events[n++];
        e->kind = ev;
        e->pos = pos;
        e->flag = ev == SCAN_STANZA_START
                  ? f->scanner.stanza_start_in_earlier_read
                  : ev == SCAN_STANZA_END ? f->scanner.crowded
                  : ev == SCAN_STANZA_NAME && stanza_is_held(&f->scanner);
        *stanza_ended |= ev == SCAN_STANZA_END;
        if (ev == SCAN_STANZA_START) {
            f->scanner.crowded = 0;
        }
        if (ev == SCAN_STREAM_END) {
            break;
        }
    }
    return (long)n;
}

/* ---- one read, frame by frame ---------------------------------------- */

enum {
    STAGE_START,        /* a '<' held from the last read is decided */
    STAGE_EVENTS,       /* the scanner's events, one by one */
    STAGE_END_HOLD,     /* a stanza still open is held */
    STAGE_LONE_LT,      /* a '<' that ends the read is held */
    STAGE_DONE,
    STAGE_FAILED        /* the scanner gave up on this read */
};

void
framer_begin_read(Framer *f, const char *buf, size_t len, long n_events)
{
    FrameRead *r = &f->read;
    r->buf = buf;
    r->len = len;
    r->n_events = n_events < 0 ? 0 : (size_t)n_events;
    r->next_event = 0;
    r->pass_from = 0;
    r->hold_from = 0;
    r->candidate_end = 0;
    r->candidate_carried = 0;
    r->stage = n_events < 0 ? STAGE_FAILED : STAGE_START;
    r->stopped = 0;
    r->owe_carry = 0;
}

static FrameKind
frame(Frame *out, FrameKind kind, const char *p, size_t n, int carried)
{
    out->kind = kind;
    out->p = p;
    out->n = n;
    out->carried = carried;
    return kind;
}

/* The held bytes of earlier reads go to slixmpp: nothing is held now.
   (The buffer keeps them until the next hold, after the tap passed them.) */
static FrameKind
pass_carry(Framer *f, Frame *out)
{
    frame(out, FRAME_PASS, f->carry.data, f->carry.len, 1);
    f->carry.len = 0;
    f->holding = 0;
    f->lone_lt = 0;
    return FRAME_PASS;
}

static FrameKind
pass_read(Framer *f, size_t from, size_t to, Frame *out)
{
    return frame(out, FRAME_PASS, f->read.buf + from, to - from, 0);
}

static FrameKind
stop(Framer *f, Frame *out)
{
    f->read.stopped = 1;
    return frame(out, FRAME_PASSIVE, NULL, 0, 0);
}

/* A held stanza ended just before pos. */
static FrameKind
stanza_ended(Framer *f, size_t pos, int crowded, Frame *out)
{
    FrameRead *r = &f->read;
    f->holding = 0;
    const char *span = r->buf + r->hold_from;
    size_t span_len = pos - r->hold_from;
    int carried = f->carry.len > 0;
    if (carried) {
        int held = framer_hold(f, r->buf, pos);
        if (held != 0) {
            /* Too big to be ours: slixmpp gets it all, the held bytes
               first, this read's with the rest of it. */
            return held < 0 ? frame(out, FRAME_NO_MEMORY, NULL, 0, 0)
                            : pass_carry(f, out);
        }
        span = f->carry.data;
        span_len = f->carry.len;
    }
    r->candidate_end = pos;
    r->candidate_carried = carried;
    if (crowded) {
        /* It would cost libxml2 more than slixmpp. */
        framer_taken(f, 0);
        return FRAME_DONE;
    }
    return frame(out, FRAME_CANDIDATE, span, span_len, carried);
}

/* One scanner event: the frame it makes, or FRAME_DONE for none. */
static FrameKind
on_event(Framer *f, const FrameEvent *ev, FramerMode mode, Frame *out)
{
    switch (ev->kind) {
    case SCAN_HEADER_END:
        if (!f->in_header) {
            break;
        }
        if (framer_keep_header(f, f->read.buf, ev->pos) < 0) {
            return stop(f, out);
        }
        f->in_header = 0;
        return frame(out, FRAME_HEADER, f->header.data, f->header.len, 0);
    case SCAN_STANZA_START:
        /* A '<' that ended the last read is held already (lone_lt), or
           went to slixmpp. */
        if (!ev->flag && mode == FRAMER_HOLD) {
            f->holding = 1;
            f->read.hold_from = ev->pos - 1;
        }
        break;
    case SCAN_STANZA_NAME:
        if (f->holding && !ev->flag) {
            f->holding = 0;
            if (f->carry.len) {
                return pass_carry(f, out);
            }
        }
        break;
    case SCAN_STANZA_END:
        if (f->holding) {
            return stanza_ended(f, ev->pos, ev->flag, out);
        }
        break;
    case SCAN_STREAM_END:
        /* From here on slixmpp alone decides, as it always has. */
        return stop(f, out);
    default:
        break;
    }
    return FRAME_DONE;
}

/* The read is scanned to its end: what is still open is held. */
static FrameKind
hold_rest(Framer *f, FramerMode mode, Frame *out)
{
    FrameRead *r = &f->read;
    if (f->holding && !r->stopped) {
        int held = framer_hold(f, r->buf + r->hold_from,
                               r->len - r->hold_from);
        if (held < 0) {
            return frame(out, FRAME_NO_MEMORY, NULL, 0, 0);
        }
        if (held > 0) {
            /* Too big to be ours: let it stream through. */
            return pass_carry(f, out);
        }
        /* Slixmpp gets the rest of this read, up to the held stanza. */
        size_t from = r->pass_from;
        r->pass_from = r->len;
        return pass_read(f, from, r->hold_from, out);
    }
    if (f->holding) {
        /* Gone passive with bytes held: they go first. */
        return pass_carry(f, out);
    }
    if (!r->stopped && r->len > 0 && mode == FRAMER_HOLD
        && scanner_at_stanza_lt(&f->scanner)) {
        /* Keep a '<' that ends the read: it may open a stanza. */
        r->stage = STAGE_LONE_LT;
        return pass_read(f, r->pass_from, r->len - 1, out);
    }
    return FRAME_DONE;
}

static FrameKind
owed_carry(Framer *f, Frame *out)
{
    if (!f->read.owe_carry) {
        return FRAME_DONE;
    }
    f->read.owe_carry = 0;
    return pass_carry(f, out);
}

/* The read's events up to the next frame. */
static FrameKind
next_event(Framer *f, FramerMode mode, Frame *out)
{
    FrameRead *r = &f->read;
    while (r->next_event < r->n_events && !r->stopped) {
        const FrameEvent *ev = &f->events[r->next_event++];
        FrameKind kind = on_event(f, ev, mode, out);
        if (kind == FRAME_DONE) {
            kind = owed_carry(f, out);
        }
        if (kind != FRAME_DONE) {
            return kind;
        }
    }
    return FRAME_DONE;
}

FrameKind
framer_next(Framer *f, FramerMode mode, Frame *out)
{
    FrameRead *r = &f->read;
    r->stopped |= mode == FRAMER_PASSIVE;
    FrameKind kind = owed_carry(f, out);
    if (kind != FRAME_DONE) {
        return kind;
    }
    switch (r->stage) {
    case STAGE_FAILED:
        /* Slixmpp's parser will refuse this read: it sees the read exactly
           as it came, to say so in its own words; held bytes first. */
        r->stage = STAGE_DONE;
        r->owe_carry = f->holding;
        return stop(f, out);
    case STAGE_START:
        r->stage = STAGE_EVENTS;
        if (f->lone_lt) {
            /* The '<' that ended the last read opens a stanza, or it goes
               on to slixmpp first. */
            f->lone_lt = 0;
            if (!(r->n_events > 0 && f->events[0].kind == SCAN_STANZA_START
                  && f->events[0].flag)) {
                return pass_carry(f, out);
            }
        }
        /* fall through */
    case STAGE_EVENTS:
        kind = next_event(f, mode, out);
        if (kind != FRAME_DONE) {
            return kind;
        }
        /* The read is scanned to its end: the header's bytes of it are
           kept, what is still open is held. */
        r->stage = STAGE_END_HOLD;
        if (f->in_header && !r->stopped
            && framer_keep_header(f, r->buf, r->len) < 0) {
            return stop(f, out);
        }
        /* fall through */
    case STAGE_END_HOLD:
        r->stage = STAGE_DONE;
        return hold_rest(f, mode, out);
    case STAGE_LONE_LT:
        r->stage = STAGE_DONE;
        if (framer_hold(f, r->buf + r->len - 1, 1) < 0) {
            return frame(out, FRAME_NO_MEMORY, NULL, 0, 0);
        }
        r->pass_from = r->len;
        f->holding = f->lone_lt = 1;
        return FRAME_DONE;
    default:
        return FRAME_DONE;
    }
}


