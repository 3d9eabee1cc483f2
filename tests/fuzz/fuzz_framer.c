/*
 * libFuzzer harness for the framer (csrc/framer.c) alone, no Python: a
 * stream cut into reads at any points goes through framer_next() as the
 * tap drives it, the fuzzer deciding what the tap would (which candidates
 * it acts on and takes, when it holds nothing, when it goes passive: where
 * the tap may, after a header or at a candidate).
 *
 * Oracles besides the sanitizers: the bytes passed to slixmpp and those of
 * the candidates taken are exactly the stream's, in order, each once; every
 * candidate is a whole top-level element of the stream (its '<' to its
 * '>', as the scanner finds them in the stream whole) and comes after
 * every byte before it was passed when the tap acts on it; a carried
 * candidate's bytes never exceed the hold limit, nor do the held bytes;
 * the header frame is the stream's bytes up to the root's start tag's end.
 *
 * Input: one byte n, then n % 16 cut points of two bytes each (little
 * endian, modulo the stream's length + 1), then four bytes seeding the
 * tap's decisions, then the stream.  With bit 4 of n the hold limit is 64
 * bytes, so that small inputs reach it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cuts.h"
#include "framer.h"

#define MAX_CUTS 16
#define SMALL_HOLD_LIMIT 64

typedef struct {
    size_t start, end;
} Span;

/* The stream whole, and what the emulated tap has done with it. */
typedef struct {
    const char *stream;
    size_t len;
    Span *stanzas;          /* the scanner's top-level elements, whole */
    size_t n_stanzas;
    size_t header_end;      /* 0: none */
    size_t done;            /* stream[0:done] passed or taken */
    uint32_t dice;
    int passive;
    int hold;               /* the tap's answer_pings || complete_pongs */
} Run;

static Framer framer;

/* One of the tap's decisions: 1 with probability 1 / one_in. */
static int
roll(Run *run, uint32_t one_in)
{
    run->dice ^= run->dice << 13;
    run->dice ^= run->dice >> 17;
    run->dice ^= run->dice << 5;
    return run->dice % one_in == 0;
}

/* The top-level elements and the header's end, from the stream whole. */
static void
find_stanzas(Run *run)
{
    Scanner scanner;
    scanner_init(&scanner);
    size_t pos = 0, cap = 0, start = 0;
    for (;;) {
        ScanEvent ev = scanner_next(&scanner, run->stream, run->len, &pos);
        if (ev == SCAN_MORE || ev == SCAN_FAILED) {
            break;
        }
        if (ev == SCAN_HEADER_END) {
            run->header_end = pos;
        }
        else if (ev == SCAN_STANZA_START) {
            start = pos - 1;
        }
        else if (ev == SCAN_STANZA_END) {
            if (run->n_stanzas == cap) {
                cap = cap ? 2 * cap : 16;
                run->stanzas = realloc(run->stanzas, cap * sizeof(Span));
                require(run->stanzas != NULL, "realloc");
            }
            run->stanzas[run->n_stanzas++] = (Span){start, pos};
        }
    }
    scanner_free(&scanner);
}

/* Bytes that reach slixmpp, or a candidate taken: the next in the stream. */
static void
consume(Run *run, const char *p, size_t n, const char *what)
{
    require(n <= run->len - run->done
            && (n == 0 || memcmp(p, run->stream + run->done, n) == 0), what);
    run->done += n;
}

static void
check_candidate(const Run *run, const Frame *c, size_t at)
{
    require(c->n >= 2 && c->p[0] == '<' && c->p[c->n - 1] == '>',
            "a candidate from '<' to '>'");
    require(!c->carried || c->n <= framer.max_held,
            "a carried candidate within the hold limit");
    int found = 0;
    for (size_t i = 0; i < run->n_stanzas && !found; i++) {
        found = run->stanzas[i].start == at
                && run->stanzas[i].end == at + c->n;
    }
    require(found, "a candidate being a whole top-level element");
    require(memcmp(c->p, run->stream + at, c->n) == 0,
            "a candidate's bytes being the stream's");
}

/* As the tap's on_candidate(): acts on it or not, takes it or not. */
static void
on_candidate(Run *run, const Frame *c, const char *buf, size_t read_start)
{
    /* Carried: everything before it reached slixmpp when it was held. */
    size_t at = c->carried ? run->done
                           : read_start + (size_t)(c->p - buf);
    check_candidate(run, c, at);
    int taken = 0;
    /* The stanza parser refusing it sends the tap passive. */
    run->passive |= roll(run, 32);
    if (!run->passive && roll(run, 2)) {
        Frame before;
        framer_pass_before(&framer, &before);
        require(before.kind == FRAME_PASS, "bytes before a candidate");
        consume(run, before.p, before.n, "the bytes before a candidate");
        require(run->done == at, "a candidate acted on right after them");
        run->passive |= roll(run, 16);
        taken = !run->passive && roll(run, 2);
        if (taken) {
            consume(run, c->p, c->n, "a candidate taken");
        }
    }
    framer_taken(&framer, taken);
}

/* One read, as the tap's act_on_read() and the rest after it. */
static void
read_one(Run *run, const char *buf, size_t n, size_t read_start)
{
    if (run->passive) {
        consume(run, buf, n, "a read while passive");
        return;
    }
    int stanza_ended;
    long n_events = framer_scan(&framer, buf, n, &stanza_ended);
    framer_begin_read(&framer, buf, n, n_events);
    size_t frames = 0;
    for (;;) {
        require(++frames <= 4 * (size_t)(n_events < 0 ? 0 : n_events) + 8,
                "a read's frames being bounded");
        run->hold ^= roll(run, 32);
        FramerMode mode = run->passive ? FRAMER_PASSIVE
                          : run->hold ? FRAMER_HOLD : FRAMER_FOLLOW;
        Frame frame;
        FrameKind kind = framer_next(&framer, mode, &frame);
        require(framer.carry.len <= framer.max_held, "the hold limit");
        if (kind == FRAME_DONE) {
            break;
        }
        require(kind == frame.kind, "the frame's kind");
        switch (kind) {
        case FRAME_PASS:
            consume(run, frame.p, frame.n, "bytes passed");
            break;
        case FRAME_HEADER:
            require(frame.n == run->header_end
                    && memcmp(frame.p, run->stream, frame.n) == 0,
                    "the header being the stream's up to its end");
            run->passive |= roll(run, 64);
            break;
        case FRAME_CANDIDATE:
            on_candidate(run, &frame, buf, read_start);
            break;
        case FRAME_PASSIVE:
            run->passive = 1;
            break;
        default:
            require(0, "no frame but these (memory does not run out here)");
        }
    }
    Frame rest;
    framer_rest(&framer, &rest);
    consume(run, rest.p, rest.n, "the rest of a read");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t n_cuts = data[0] % MAX_CUTS;
    size_t head = 1 + 2 * n_cuts + 4;
    if (size < head) {
        return 0;
    }
    Run run = {.stream = (const char *)data + head, .len = size - head,
               .hold = 1};
    memcpy(&run.dice, data + head - 4, 4);
    run.dice |= 1;      /* xorshift never leaves 0 */
    size_t cuts[MAX_CUTS + 1];
    fuzz_read_cuts(data + 1, n_cuts, run.len, cuts);
    cuts[n_cuts] = run.len;
    find_stanzas(&run);

    framer_init(&framer);
    framer.max_held = data[0] & MAX_CUTS ? SMALL_HOLD_LIMIT : FRAMER_MAX_HELD;
    size_t start = 0;
    for (size_t c = 0; c <= n_cuts; c++) {
        read_one(&run, run.stream + start, cuts[c] - start, start);
        start = cuts[c];
    }
    /* What is still held reaches slixmpp with the next read (or never, as
       the stream stops here): it must be all that is missing. */
    require(run.done + framer.carry.len == run.len,
            "every byte passed, taken or held at the end");
    require(framer.carry.len == 0
            || memcmp(framer.carry.data, run.stream + run.done,
                      framer.carry.len) == 0,
            "the held bytes being the stream's next");
    framer_free(&framer);
    free(run.stanzas);
    return 0;
}
