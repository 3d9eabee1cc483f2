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

/*
 * The lexer: one function per kind of markup, over a Lex that holds the
 * position in the buffer and the state.  Each consumes what it can and
 * returns LEX_ON to go on, or the event to report (SCAN_FAILED included);
 * it leaves x->state as the state to resume in.  All are static and called
 * from one switch, so the compiler inlines them into scanner_next().
 */
typedef struct {
    Scanner *s;
    const char *buf;
    const unsigned char *b;
    size_t len;
    size_t start;       /* where this call began */
    size_t p;
    int state;
} Lex;

/* "No event yet": SCAN_MORE is never returned from inside the loop. */
#define LEX_ON SCAN_MORE

/* The lexer's functions are one state machine cut into readable pieces:
   forced inline, as left to themselves GCC and clang call the larger ones
   and scanning costs 15 % more instructions than the one-piece switch (with
   them inlined, 15 % fewer). */
#if defined(__GNUC__) || defined(__clang__)
#define LEXER static inline __attribute__((always_inline)) ScanEvent
#else
#define LEXER static inline ScanEvent
#endif

LEXER
lex_fail(Lex *x)
{
    x->s->failed = 1;
    return SCAN_FAILED;
}

/* Skips XML whitespace; 1 if a byte follows in this buffer. */
static inline int
skip_space(Lex *x)
{
    while (x->p < x->len && (cls[x->b[x->p]] & C_SPACE)) {
        x->p++;
    }
    return x->p < x->len;
}

/* Character data up to the next '<'.  Inside the root's children any
   text; at the top (and between the root's children, when strict) only
   whitespace. */
LEXER
lex_text(Lex *x)
{
    Scanner *s = x->s;

    if (s->depth > 1 || (s->depth == 1 && !s->strict)) {
        const char *lt;

        /* most text between tags is empty: spare the call */
        if (x->b[x->p] == '<') {
            x->p++;
            x->state = ST_LT;
            return LEX_ON;
        }
        if (x->len - x->p >= 8 && little_endian()) {
            /* short texts ("away", "1"): one word, no call */
            uint64_t z = match_byte(load8(x->buf + x->p), '<');

            if (z != 0) {
                x->p += first_flag(z) + 1;
                x->state = ST_LT;
                return LEX_ON;
            }
            x->p += 8;
        }
        lt = memchr(x->buf + x->p, '<', x->len - x->p);
        if (lt == NULL) {
            x->p = x->len;
            return LEX_ON;
        }
        x->p = (size_t)(lt - x->buf) + 1;
    }
    else {
        if (!skip_space(x)) {
            return LEX_ON;
        }
        if (x->b[x->p] != '<') {
            return lex_fail(x);
        }
        x->p++;
    }
    x->state = ST_LT;
    return LEX_ON;
}

/* The byte after '<': a start tag's name, '/', "!" or '?'. */
LEXER
lex_lt(Lex *x)
{
    Scanner *s = x->s;
    unsigned char c = x->b[x->p];
    /* strict, between the root's children: no comment, CDATA or PI */
    int markup_allowed = !(s->strict && s->depth == 1);

    if (cls[c] & C_START) {
        if (s->depth == 0 && s->ended) {
            return lex_fail(x);
        }
        /* the name's first byte is left for ST_STAG_NAME */
        s->tag_len = 0;
        s->attrs = 0;
        x->state = ST_STAG_NAME;
        if (s->depth == 1) {
            /* entering here at the call's first byte means the '<' ended
               the previous buffer */
            s->stanza_start_in_earlier_read = (x->p == x->start);
            return SCAN_STANZA_START;
        }
        return LEX_ON;
    }
    if (c == '/') {
        if (s->depth == 0) {
            return lex_fail(x);
        }
        s->match = 0;
        x->state = ST_ETAG_NAME;
    }
    else if (c == '!' && markup_allowed) {
        x->state = ST_BANG;
    }
    else if (c == '?' && markup_allowed) {
        s->match = 0;
        x->state = ST_PI;
    }
    else {
        return lex_fail(x);
    }
    x->p++;
    return LEX_ON;
}

/* After "<!": "--" opens a comment, "[CDATA[" a CDATA section (not at the
   top); anything else (a DOCTYPE) ends the scan. */
LEXER
lex_bang(Lex *x)
{
    Scanner *s = x->s;
    unsigned char c = x->b[x->p];

    switch (x->state) {
    case ST_BANG:
        if (c == '-') {
            x->state = ST_BANG_DASH;
        }
        else if (c == '[' && s->depth > 0) {
            s->match = 0;
            x->state = ST_CDATA_OPEN;
        }
        else {
            return lex_fail(x);
        }
        break;
    case ST_BANG_DASH:
        if (c != '-') {
            return lex_fail(x);
        }
        s->match = 0;
        x->state = ST_COMMENT;
        break;
    default: /* ST_CDATA_OPEN */
        if (c != (unsigned char)cdata_open[s->match]) {
            return lex_fail(x);
        }
        if (++s->match == sizeof(cdata_open) - 1) {
            s->match = 0;
            x->state = ST_CDATA;
        }
        break;
    }
    x->p++;
    return LEX_ON;
}

/* The body of a comment, CDATA section or processing instruction. */
LEXER
lex_body(Lex *x)
{
    static const struct { char c; size_t need; } ends[] = {
        [ST_COMMENT] = {'-', 2}, [ST_CDATA] = {']', 2}, [ST_PI] = {'?', 1}};

    if (skip_body(x->buf, x->len, &x->p, ends[x->state].c,
                  ends[x->state].need, &x->s->match)) {
        x->state = ST_TEXT;
    }
    return LEX_ON;
}

/* A start tag's name, kept past the open elements' names (it may be cut
   between buffers).  At the root's children it is reported once the byte
   after it has come. */
LEXER
lex_stag_name(Lex *x)
{
    Scanner *s = x->s;
    size_t q = x->p;

    while (q < x->len && (cls[x->b[q]] & C_NAME)) {
        q++;
    }
    if (q > x->p) {
        size_t n = q - x->p;
        char *dst;

        /* room for the length too, pushed when the tag ends */
        if (reserve(s, n + sizeof(size_t)) < 0) {
            return lex_fail(x);
        }
        dst = s->names.data + s->names.len + s->tag_len;
        s->tag_len += n;
        if (n <= 16) {
            /* names are short: a call costs more than the copy */
            while (x->p < q) {
                *dst++ = x->buf[x->p++];
            }
        }
        else {
            memcpy(dst, x->buf + x->p, n);
            x->p = q;
        }
    }
    if (x->p == x->len) {
        return LEX_ON;
    }
    /* the byte that ends the name is left for ST_TAG_SPACE */
    x->state = ST_TAG_SPACE;
    return s->depth == 1 ? SCAN_STANZA_NAME : LEX_ON;
}

/* A start tag has ended with '>': push its name; depth grows. */
LEXER
tag_opened(Lex *x)
{
    Scanner *s = x->s;

    if (reserve(s, sizeof(size_t)) < 0) {
        x->p--;
        return lex_fail(x);
    }
    memcpy(s->names.data + s->names.len + s->tag_len, &s->tag_len,
           sizeof(size_t));
    s->names.len += s->tag_len + sizeof(size_t);
    s->tag_len = 0;
    s->depth++;
    x->state = ST_TEXT;
    if (s->depth == 1) {
        return SCAN_HEADER_END;
    }
    if (s->depth == 2 && s->report_open) {
        return SCAN_STANZA_OPEN;
    }
    return LEX_ON;
}

/* An empty-element tag has ended with "/>". */
LEXER
tag_emptied(Lex *x)
{
    Scanner *s = x->s;

    s->tag_len = 0;
    x->state = ST_TEXT;
    if (s->depth == 0) {
        /* an empty stream root: it opens and closes at once */
        s->ended = 1;
        s->pending = SCAN_STREAM_END;
        return SCAN_HEADER_END;
    }
    return s->depth == 1 ? SCAN_STANZA_END : LEX_ON;
}

/* Inside a start tag, after its name or an attribute: whitespace, then an
   attribute's name, '/' or '>'. */
LEXER
lex_tag_space(Lex *x)
{
    Scanner *s = x->s;
    unsigned char c;

    if (!skip_space(x)) {
        return LEX_ON;
    }
    c = x->b[x->p++];
    if (c == '>') {
        return tag_opened(x);
    }
    if (c == '/') {
        x->state = ST_EMPTY;
    }
    else if (cls[c] & C_START) {
        if (++s->attrs > SCANNER_MAX_ATTRS) {
            s->crowded = 1;
        }
        x->state = ST_ATTR_NAME;
    }
    else {
        x->p--;
        return lex_fail(x);
    }
    return LEX_ON;
}

/* An attribute's name, then '=' or whitespace. */
LEXER
lex_attr_name(Lex *x)
{
    unsigned char c;

    while (x->p < x->len && (cls[x->b[x->p]] & C_NAME)) {
        x->p++;
    }
    if (x->p == x->len) {
        return LEX_ON;
    }
    c = x->b[x->p];
    if (c == '=') {
        x->state = ST_ATTR_QUOTE;
    }
    else if (cls[c] & C_SPACE) {
        x->state = ST_ATTR_EQ;
    }
    else {
        return lex_fail(x);
    }
    x->p++;
    return LEX_ON;
}

/* Whitespace after an attribute's name, then '='. */
LEXER
lex_attr_eq(Lex *x)
{
    if (!skip_space(x)) {
        return LEX_ON;
    }
    if (x->b[x->p] != '=') {
        return lex_fail(x);
    }
    x->state = ST_ATTR_QUOTE;
    x->p++;
    return LEX_ON;
}

/* Whitespace after '=', then the value's opening quote. */
LEXER
lex_attr_quote(Lex *x)
{
    unsigned char c;

    if (!skip_space(x)) {
        return LEX_ON;
    }
    c = x->b[x->p];
    if (c != '\'' && c != '"') {
        return lex_fail(x);
    }
    x->s->quote = c;
    x->state = ST_ATTR_VALUE;
    x->p++;
    return LEX_ON;
}

/* An attribute's value, up to its closing quote. */
LEXER
lex_attr_value(Lex *x)
{
    const unsigned char quote = (unsigned char)x->s->quote;
    size_t p = x->p;

    /* values are mostly short (ids, JIDs) but may be long */
    while (x->len - p >= 8) {
        uint64_t w = load8(x->buf + p);
        uint64_t z = match_byte(w, quote) | match_byte(w, '<');

        if (z != 0) {
            if (little_endian()) {
                p += first_flag(z);
            }
            break;
        }
        p += 8;
    }
    while (p < x->len && x->b[p] != quote && x->b[p] != '<') {
        p++;
    }
    x->p = p;
    if (p == x->len) {
        return LEX_ON;
    }
    if (x->b[p] == '<') {
        /* XML forbids it; a parser would stop here */
        return lex_fail(x);
    }
    x->state = ST_ATTR_END;
    x->p++;
    return LEX_ON;
}

/* After a value: whitespace, '/' or '>'. */
LEXER
lex_attr_end(Lex *x)
{
    unsigned char c = x->b[x->p++];

    if (c == '>') {
        return tag_opened(x);
    }
    if (c == '/') {
        x->state = ST_EMPTY;
    }
    else if (cls[c] & C_SPACE) {
        x->state = ST_TAG_SPACE;
    }
    else {
        x->p--;
        return lex_fail(x);
    }
    return LEX_ON;
}

/* After '/' in a start tag: '>'. */
LEXER
lex_empty(Lex *x)
{
    if (x->b[x->p] != '>') {
        return lex_fail(x);
    }
    x->p++;
    return tag_emptied(x);
}

/* An end tag has ended with '>': pop the name it matched. */
LEXER
tag_closed(Lex *x)
{
    Scanner *s = x->s;
    size_t n;

    (void)top_name(s, &n);
    s->names.len -= n + sizeof(size_t);
    s->depth--;
    x->state = ST_TEXT;
    if (s->depth == 1) {
        return SCAN_STANZA_END;
    }
    if (s->depth == 0) {
        s->ended = 1;
        return SCAN_STREAM_END;
    }
    return LEX_ON;
}

/* Whitespace after an end tag's name, then '>'. */
LEXER
lex_etag_space(Lex *x)
{
    if (!skip_space(x)) {
        return LEX_ON;
    }
    if (x->b[x->p] != '>') {
        return lex_fail(x);
    }
    x->p++;
    return tag_closed(x);
}

/* An end tag's name: the innermost open element's, byte for byte. */
LEXER
lex_etag_name(Lex *x)
{
    Scanner *s = x->s;
    size_t n, m = s->match;
    const char *name = top_name(s, &n);
    unsigned char c;

    while (x->p < x->len && m < n && x->buf[x->p] == name[m]) {
        x->p++;
        m++;
    }
    s->match = m;
    if (x->p == x->len) {
        return LEX_ON;
    }
    /* the open name is a whole name, so a byte past it that could go on
       the name is a mismatch too */
    c = x->b[x->p];
    if (m < n || !(c == '>' || (cls[c] & C_SPACE))) {
        return lex_fail(x);
    }
    x->state = ST_ETAG_SPACE;
    return lex_etag_space(x);
}

ScanEvent
scanner_next(Scanner *s, const char *buf, size_t len, size_t *pos)
{
    Lex x = {s, buf, (const unsigned char *)buf, len, *pos, *pos, s->state};
    ScanEvent ev = LEX_ON;

    if (s->failed) {
        return SCAN_FAILED;
    }
    if (s->pending != SCAN_MORE) {
        ev = (ScanEvent)s->pending;
        s->pending = SCAN_MORE;
        return ev;
    }
    while (ev == LEX_ON && x.p < len) {
        switch (x.state) {
        case ST_TEXT:
            ev = lex_text(&x);
            break;
        case ST_LT:
            ev = lex_lt(&x);
            break;
        case ST_BANG:
        case ST_BANG_DASH:
        case ST_CDATA_OPEN:
            ev = lex_bang(&x);
            break;
        case ST_COMMENT:
        case ST_CDATA:
        case ST_PI:
            ev = lex_body(&x);
            break;
        case ST_STAG_NAME:
            ev = lex_stag_name(&x);
            break;
        case ST_TAG_SPACE:
            ev = lex_tag_space(&x);
            break;
        case ST_ATTR_NAME:
            ev = lex_attr_name(&x);
            break;
        case ST_ATTR_EQ:
            ev = lex_attr_eq(&x);
            break;
        case ST_ATTR_QUOTE:
            ev = lex_attr_quote(&x);
            break;
        case ST_ATTR_VALUE:
            ev = lex_attr_value(&x);
            break;
        case ST_ATTR_END:
            ev = lex_attr_end(&x);
            break;
        case ST_EMPTY:
            ev = lex_empty(&x);
            break;
        case ST_ETAG_NAME:
            ev = lex_etag_name(&x);
            break;
        case ST_ETAG_SPACE:
            ev = lex_etag_space(&x);
            break;
        default:
            ev = lex_fail(&x);
            break;
        }
    }
    s->state = x.state;
    *pos = x.p;
    return ev;
}

const char *
scanner_stanza_name(const Scanner *s, size_t *n)
{
    *n = s->tag_len;
    return s->names.data + s->names.len;
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
