/*
 * The Tap object: the type and the stream tap in front of slixmpp's
 * data_received (tap.c).  It embeds what it is made of: the framer (the
 * stream's bytes), the pings we send, the writer (what we write).
 */
#ifndef SLIXMPP_PING_C_TAP_H
#define SLIXMPP_PING_C_TAP_H

#include "core.h"
#include "pings.h"
#include "writer.h"
#include "framer.h"
#include "sync.h"

/* Made whole by Tap() (tap_new() in tap.c) or not at all: no __init__, no
   subclass.  The Python objects from xmpp to send_slow are never NULL (the
   collector's tp_clear makes them None), nor are jids and stanza_parser;
   parser and parser_flush are NULL when there is none. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *xmpp;
    PyObject *feed;             /* slixmpp's own data_received */
    PyObject *normalize_jid;    /* (str) -> str, or None if invalid */
    PyObject *send_slow;        /* (id, peer, ifrom) */
    PyObject *jids;             /* raw JID -> slixmpp's form, or None */
    /* set by the plugin: what the fast path may do right now */
    char answer_pings;
    char complete_pongs;
    /* flush slixmpp's parser after each read that ends a stanza */
    char deliver_without_delay;
    /* the stream */
    PyObject *parser;           /* slixmpp's parser the state below is for */
    PyObject *parser_events;    /* the name of its events not yet read
                                   (exact str, handed in by the plugin) */
    PyObject *parser_flush;     /* its flush(), or NULL if it has none */
    char reparse_deferral;      /* expat >= 2.6: parsing may wait for more
                                   input (CVE-2023-52425) */
    Buf default_ns;
    int component;
    StanzaParser *stanza_parser;
    /* the bytes: scanner, header, held stanza */
    Framer framer;
    int passive;                /* hand everything to slixmpp */
    int fed_unchecked;          /* slixmpp got bytes since parser_settled() */
    /* slixmpp's parser got its bytes otherwise than from its own plugin's
       stream (a read in pieces, a stanza taken out, a flush): an expat that
       defers may hold back longer from now on (deliver_now()) */
    int fed_otherwise;
    int refused;                /* a flush() found the stream refused */
    int in_call;
    SyncState sync;
    int synthetic_header;       /* the stanza parser's context is made up */
    /* the pings */
    Pings pings;
    /* what we write: answers and pings */
    Writer writer;
    unsigned long long answered;
    /* core_monotonic() when the last read that ended a stanza came (any
       read, while passive): the keepalive's idle clock.  0: none yet. */
    double received_at;
} TapObject;

static inline CoreState *
tap_state(TapObject *self)
{
    return core_state_of_type(Py_TYPE(self));
}

#endif
