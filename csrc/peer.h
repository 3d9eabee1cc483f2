/*
 * The Peer type: one pinged entity, its accepted senders and statistics.
 * Its struct is private to peer.c; other files hold a Peer as a PyObject *
 * (one whose type the caller checked) and use these functions.
 */
#ifndef SLIXMPP_PING_C_PEER_H
#define SLIXMPP_PING_C_PEER_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "buf.h"

/* The Peer type, made for module (a new reference), or NULL. */
PyTypeObject *peer_type_new(PyObject *module);
/* The 'to' of our pings to peer: an exact str, borrowed. */
PyObject *peer_to(PyObject *peer);
/* 1 if an answer (error: an error answer) from `from` (ptr NULL: no from)
   completes our ping to peer; 0 if not, or if only slixmpp's JID rules can
   tell. */
int peer_answer_is_pong(PyObject *peer, Str from, int error);
/* A ping sent to peer, or (delta -1) one taken back before it went out. */
void peer_count_sent(PyObject *peer, int delta);
void peer_record_pong(PyObject *peer, double rtt);
/* A ping that got no pong: timed out, or given up by its caller. */
void peer_record_loss(PyObject *peer);

#endif
