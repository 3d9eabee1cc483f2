/*
 * The stream scanner: finds the byte spans of an XMPP stream's top-level
 * elements (stanzas) without building anything.  Pure C, no Python.
 *
 * It follows XML at the level of markup only (start tags, end tags, empty
 * tags, comments, CDATA sections, processing instructions, quoted attribute
 * values that may hold '>' or '/'), so it can be fed a stream cut into reads
 * at any byte.  It checks that every end tag closes the element that is open
 * (a stack of the open elements' qualified names) and gives up on anything
 * else it cannot follow: a DOCTYPE, a '<' where markup cannot start, an end
 * tag that does not match.  Giving up is final until scanner_reset(): the
 * caller then hands every byte to slixmpp's own parser, which reports the
 * error to the peer as slixmpp always has.
 *
 * It also notes an element with more than SCANNER_MAX_ATTRS attributes
 * (crowded): libxml2 2.9 checks each attribute against every earlier one of
 * its element, so such an element costs it time quadratic in their number.
 */
#ifndef SLIXMPP_PING_C_SCANNER_H
#define SLIXMPP_PING_C_SCANNER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* More attributes than any stanza needs; libxml2 checks this many in well
   under a millisecond. */
#define SCANNER_MAX_ATTRS 1024

typedef enum {
    SCAN_MORE,          /* every byte of the buffer was consumed */
    SCAN_HEADER_END,    /* the root's start tag ended just before *pos */
    SCAN_STANZA_START,  /* a top-level start tag's '<' is at *pos - 1, or see
                           stanza_start_in_earlier_read */
    SCAN_STANZA_NAME,   /* that tag's name ended just before *pos; see
                           scanner_stanza_name() */
    SCAN_STANZA_END,    /* a top-level element ended just before *pos */
    SCAN_STREAM_END,    /* the stream root closed just before *pos */
    SCAN_STANZA_OPEN,   /* with report_open: a top-level start tag (not an
                           empty-element tag) ended just before *pos */
    SCAN_FAILED         /* the scanner gave up; see the file comment */
} ScanEvent;

/*
 * The events of one top-level element (stanza), in order:
 *
 *   SCAN_STANZA_START  once the byte after its '<' shows a start tag (a
 *       name, not '/', '!' or '?').  The '<' is at *pos - 1 in this buffer,
 *       unless stanza_start_in_earlier_read is set: then the '<' was the last
 *       byte of the previous buffer (and *pos is where this call began), so
 *       the stanza's bytes are "<" followed by this buffer from *pos on.
 *   SCAN_STANZA_NAME   once the byte after its name has been seen, perhaps
 *       in a later buffer; that byte is at *pos, not yet consumed.
 *       scanner_stanza_name() then gives the name.
 *   SCAN_STANZA_END    after the '>' of its end tag or of its empty-element
 *       tag "/>": the element's bytes end just before *pos.
 *
 * The stream root gives SCAN_HEADER_END after its start tag and
 * SCAN_STREAM_END after its end tag; an empty root "<stream:stream/>" gives
 * both, one call after the other, at the same *pos.  After the root's end
 * only whitespace, comments and processing instructions may follow.
 */
typedef struct {
    /* private: the lexer's state, kept across buffers */
    int state;
    int quote;                /* the open attribute value's quote character */
    int pending;              /* an event owed to the caller, or SCAN_MORE */
    int ended;                /* the stream root has closed */
    int failed;
    size_t depth;             /* open elements, the stream root included */
    size_t match;             /* progress through a fixed delimiter or name */
    /* the open elements' qualified names, each followed by its length (a
       size_t, unaligned); the start tag being read keeps its name's first
       tag_len bytes just past them */
    Buf names;
    size_t tag_len;
    size_t attrs;             /* attributes of the start tag being read */
    /* public: an element with more than SCANNER_MAX_ATTRS attributes was
       seen since the caller last set it to 0 */
    int crowded;
    /* public, set by the caller: at depth 1 only whitespace and elements
       (no text, comment, CDATA section or processing instruction), as a
       stream between stanzas; anything else fails */
    int strict;
    /* public, set by the caller: give SCAN_STANZA_OPEN */
    int report_open;
    /* public, valid after SCAN_STANZA_START */
    int stanza_start_in_earlier_read;
} Scanner;

void scanner_init(Scanner *s);
/* Back to the start of a stream (a stream restart), keeping the memory. */
void scanner_reset(Scanner *s);
void scanner_free(Scanner *s);
/* Starts inside a stream root already open (its start tag read by someone
   else), between stanzas; root is its qualified name, which its end tag
   must match.  0, or -1 when memory ran out. */
int scanner_resume_in_root(Scanner *s, const char *root, size_t n);
/* 1 if the scanner stands between two stanzas: at depth 1, in no markup,
   with no event owed, and (strict) after nothing but whitespace. */
int scanner_between_stanzas(const Scanner *s);

/* Right after SCAN_STANZA_NAME (before the next scanner_next()): the
   stanza's qualified name as written, prefix included, *n bytes. */
const char *scanner_stanza_name(const Scanner *s, size_t *n);

/* 1 if the last byte scanned was a '<' at the stream's top level, which
   may open a stanza (the next read's first byte tells), 0 otherwise. */
int scanner_at_stanza_lt(const Scanner *s);

/*
 * Scan buf[*pos:len], stopping after the first event.  *pos is advanced past
 * the bytes consumed.  Call again with the same buffer to continue, until
 * SCAN_MORE (even when *pos == len already: an event may still be owed);
 * SCAN_MORE means the buffer is used up (*pos == len) and the next read
 * continues where this one ended.  SCAN_FAILED leaves *pos at the byte it
 * could not follow and is returned by every later call, so a loop must stop
 * on it as on SCAN_MORE.  Memory only grows with the nesting depth and the
 * names' lengths, never with the buffer size; an allocation failure gives
 * SCAN_FAILED.
 */
ScanEvent scanner_next(Scanner *s, const char *buf, size_t len, size_t *pos);

#endif
