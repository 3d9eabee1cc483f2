/*
 * The stream scanner (see scanner.h): a state machine over bytes whose state
 * survives from one buffer to the next, so a read may end anywhere.  Text,
 * attribute values and the bodies of comments, CDATA sections and processing
 * instructions are skipped with memchr() or eight bytes at a time; names go
 * through a class table.  Nothing is called through a pointer.
 */
#include <stdlib.h>
#include <string.h>

#include "scanner.h"

/* What the next byte may be. */
enum {
    ST_TEXT = 0,    /* character data; at depth 0 only whitespace */
    ST_LT,          /* after '<' */
    ST_BANG,        /* after "<!" */
    ST_BANG_DASH,   /* after "<!-" */
    ST_CDATA_OPEN,  /* after "<![", match = bytes of "CDATA[" seen */
    ST_COMMENT,     /* comment body, match = '-' just before */
    ST_CDATA,       /* CDATA body, match = ']' just before */
    ST_PI,          /* processing instruction, match = '?' just before */
    ST_STAG_NAME,   /* start tag's name */
    ST_TAG_SPACE,   /* start tag, where an attribute, '/' or '>' may come */
    ST_ATTR_NAME,
    ST_ATTR_EQ,     /* after an attribute's name */
    ST_ATTR_QUOTE,  /* after '=' */
    ST_ATTR_VALUE,  /* quote = the closing quote */
    ST_ATTR_END,    /* after a value: whitespace, '/' or '>' must follow */
    ST_EMPTY,       /* after '/' in a start tag */
    ST_ETAG_NAME,   /* end tag's name, match = bytes equal to the open one */
    ST_ETAG_SPACE   /* after the end tag's name */
};

#define C_START 1   /* may start a name */
#define C_NAME 2    /* may be in a name */
#define C_SPACE 4   /* XML whitespace */

/* Names are checked for ASCII only: any byte >= 0x80 is taken as a name
   byte, so a multi-byte character may be cut anywhere; slixmpp's parser
   judges the rest. */
static const unsigned char cls[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 0, 0, 4, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 0, 0, 0, 0, 0,
    0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 3,
    0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
};

static const char cdata_open[] = "CDATA[";

/*
 * Eight bytes at a time (SWAR) for the short runs that dominate stanzas,
 * where a call to memchr() costs more than the scan.  match_byte() sets the
 * high bit of each byte of w equal to c; a borrow may also flag a byte above
 * a true match but never below one, so the lowest flag is exact and, from a
 * little-endian load, is the first such byte in memory.
 */
#define ONES ((uint64_t)0x0101010101010101u)
#define HIGHS ((uint64_t)0x8080808080808080u)

/* A constant the compiler folds. */
static inline int
little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;

    memcpy(&first, &one, 1);
    return first == 1;
}

static inline uint64_t
load8(const char *p)
{
    uint64_t w;

    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t
match_byte(uint64_t w, unsigned char c)
{
    uint64_t x = w ^ (ONES * c);

    return (x - ONES) & ~x & HIGHS;
}

/* The index of the lowest flagged byte, z != 0: the bytes below it are
   counted by a multiply that sums them into the top byte. */
static inline size_t
first_flag(uint64_t z)
{
    return (size_t)(((((z & (~z + 1)) - 1) & ONES) * ONES) >> 56) - 1;
}

void
scanner_init(Scanner *s)
{
    memset(s, 0, sizeof(*s));
    s->state = ST_TEXT;
    s->pending = SCAN_MORE;
}

void
scanner_reset(Scanner *s)
{
    Buf names = s->names;

    scanner_init(s);
    names.len = 0;
    s->names = names;
}

void
scanner_free(Scanner *s)
{
    buf_free(&s->names);
    scanner_init(s);
}

int
scanner_resume_in_root(Scanner *s, const char *root, size_t n)
{
    scanner_reset(s);
    if (n > SIZE_MAX - sizeof(size_t)
        || buf_reserve(&s->names, n + sizeof(size_t)) < 0) {
        return -1;
    }
    memcpy(s->names.data, root, n);
    memcpy(s->names.data + n, &n, sizeof(size_t));
    s->names.len = n + sizeof(size_t);
    s->depth = 1;
    return 0;
}

/* Room for extra bytes past the name being read; -1 if none can be had. */
static int
reserve(Scanner *s, size_t extra)
{
    if (extra > SIZE_MAX - s->tag_len) {
        return -1;
    }
    return buf_reserve(&s->names, s->tag_len + extra);
}

/* The innermost open element's name; depth must be > 0. */
static const char *
top_name(const Scanner *s, size_t *n)
{
    size_t off = s->names.len - sizeof(size_t);

    memcpy(n, s->names.data + off, sizeof(size_t));
    return s->names.data + off - *n;
}

/*
 * Skips a body that ends at the first '>' preceded by `need` bytes c
 * ("-->", "]]>", "?>").  *match carries the run of c that ended the
 * previous buffer, since the delimiter may be cut anywhere.  Returns 1 with
 * *pp past the '>' when found, else 0 with *pp = len.
 */
static int
skip_body(const char *buf, size_t len, size_t *pp, char c, size_t need,
          size_t *match)
{
    size_t p = *pp;
    size_t run;

    for (;;) {
        const char *gt = memchr(buf + p, '>', len - p);
        size_t q;

        if (gt == NULL) {
            run = 0;
            while (run < need && run < len - p && buf[len - 1 - run] == c) {
                run++;
            }
            if (run == len - p) {
                /* the whole rest is c: it extends the carried run */
                run += *match;
                if (run > need) {
                    run = need;
                }
            }
            *match = run;
            *pp = len;
            return 0;
        }
        q = (size_t)(gt - buf);
        run = 0;
        while (run < need && q - run > p && buf[q - 1 - run] == c) {
            run++;
        }
        if (q - run == p) {
            run += *match;
        }
        if (run >= need) {
            *pp = q + 1;
            return 1;
        }
        *match = 0;
        p = q + 1;
    }
}

ScanEvent
scanner_next(Scanner *s, const char *buf, size_t len, size_t *pos)
{
    const unsigned char *b = (const unsigned char *)buf;
    const size_t start = *pos;
    size_t p = start;
    int state = s->state;
    ScanEvent ev;
    unsigned char c;
    size_t n;

    if (s->failed) {
        return SCAN_FAILED;
    }
    if (s->pending != SCAN_MORE) {
        ev = (ScanEvent)s->pending;
        s->pending = SCAN_MORE;
        return ev;
    }

    while (p < len) {
        switch (state) {

        case ST_TEXT:
            if (s->depth > 1 || (s->depth == 1 && !s->strict)) {
                const char *lt;

                /* most text between tags is empty: spare the call */
                if (b[p] == '<') {
                    p++;
                    state = ST_LT;
                    break;
                }
                if (len - p >= 8 && little_endian()) {
                    /* short texts ("away", "1"): one word, no call */
                    uint64_t z = match_byte(load8(buf + p), '<');

                    if (z != 0) {
                        p += first_flag(z) + 1;
                        state = ST_LT;
                        break;
                    }
                    p += 8;
                }
                lt = memchr(buf + p, '<', len - p);
                if (lt == NULL) {
                    p = len;
                    break;
                }
                p = (size_t)(lt - buf) + 1;
            }
            else {
                /* outside the root (and strict, between stanzas) only
                   whitespace and markup */
                while (p < len && (cls[b[p]] & C_SPACE)) {
                    p++;
                }
                if (p == len) {
                    break;
                }
                if (b[p] != '<') {
                    goto fail;
                }
                p++;
            }
            state = ST_LT;
            break;

        case ST_LT:
            c = b[p];
            if (cls[c] & C_START) {
                if (s->depth == 0 && s->ended) {
                    goto fail;
                }
                /* the name's first byte is left for ST_STAG_NAME */
                s->tag_len = 0;
                s->attrs = 0;
                state = ST_STAG_NAME;
                if (s->depth == 1) {
                    /* entering here at the call's first byte means the
                       '<' ended the previous buffer */
                    s->stanza_start_in_earlier_read = (p == start);
                    ev = SCAN_STANZA_START;
                    goto event;
                }
            }
            else if (c == '/') {
                if (s->depth == 0) {
                    goto fail;
                }
                s->match = 0;
                state = ST_ETAG_NAME;
                p++;
            }
            /* strict, between stanzas: no comment, CDATA or PI */
            else if (c == '!' && !(s->strict && s->depth == 1)) {
                state = ST_BANG;
                p++;
            }
            else if (c == '?' && !(s->strict && s->depth == 1)) {
                s->match = 0;
                state = ST_PI;
                p++;
            }
            else {
                goto fail;
            }
            break;

        case ST_BANG:
            /* a DOCTYPE, or anything but a comment or CDATA, ends here */
            c = b[p];
            if (c == '-') {
                state = ST_BANG_DASH;
            }
            else if (c == '[' && s->depth > 0) {
                s->match = 0;
                state = ST_CDATA_OPEN;
            }
            else {
                goto fail;
            }
            p++;
            break;

        case ST_BANG_DASH:
            if (b[p] != '-') {
                goto fail;
            }
            s->match = 0;
            state = ST_COMMENT;
            p++;
            break;

        case ST_CDATA_OPEN:
            if (b[p] != (unsigned char)cdata_open[s->match]) {
                goto fail;
            }
            p++;
            if (++s->match == sizeof(cdata_open) - 1) {
                s->match = 0;
                state = ST_CDATA;
            }
            break;

        case ST_COMMENT:
            if (skip_body(buf, len, &p, '-', 2, &s->match)) {
                state = ST_TEXT;
            }
            break;

        case ST_CDATA:
            if (skip_body(buf, len, &p, ']', 2, &s->match)) {
                state = ST_TEXT;
            }
            break;

        case ST_PI:
            if (skip_body(buf, len, &p, '?', 1, &s->match)) {
                state = ST_TEXT;
            }
            break;

        case ST_STAG_NAME: {
            size_t q = p;
            char *dst;

            while (q < len && (cls[b[q]] & C_NAME)) {
                q++;
            }
            if (q > p) {
                /* room for the length too, pushed when the tag ends */
                if (reserve(s, q - p + sizeof(size_t)) < 0) {
                    goto fail;
                }
                dst = s->names.data + s->names.len + s->tag_len;
                s->tag_len += q - p;
                if (q - p <= 16) {
                    /* names are short: a call costs more than the copy */
                    while (p < q) {
                        *dst++ = buf[p++];
                    }
                }
                else {
                    memcpy(dst, buf + p, q - p);
                    p = q;
                }
            }
            if (p == len) {
                break;
            }
            /* the byte that ends the name is left for ST_TAG_SPACE */
            state = ST_TAG_SPACE;
            if (s->depth == 1) {
                s->stanza_is_iq = (s->tag_len == 2 &&
                                   memcmp(s->names.data + s->names.len, "iq",
                                          2) == 0);
                ev = SCAN_STANZA_NAME;
                goto event;
            }
            break;
        }

        case ST_TAG_SPACE:
            while (p < len && (cls[b[p]] & C_SPACE)) {
                p++;
            }
            if (p == len) {
                break;
            }
            c = b[p++];
            if (c == '>') {
                goto start_tag_end;
            }
            else if (c == '/') {
                state = ST_EMPTY;
            }
            else if (cls[c] & C_START) {
                if (++s->attrs > SCANNER_MAX_ATTRS) {
                    s->crowded = 1;
                }
                state = ST_ATTR_NAME;
            }
            else {
                p--;
                goto fail;
            }
            break;

        case ST_ATTR_NAME:
            while (p < len && (cls[b[p]] & C_NAME)) {
                p++;
            }
            if (p == len) {
                break;
            }
            c = b[p];
            if (c == '=') {
                state = ST_ATTR_QUOTE;
            }
            else if (cls[c] & C_SPACE) {
                state = ST_ATTR_EQ;
            }
            else {
                goto fail;
            }
            p++;
            break;

        case ST_ATTR_EQ:
            while (p < len && (cls[b[p]] & C_SPACE)) {
                p++;
            }
            if (p == len) {
                break;
            }
            if (b[p] != '=') {
                goto fail;
            }
            state = ST_ATTR_QUOTE;
            p++;
            break;

        case ST_ATTR_QUOTE:
            while (p < len && (cls[b[p]] & C_SPACE)) {
                p++;
            }
            if (p == len) {
                break;
            }
            c = b[p];
            if (c != '\'' && c != '"') {
                goto fail;
            }
            s->quote = c;
            state = ST_ATTR_VALUE;
            p++;
            break;

        case ST_ATTR_VALUE: {
            const unsigned char quote = (unsigned char)s->quote;

            /* values are mostly short (ids, JIDs) but may be long */
            while (len - p >= 8) {
                uint64_t w = load8(buf + p);
                uint64_t z = match_byte(w, quote) | match_byte(w, '<');

                if (z != 0) {
                    if (little_endian()) {
                        p += first_flag(z);
                    }
                    break;
                }
                p += 8;
            }
            while (p < len && b[p] != quote && b[p] != '<') {
                p++;
            }
            if (p == len) {
                break;
            }
            if (b[p] == '<') {
                /* XML forbids it; a parser would stop here */
                goto fail;
            }
            state = ST_ATTR_END;
            p++;
            break;
        }

        case ST_ATTR_END:
            c = b[p++];
            if (c == '>') {
                goto start_tag_end;
            }
            else if (c == '/') {
                state = ST_EMPTY;
            }
            else if (cls[c] & C_SPACE) {
                state = ST_TAG_SPACE;
            }
            else {
                p--;
                goto fail;
            }
            break;

        case ST_EMPTY:
            if (b[p] != '>') {
                goto fail;
            }
            p++;
            s->tag_len = 0;
            state = ST_TEXT;
            if (s->depth == 0) {
                /* an empty stream root: it opens and closes at once */
                s->ended = 1;
                s->pending = SCAN_STREAM_END;
                ev = SCAN_HEADER_END;
                goto event;
            }
            if (s->depth == 1) {
                ev = SCAN_STANZA_END;
                goto event;
            }
            break;

        case ST_ETAG_NAME: {
            const char *name = top_name(s, &n);
            size_t m = s->match;

            while (p < len && m < n && buf[p] == name[m]) {
                p++;
                m++;
            }
            s->match = m;
            if (p == len) {
                break;
            }
            /* the open name is a whole name, so a byte past it that could
               go on the name is a mismatch too */
            if (m < n) {
                goto fail;
            }
            c = b[p];
            if (c == '>') {
                p++;
                goto end_tag_end;
            }
            if (!(cls[c] & C_SPACE)) {
                goto fail;
            }
            state = ST_ETAG_SPACE;
            p++;
            break;
        }

        case ST_ETAG_SPACE:
            while (p < len && (cls[b[p]] & C_SPACE)) {
                p++;
            }
            if (p == len) {
                break;
            }
            if (b[p] != '>') {
                goto fail;
            }
            p++;
            goto end_tag_end;

        default:
            goto fail;
        }
        continue;

    start_tag_end:
        /* push the name's length after its bytes; depth grows */
        if (reserve(s, sizeof(size_t)) < 0) {
            p--;
            goto fail;
        }
        memcpy(s->names.data + s->names.len + s->tag_len, &s->tag_len,
               sizeof(size_t));
        s->names.len += s->tag_len + sizeof(size_t);
        s->tag_len = 0;
        s->depth++;
        state = ST_TEXT;
        if (s->depth == 1) {
            ev = SCAN_HEADER_END;
            goto event;
        }
        if (s->depth == 2 && s->report_open) {
            ev = SCAN_STANZA_OPEN;
            goto event;
        }
        continue;

    end_tag_end:
        /* pop the name the end tag matched */
        (void)top_name(s, &n);
        s->names.len -= n + sizeof(size_t);
        s->depth--;
        state = ST_TEXT;
        if (s->depth == 1) {
            ev = SCAN_STANZA_END;
            goto event;
        }
        if (s->depth == 0) {
            s->ended = 1;
            ev = SCAN_STREAM_END;
            goto event;
        }
    }
    ev = SCAN_MORE;

event:
    s->state = state;
    *pos = p;
    return ev;

fail:
    s->failed = 1;
    s->state = state;
    *pos = p;
    return SCAN_FAILED;
}

int
scanner_between_stanzas(const Scanner *s)
{
    return !s->failed && s->state == ST_TEXT && s->depth == 1
           && s->pending == SCAN_MORE;
}

int
scanner_at_stanza_lt(const Scanner *s)
{
    /* ST_LT survives a call only when its '<' was the buffer's last byte */
    return !s->failed && s->state == ST_LT && s->depth == 1;
}
