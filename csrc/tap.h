/*
 * The Tap object, shared by its two halves: tap.c (the type and the stream
 * tap in front of slixmpp's data_received) and pings.c (the pings we send:
 * the in-flight table and its timer).
 */
#ifndef SLIXMPP_PING_C_TAP_H
#define SLIXMPP_PING_C_TAP_H

#include "core.h"
#include "inflight.h"
#include "scanner.h"

/* send_ping()'s entries, which slixmpp completes, as opposed to ping()'s. */
enum { ENTRY_TRACKED = 1 };

/* A scanner event of the current read, kept so that the read is looked at
   whole before anything in it is acted upon. */
typedef struct {
    ScanEvent kind;
    size_t pos;
    int flag;           /* STANZA_START: '<' in an earlier read; NAME: iq;
                           STANZA_END: crowded (see scanner.h) */
} TapEvent;

/* Where a tap that joined its stream mid-way stands (tap.c,
   "joining a stream mid-way"). */
typedef enum {
    SYNC_NONE,      /* in step with the stream since its header */
    SYNC_SEEK,      /* waiting for a read after which slixmpp is at depth 1 */
    SYNC_OPEN,      /* from there, waiting for the first stanza's start tag */
    SYNC_SETTLE     /* agreement proven: waiting for a read that ends
                       between stanzas */
} SyncState;

/* Made whole by Tap() (tap_new() in tap.c) or not at all: no __init__, no
   subclass.  The Python objects from xmpp to expire are never NULL (the
   collector's tp_clear makes them None), nor are jids, stanza_parser and
   the in-flight table; timer, parser, parser_flush and write are NULL when
   there is none. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *xmpp;
    PyObject *feed;             /* slixmpp's own data_received */
    PyObject *create_future;
    PyObject *call_later;
    PyObject *log_enabled;      /* slixmpp's stream logger's isEnabledFor */
    PyObject *send_queue;       /* slixmpp's asyncio.Queue of stanzas */
    PyObject *normalize_jid;    /* (str) -> str, or None if invalid */
    PyObject *send_slow;        /* (id, peer, ifrom) */
    PyObject *on_timeout;       /* (id, future, peer, context, tracked) */
    PyObject *sm;               /* None, or incoming() and outgoing(...) */
    PyObject *expire;           /* self._expire, the timer's callback */
    PyObject *timer;            /* the armed TimerHandle, or NULL */
    PyObject *jids;             /* raw JID -> slixmpp's form, or None */
    double timer_deadline;
    /* set by the plugin: what the fast path may do right now */
    char answer_pings;
    char complete_pongs;
    char direct_send;
    /* flush slixmpp's parser after each read that ends a stanza */
    char deliver_without_delay;
    /* the stream */
    PyObject *parser;           /* slixmpp's parser the state below is for */
    PyObject *parser_flush;     /* its flush(), or NULL if it has none */
    char reparse_deferral;      /* expat >= 2.6: parsing may wait for more
                                   input (CVE-2023-52425) */
    PyObject *write;            /* transport.write, or NULL */
    Buf default_ns;
    int component;
    Scanner scanner;
    StanzaParser *stanza_parser;
    Buf header;
    int in_header;
    int passive;                /* hand everything to slixmpp */
    int fed_unchecked;          /* slixmpp got bytes since parser_settled() */
    int holding;                /* an iq's bytes are held back */
    int lone_lt;                /* ...or only the '<' that ended a read */
    int in_call;
    SyncState sync;
    int synthetic_header;       /* the stanza parser's context is made up */
    Buf carry;                  /* the held bytes of earlier reads */
    TapEvent *events;
    size_t events_cap;
    /* the pings */
    InFlight inflight;
    Buf out;
    unsigned long long answered, completed;
    /* core_monotonic() when the last read that ended a stanza came (any
       read, while passive): the keepalive's idle clock.  0: none yet. */
    double received_at;
} TapObject;

static inline CoreState *
tap_state(TapObject *self)
{
    return core_state_of_type(Py_TYPE(self));
}

/* tap.c, for pings.c */
int tap_sync_stream(TapObject *self);
PyObject *tap_join_stream(TapObject *self, PyObject *unused);
int tap_can_write(TapObject *self, int *debug);
int tap_write_out(TapObject *self);
int tap_sm_outgoing(TapObject *self, PyObject *type, Str id, Str to,
                    Str from, Str lang);
int tap_sm_incoming(TapObject *self);

/* pings.c */
extern PyMethodDef tap_ping_methods[];
/* What a stanza from the stream does to our pings: 1 if the result or
   error with this id, from this sender, completes a ping of ours here. */
int pings_is_pong(TapObject *self, Str id, Str from, int error);
int pings_complete(TapObject *self, Str id);
void pings_release(TapObject *self, PingEntry *e);

#endif
