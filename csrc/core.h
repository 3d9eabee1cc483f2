/*
 * What the module's files share: the module state and the types.
 */
#ifndef SLIXMPP_PING_C_CORE_H
#define SLIXMPP_PING_C_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "compat.h"

#include "serialize.h"
#include "stanza.h"
#include "util.h"

typedef struct {
    PyTypeObject *peer_type;
    PyTypeObject *tap_type;
    /* interned names of the attributes and methods the fast path uses */
    PyObject *str_parser;
    PyObject *str_transport;
    PyObject *str_write;
    PyObject *str_set_result;
    PyObject *str_cancel;
    PyObject *str_cancelled;
    PyObject *str_call_later;
    PyObject *str_call_soon;
    PyObject *str_create_future;
    PyObject *str_expire;
    PyObject *str_incoming;
    PyObject *str_outgoing;
    PyObject *str_get;
    PyObject *str_result;
    PyObject *str_is_enabled_for;
    PyObject *str_feed;
    PyObject *str_read_events;
    PyObject *str_flush;
    PyObject *str_append;
    PyObject *empty_bytes;
    PyObject *str_xml_depth;
    PyObject *str_xml_root;
    PyObject *str_tag;
    PyObject *debug_level;
    /* parse_stanza()'s parser and the build functions' buffer */
    StanzaParser *parser;
    Buf scratch;
} CoreState;

int tap_add_type(PyObject *module, CoreState *st);

static inline CoreState *
core_state_of_type(PyTypeObject *type)
{
    return PyType_GetModuleState(type);
}

#endif
