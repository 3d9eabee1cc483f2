/*
 * Joining a stream mid-way, the pure part (no Python): where a tap that
 * joined its stream mid-way stands, and the checks on the stream's bytes
 * (tap.c asks slixmpp the rest).
 *
 * A plugin registered after the stream header (from session_start, say)
 * finds slixmpp's parser fed already: the header's bytes are gone and the
 * tap does not know where in the stream the next read begins.  It hands
 * every read to slixmpp whole until it has proven that its scanner reads
 * the stream as slixmpp's parser does, and only then starts the fast path:
 *
 * SYNC_SEEK: after a read slixmpp is at depth 1.  Its end is a candidate
 *   point C, but depth 1 allows C to lie inside a token at depth 1: a start
 *   tag (<iq to='a>...), the root's end tag, a comment, CDATA section or
 *   processing instruction, a character reference, a multi-byte character,
 *   text.  A fresh scanner takes C to be between stanzas (strict: at depth
 *   1 it accepts only whitespace and elements) and starts there.
 * SYNC_OPEN: the candidate is kept only if the first thing after C is a
 *   start tag, wholly in one read, after which slixmpp is at depth 2: the
 *   read is handed to slixmpp up to that tag's '>' and slixmpp's depth read
 *   there.  Proof that C was between stanzas: the bytes from C to there are
 *   whitespace then one start tag, in which no '<' occurs.  For slixmpp to
 *   open an element in them its parser must take that '<' for markup, so
 *   whatever token held C must end within the whitespace; of the tokens
 *   above only text can (a tag ends at '>', a comment at "-->", CDATA at
 *   "]]>", a PI at "?>", a reference at ';', a character at a
 *   non-whitespace byte).  Text at depth 1 is between stanzas.  From a
 *   point both agree on, the scanner follows the stream as it does from
 *   the header.  A parser that refused the stream opens nothing: no proof.
 *   An empty-element stanza first (<iq/>) proves nothing: next candidate.
 * SYNC_SETTLE: the fast path starts at the first read that ends between
 *   stanzas, slixmpp at depth 1 and its parser settled (tap.c).
 *
 * The stanza parser needs the header's namespace context.  The header is
 * made up: the stream's default namespace, which the first stanza's
 * element proves (slixmpp named it {default_ns}name, and it declares no
 * namespace itself), and no prefixes.  A stanza with a prefix that only
 * the real header declared does not parse: it goes to slixmpp (tap.c's
 * classify() stays active under a made-up header).
 *
 * A scanner that fails, or a candidate that proves nothing, sends the tap
 * back to SYNC_SEEK; a new stream (a restart) starts it as usual.
 *
 * Each depth is read once slixmpp's parser has parsed all it was fed
 * (tap.c's current_depth(): on an expat that defers, after flush()), so
 * the depth at C and at the tag's '>' is what expat 2.5 would show
 * there.  Cutting a read at the '>' then changes nothing slixmpp does but
 * when: the first part opens at most that one element, which no handler
 * sees, and the events flush() releases before the cut come in their
 * order.
 */

#ifndef SLIXMPP_PING_C_SYNC_H
#define SLIXMPP_PING_C_SYNC_H

#include <stddef.h>

#include "buf.h"
#include "framer.h"

typedef enum {
    SYNC_NONE,      /* in step with the stream since its header */
    SYNC_SEEK,      /* waiting for a read after which slixmpp is at depth 1 */
    SYNC_OPEN,      /* from there, waiting for the first stanza's start tag */
    SYNC_SETTLE     /* agreement proven: waiting for a read that ends
                       between stanzas */
} SyncState;

/* The first stanza's start tag after a candidate point, in one read. */
typedef struct {
    size_t lt;          /* its '<' */
    size_t end;         /* just past its '>' */
    size_t name_len;    /* its qualified name's */
} FirstTag;

/* The framer's scanner starts at a candidate point (SYNC_SEEK to
   SYNC_OPEN).  0, or -1 when memory ran out. */
int sync_resume(Framer *f);
/* The framer's scanner follows the stream as from its header (SYNC_SETTLE
   to SYNC_NONE). */
void sync_follow(Framer *f);
/* SYNC_OPEN: the read's events (framer_scan()) up to the first start tag.
   SYNC_OPEN while none came, SYNC_SEEK if what came proves nothing, or
   SYNC_SETTLE with *tag: the tag to check slixmpp opened (then SYNC_SETTLE
   if it did, SYNC_SEEK if not). */
SyncState sync_first_tag(const Framer *f, size_t n_events, FirstTag *tag);
/* 1 if the tag, as written, can be told to be in the stream's default
   namespace: no prefix, no namespace declared on it. */
int sync_tag_is_plain(const char *buf, const FirstTag *tag);
/* *out = "{ns}name": the tag's name as slixmpp's tree builder names an
   element in the default namespace ns.  0, or -1 when memory ran out. */
int sync_expected_name(Buf *out, const Buf *ns, const char *buf,
                       const FirstTag *tag);
/* *out = the made-up header (see above) declaring the default namespace
   ns.  0, or -1 when ns cannot be written in it as it is (or memory ran
   out). */
int sync_header(Buf *out, const Buf *ns);

#endif
