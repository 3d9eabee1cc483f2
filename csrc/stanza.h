/*
 * Stanza parsing with libxml2: one top-level element at a time, in the
 * namespace context of the stream root that carries it.
 *
 * A SAX2 push parser is fed the stream root's start tag once, then each
 * stanza's bytes, so prefixes and the default namespace declared on the
 * stream header apply to the stanzas as they do on the wire.  Network
 * access and entity substitution are off and a DOCTYPE stops the parser.
 */
#ifndef SLIXMPP_PING_C_STANZA_H
#define SLIXMPP_PING_C_STANZA_H

#include <stddef.h>

#include "serialize.h"

/* What the fast path needs to know about a stanza.  The strings are UTF-8,
   entity references decoded; they stay valid until the next stanza_parse()
   or stanza_parser_begin() on the same parser. */
typedef struct {
    Str name;           /* the element's local name */
    Str ns;             /* its namespace URI (ptr NULL: none) */
    Str type, id, from, to, lang;
    Str lead;           /* the text before the first child element (or all
                           of it when there is none): iq.reply() keeps it */
    int other_attrs;    /* attributes besides type, id, from, to, xml:lang */
    int children;       /* child elements */
    int text;           /* non-whitespace text directly in the element,
                           after its first child element */
    Str child_name;     /* the first child element's local name (ptr NULL:
                           no child element) */
    Str child_ns;       /* its namespace URI (ptr NULL: none) */
    int child_children; /* the first child's own child elements */
} StanzaInfo;

typedef struct StanzaParser StanzaParser;

/* NULL when memory ran out. */
StanzaParser *stanza_parser_new(void);
void stanza_parser_free(StanzaParser *p);

/*
 * Sets the context for the stanzas that follow: root is the stream root's
 * start tag as received (for example "<stream:stream xmlns='jabber:client'
 * ...>"), or NULL for a root that declares nothing.  0 on success, -1 if the
 * root does not parse (or memory ran out); stanza_parse() then fails until
 * the next successful call.
 */
int stanza_parser_begin(StanzaParser *p, const char *root, size_t len);

/*
 * Parses span, which must be exactly one well-formed element (whitespace
 * and comments around it allowed).  0 with *info filled in, or -1: not
 * well-formed, more or less than one element, a processing instruction
 * beside it, a DOCTYPE, an undeclared prefix, or out of memory.  A failure
 * does not affect the next call.
 */
int stanza_parse(StanzaParser *p, const char *span, size_t len,
                 StanzaInfo *info);

#endif
