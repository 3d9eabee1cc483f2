/*
 * The fast path's rules as data: which top-level elements the tap holds
 * back until they are complete, and what it may do with a parsed one.
 * Adding a stanza kind is a row in rules.c (name, type, first child's
 * namespace and name: action) and, for a new action, its handler in the
 * tap's table (tap.c).  Pure C: no Python.
 */
#ifndef SLIXMPP_PING_C_RULES_H
#define SLIXMPP_PING_C_RULES_H

#include <stddef.h>

#include "stanza.h"

typedef enum {
    ACT_NONE,
    ACT_ANSWER,     /* a ping request: answer it */
    ACT_PONG        /* a result or error: it may complete a ping of ours */
} Action;

/* 1 if a top-level element whose name (as written, prefix included) is
   name[0:n] may be acted upon: the tap holds its bytes until it ends. */
int rules_hold(const char *name, size_t n);
/* The action for a stanza in the stream's default namespace, as parsed;
   ACT_NONE when no rule matches. */
Action rules_match(const StanzaInfo *info);

#endif
