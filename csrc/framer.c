/* The framer (framer.h). */
#include "framer.h"

#include <stdlib.h>

#include "rules.h"

/* A stream header larger than this is not one we need to understand. */
#define MAX_HEADER ((size_t)64 * 1024)
/* An iq larger than this is no ping nor pong: slixmpp gets it as it comes. */
#define MAX_HELD ((size_t)16 * 1024)

void
framer_init(Framer *f)
{
    scanner_init(&f->scanner);
    buf_init(&f->header);
    buf_init(&f->carry);
    f->in_header = 1;
    f->holding = 0;
    f->lone_lt = 0;
    f->events = NULL;
    f->events_cap = 0;
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
    if (f->carry.len + n > MAX_HELD) {
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
