/*
 * The pings we send: the in-flight table, one event-loop timer for every
 * deadline, and completion.  A Pings knows no Tap: the Tap embeds one,
 * forwards its ping methods here, and hands send_ping a PingSender that
 * puts a ping on the wire.
 */
#ifndef SLIXMPP_PING_C_PINGS_H
#define SLIXMPP_PING_C_PINGS_H

#include "core.h"
#include "inflight.h"

/* send_ping()'s entries, which slixmpp completes, as opposed to ping()'s. */
enum { ENTRY_TRACKED = 1 };

/* Whoever owns the stream: prepare() runs before a ping is made (following
   slixmpp to a new stream), send() puts it on the wire (to and from point
   into str objects alive across the call).  Each -1 with an exception set. */
typedef struct {
    int (*prepare)(void *ctx);
    int (*send)(void *ctx, PyObject *peer, PyObject *ifrom, Str id, Str to,
                Str from);
    void *ctx;
} PingSender;

/* Set by its owner after pings_init(): the Python objects from
   create_future to expire are never NULL once the owner is made (the
   collector's pings_clear() makes them None); timer is NULL when none is
   armed. */
typedef struct {
    InFlight table;
    CoreState *st;              /* the module's, which outlives us */
    PyObject *create_future;    /* the loop's */
    PyObject *call_later;       /* the loop's */
    PyObject *on_timeout;       /* (id, future, peer, context, tracked) */
    PyObject *expire;           /* the timer's callback: pings_expire() */
    PyObject *timer;            /* the armed TimerHandle, or NULL */
    double timer_deadline;
    unsigned long long completed;   /* pongs completed in C */
} Pings;

/* 0, or -1 with an exception set; pings_free() frees either way. */
int pings_init(Pings *self, CoreState *st);
int pings_traverse(Pings *self, visitproc visit, void *arg);
/* The collector's: entries dropped silently, the objects made None. */
void pings_clear(Pings *self);
void pings_free(Pings *self);

/* What a stanza from the stream does to our pings: 1 if the result or
   error with this id, from this sender, completes a ping of ours here. */
int pings_is_pong(Pings *self, Str id, Str from, int error);
/* Completes the ping with this id (0 if there is none); -1 on error. */
int pings_complete(Pings *self, Str id);

/* The Tap's ping methods, their arguments as Python gives them. */
PyObject *pings_send(Pings *self, const PingSender *sender,
                     PyObject *const *args, Py_ssize_t nargs);
PyObject *pings_track(Pings *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *pings_find(Pings *self, PyObject *id);
PyObject *pings_pop(Pings *self, PyObject *id);
PyObject *pings_pending(Pings *self);
PyObject *pings_cancel_all(Pings *self);
PyObject *pings_forget_cancelled(Pings *self);
PyObject *pings_expire(Pings *self);

#endif
