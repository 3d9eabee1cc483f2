/*
 * The writer: what we write to the stream ourselves, the ping answers of
 * the tap and the pings we send.  When we may write (slixmpp's send()
 * would not hold the stanza back, nothing waits in its queue, debug
 * logging is off), Stream Management's accounting, the transport's
 * write().  What one turn of the event loop writes goes out in one
 * transport write, at the end of the turn or before anything slixmpp
 * writes (its send_raw() flushes first): in the order Stream Management
 * counted it.  Knows no Tap.
 */
#ifndef SLIXMPP_PING_C_WRITER_H
#define SLIXMPP_PING_C_WRITER_H

#include "core.h"

/* Set by its owner: the Python objects from xmpp to sm are never NULL once
   the owner is made (the collector's writer_clear() makes them None);
   write is NULL while there is no transport. */
typedef struct {
    CoreState *st;              /* the module's, which outlives us */
    PyObject *xmpp;             /* slixmpp's XMLStream */
    PyObject *log_enabled;      /* slixmpp's stream logger's isEnabledFor */
    PyObject *send_queue;       /* slixmpp's asyncio.Queue of stanzas */
    PyObject *sm;               /* None, or incoming() and outgoing(...) */
    /* Names of slixmpp's private attributes, handed in by the plugin: on
       xmpp, any of which true lets send() send; on send_queue, the
       stanzas not yet written.  A tuple of exact str, an exact str: no
       cycle runs through them, the collector leaves them. */
    PyObject *session_flags;
    PyObject *queue_unfinished;
    PyObject *call_soon;        /* the loop's call_soon */
    PyObject *flush;            /* what call_soon runs: writer_flush() */
    PyObject *write;            /* transport.write, or NULL */
    Buf out;                    /* the stanza being written */
    Buf pending;                /* written this turn, not yet flushed */
    char flush_scheduled;       /* call_soon(flush) is on its way */
    char direct_send;           /* set by the plugin: we may write at all */
} Writer;

void writer_init(Writer *w, CoreState *st);
int writer_traverse(Writer *w, visitproc visit, void *arg);
/* The collector's: the objects made None, write NULL. */
void writer_clear(Writer *w);
void writer_free(Writer *w);

/* Whether debug logging is on (it shows every stanza, so slixmpp handles
   ours too): 1, 0, or -1 on error.  *cache, -1 at first, keeps the answer
   for the rest of a read. */
int writer_debug_on(Writer *w, int *cache);
/* May we write a stanza now?  1, 0, or -1 on error; debug as above. */
int writer_can_write(Writer *w, int *debug);
/* Writes w->out, emptying it: after what this turn wrote already, flushed
   at the end of the turn.  -1 on error. */
int writer_write_out(Writer *w);
/* Writes what this turn wrote to the transport now; with no transport left
   (a read that met a new stream dropped it) the bytes are lost as on a
   closed connection, and Stream Management, which counted them, resends
   them on resume.  -1 on error. */
int writer_flush(Writer *w);
/* A ping request written (serialized, counted, sent).  -1 on error. */
int writer_send_ping(Writer *w, Str id, Str to, Str from);
/* Stream Management counts what we consume and send as slixmpp would. */
int writer_sm_incoming(Writer *w);
int writer_sm_outgoing(Writer *w, PyObject *type, Str id, Str to, Str from,
                       Str lang);
/* tap.sm = value: None, or an object with incoming() and outgoing().  -1
   with TypeError otherwise. */
int writer_set_sm(Writer *w, PyObject *value);

#endif
