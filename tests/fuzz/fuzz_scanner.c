/*
 * libFuzzer harness for the stream scanner (csrc/scanner.c) alone, no
 * Python: a stream cut into reads at any points gives the very events it
 * gives whole, at the same stream offsets, and gives up at the same byte;
 * the events are consistent (a header before any stanza, each stanza's
 * start, name and end in order, its bytes from '<' to '>', nothing but a
 * failure after the stream's end, a failure final).  Hangs are libFuzzer's
 * -timeout.
 *
 * Input: one byte n, then n % 16 cut points of two bytes each (little
 * endian, modulo the stream's length + 1), then the stream.  With bit 4 of
 * n the scanner starts inside a root already open (a tap that joined the
 * stream mid-way): strict, giving SCAN_STANZA_OPEN.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuts.h"
#include "scanner.h"

#define MAX_CUTS 16

typedef struct {
    int kind;
    size_t at;      /* the stream offset: of the '<' for STANZA_START */
    int flag;       /* STANZA_NAME: the name's length */
} Event;

typedef struct {
    Event *events;
    size_t n, cap;
    int failed;
    size_t failed_at;
} Run;

static Scanner scanner;
static int mid_stream;

static void
record(Run *run, int kind, size_t at, int flag)
{
    if (run->n == run->cap) {
        run->cap = run->cap ? run->cap * 2 : 64;
        run->events = realloc(run->events, run->cap * sizeof(Event));
        require(run->events != NULL, "realloc");
    }
    run->events[run->n++] = (Event){kind, at, flag};
}

/* Scans the stream in reads that end at the cuts (sorted), as the tap
   does: every event of a read, until SCAN_MORE or SCAN_FAILED. */
static void
scan(Run *run, const char *stream, size_t len, const size_t *cuts,
     size_t n_cuts)
{
    size_t start = 0;
    scanner_reset(&scanner);
    if (mid_stream) {
        require(scanner_resume_in_root(&scanner, "stream:stream", 13) == 0,
                "resuming in the root");
        scanner.strict = scanner.report_open = 1;
    }
    memset(run, 0, sizeof(*run));
    for (size_t c = 0; c <= n_cuts && !run->failed; c++) {
        size_t end = c < n_cuts ? cuts[c] : len;
        if (end < start) {
            continue;
        }
        const char *buf = stream + start;
        size_t n = end - start, pos = 0, calls = 0;
        for (;;) {
            size_t before = pos;
            ScanEvent ev = scanner_next(&scanner, buf, n, &pos);
            require(pos >= before && pos <= n, "pos moving forward in the read");
            require(++calls <= 2 * n + 8, "a read's events being bounded");
            if (ev == SCAN_MORE) {
                require(pos == n, "SCAN_MORE using the read up");
                break;
            }
            if (ev == SCAN_FAILED) {
                run->failed = 1;
                run->failed_at = start + pos;
                require(scanner_next(&scanner, buf, n, &pos) == SCAN_FAILED,
                        "a failure being final");
                break;
            }
            size_t at = start + pos;
            int flag = 0;
            if (ev == SCAN_STANZA_START) {
                at = scanner.stanza_start_in_earlier_read ? start - 1
                                                          : at - 1;
                require(!scanner.stanza_start_in_earlier_read
                        || (pos == 0 && start > 0),
                        "a '<' of an earlier read being the last byte");
            }
            else if (ev == SCAN_STANZA_NAME) {
                size_t name_len;
                const char *name = scanner_stanza_name(&scanner, &name_len);
                require(name_len > 0 && name_len <= at - 1
                        && memcmp(name, stream + at - name_len, name_len) == 0,
                        "the name given being the bytes before the event");
                flag = (int)name_len;
            }
            record(run, ev, at, flag);
        }
        start = end;
    }
}

/* The events of one whole run make sense against the stream's bytes. */
static void
check_events(const Run *run, const char *stream, size_t len)
{
    int header = mid_stream, ended = 0;
    size_t stanza_at = 0, last_at = 0;
    int expect = SCAN_STANZA_START;
    for (size_t i = 0; i < run->n; i++) {
        const Event *e = &run->events[i];
        require(e->at <= len && e->at >= last_at, "events in stream order");
        last_at = e->kind == SCAN_STANZA_START ? e->at + 1 : e->at;
        require(!ended, "no event after the stream's end");
        switch (e->kind) {
        case SCAN_HEADER_END:
            require(!header, "one header");
            require(e->at > 0 && stream[e->at - 1] == '>', "header ending in '>'");
            header = 1;
            break;
        case SCAN_STANZA_START:
            require(header && expect == SCAN_STANZA_START,
                    "a stanza starting inside the root, after the last one");
            require(stream[e->at] == '<', "a stanza starting at '<'");
            stanza_at = e->at;
            expect = SCAN_STANZA_NAME;
            break;
        case SCAN_STANZA_NAME:
            require(expect == SCAN_STANZA_NAME, "a name after a start");
            require((size_t)e->flag == e->at - stanza_at - 1,
                    "the name being all of the tag from '<' to the event");
            expect = SCAN_STANZA_END;
            break;
        case SCAN_STANZA_OPEN:
            require(mid_stream && expect == SCAN_STANZA_END
                    && (i == 0 || run->events[i - 1].kind == SCAN_STANZA_NAME),
                    "an open start tag right after its name");
            require(stream[e->at - 1] == '>' && stream[e->at - 2] != '/',
                    "a start tag opening an element ending in '>'");
            break;
        case SCAN_STANZA_END:
            require(expect == SCAN_STANZA_END, "an end after a name");
            require(stream[e->at - 1] == '>', "a stanza ending in '>'");
            expect = SCAN_STANZA_START;
            break;
        case SCAN_STREAM_END:
            require(header && expect == SCAN_STANZA_START,
                    "the root closing between stanzas");
            ended = 1;
            break;
        default:
            require(0, "a known event");
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t n_cuts = data[0] % MAX_CUTS;
    mid_stream = data[0] & MAX_CUTS;
    if (size < 1 + 2 * n_cuts) {
        return 0;
    }
    const char *stream = (const char *)data + 1 + 2 * n_cuts;
    size_t len = size - 1 - 2 * n_cuts;
    size_t cuts[MAX_CUTS];
    fuzz_read_cuts(data + 1, n_cuts, len, cuts);

    Run whole, cut;
    scan(&whole, stream, len, NULL, 0);
    scan(&cut, stream, len, cuts, n_cuts);
    check_events(&whole, stream, len);
    require(whole.n == cut.n, "as many events whole and cut into reads");
    for (size_t i = 0; i < whole.n; i++) {
        const Event *a = &whole.events[i], *b = &cut.events[i];
        if (a->kind != b->kind || a->at != b->at || a->flag != b->flag) {
            fprintf(stderr, "event %zu: whole %d at %zu (%d), cut %d at %zu "
                    "(%d)\n", i, a->kind, a->at, a->flag, b->kind, b->at,
                    b->flag);
            require(0, "the same events whole and cut into reads");
        }
    }
    require(whole.failed == cut.failed
            && (!whole.failed || whole.failed_at == cut.failed_at),
            "giving up at the same byte whole and cut into reads");
    free(whole.events);
    free(cut.events);
    return 0;
}
