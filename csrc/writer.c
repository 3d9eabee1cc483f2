/*
 * The writer (writer.h): the stanzas we write ourselves, and when we may.
 */
#include "writer.h"

#include "serialize.h"

/* The references that may never be NULL (see writer.h), and those NULL
   when there is none. */
/* The most of a flushed buffer's memory kept for the next turn. */
#define WRITER_KEPT_CAPACITY ((size_t)64 * 1024)

#define WRITER_REQUIRED_FIELDS(X) \
    X(xmpp) X(log_enabled) X(send_queue) X(sm) X(call_soon) X(flush)
#define WRITER_OPTIONAL_FIELDS(X) X(write)

void
writer_init(Writer *w, CoreState *st)
{
    w->st = st;
    buf_init(&w->out);
    buf_init(&w->pending);
}

int
writer_traverse(Writer *w, visitproc visit, void *arg)
{
#define VISIT_FIELD(name) Py_VISIT(w->name);
    WRITER_REQUIRED_FIELDS(VISIT_FIELD)
    WRITER_OPTIONAL_FIELDS(VISIT_FIELD)
#undef VISIT_FIELD
    return 0;
}

void
writer_clear(Writer *w)
{
#define NONE_FIELD(name) Py_XSETREF(w->name, Py_NewRef(Py_None));
    WRITER_REQUIRED_FIELDS(NONE_FIELD)
#undef NONE_FIELD
#define CLEAR_FIELD(name) Py_CLEAR(w->name);
    WRITER_OPTIONAL_FIELDS(CLEAR_FIELD)
#undef CLEAR_FIELD
}

void
writer_free(Writer *w)
{
#define CLEAR_FIELD(name) Py_CLEAR(w->name);
    WRITER_REQUIRED_FIELDS(CLEAR_FIELD)
    WRITER_OPTIONAL_FIELDS(CLEAR_FIELD)
#undef CLEAR_FIELD
    Py_CLEAR(w->session_flags);
    Py_CLEAR(w->queue_unfinished);
    buf_free(&w->out);
    buf_free(&w->pending);
}

static int
truth(PyObject *obj)
{
    if (obj == NULL) {
        return -1;
    }
    int b = PyObject_IsTrue(obj);
    Py_DECREF(obj);
    return b;
}

int
writer_debug_on(Writer *w, int *cache)
{
    if (*cache < 0) {
        *cache = truth(PyObject_CallOneArg(w->log_enabled,
                                           w->st->debug_level));
    }
    return *cache;
}

/* May we write a stanza now?  Only where slixmpp's send() would not hold
   it back (before the session starts), and only when nothing waits in its
   send queue, or we would overtake what was sent before. */
int
writer_can_write(Writer *w, int *debug)
{
    if (!w->direct_send || w->write == NULL) {
        return 0;
    }
    int d = writer_debug_on(w, debug);
    if (d != 0) {
        return d < 0 ? -1 : 0;
    }
    int started = 0;
    Py_ssize_t n = PyTuple_GET_SIZE(w->session_flags);
    for (Py_ssize_t i = 0; i < n && started == 0; i++) {
        started = truth(PyObject_GetAttr(
            w->xmpp, PyTuple_GET_ITEM(w->session_flags, i)));
    }
    if (started <= 0) {
        return started;
    }
    /* Unfinished counts the stanzas in the queue and the one in its
       filters. */
    int busy = truth(PyObject_GetAttr(w->send_queue, w->queue_unfinished));
    return busy < 0 ? -1 : !busy;
}

/* One transport write for a whole turn: each write costs a Python call and
   a system call, as much as the rest of a ping.  The flush comes at the
   end of the turn (call_soon runs after everything ready now), or sooner:
   slixmpp's send_raw() flushes before it writes. */
int
writer_write_out(Writer *w)
{
    int rc = buf_append(&w->pending, w->out.data, w->out.len);
    w->out.len = 0;
    if (rc < 0) {
        PyErr_NoMemory();
        return -1;
    }
    if (w->flush_scheduled) {
        return 0;
    }
    /* Set first: a call_soon that runs the flush at once finds it set. */
    w->flush_scheduled = 1;
    PyObject *r = PyObject_CallOneArg(w->call_soon, w->flush);
    if (r == NULL) {
        /* No loop to run it (closed, or cleared by the collector): the
           bytes go now, as they did before there was a turn to wait for. */
        PyErr_Clear();
        return writer_flush(w);
    }
    Py_DECREF(r);
    return 0;
}

/* Python code run since the bytes were counted (a read that met a new
   stream) may have dropped the transport: they are then lost as on a
   connection that closed. */
int
writer_flush(Writer *w)
{
    w->flush_scheduled = 0;
    if (w->pending.len == 0) {
        return 0;
    }
    PyObject *transport_write = Py_XNewRef(w->write);
    if (transport_write == NULL) {
        w->pending.len = 0;
        return 0;
    }
    PyObject *bytes = PyBytes_FromStringAndSize(w->pending.data,
                                                (Py_ssize_t)w->pending.len);
    w->pending.len = 0;
    if (w->pending.cap > WRITER_KEPT_CAPACITY) {
        /* A flood's worth is not kept for the quiet turns after it. */
        buf_free(&w->pending);
    }
    if (bytes == NULL) {
        Py_DECREF(transport_write);
        return -1;
    }
    PyObject *r = PyObject_CallOneArg(transport_write, bytes);
    Py_DECREF(bytes);
    Py_DECREF(transport_write);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

int
writer_sm_incoming(Writer *w)
{
    if (w->sm == Py_None) {
        return 0;
    }
    /* Held: the call may replace tap.sm. */
    PyObject *sm = Py_NewRef(w->sm);
    PyObject *r = PyObject_CallMethodNoArgs(sm, w->st->str_incoming);
    Py_DECREF(sm);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

int
writer_sm_outgoing(Writer *w, PyObject *type, Str id, Str to, Str from,
                   Str lang)
{
    if (w->sm == Py_None) {
        return 0;
    }
    /* args[0] held: the call may replace tap.sm. */
    PyObject *args[6] = {Py_NewRef(w->sm), type, core_str_or_none(id),
                         core_str_or_none(to), core_str_or_none(from),
                         core_str_or_none(lang)};
    PyObject *r = NULL;
    if (args[2] && args[3] && args[4] && args[5]) {
        r = PyObject_VectorcallMethod(w->st->str_outgoing, args,
                                      6 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                      NULL);
    }
    Py_DECREF(args[0]);
    for (int i = 2; i < 6; i++) {
        Py_XDECREF(args[i]);
    }
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

int
writer_send_ping(Writer *w, Str id, Str to, Str from)
{
    if (serialize_ping(&w->out, id, to, from) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    Str none = {NULL, 0};
    if (writer_sm_outgoing(w, w->st->str_get, id, to, from, none) < 0) {
        w->out.len = 0;
        return -1;
    }
    return writer_write_out(w);
}

int
writer_set_sm(Writer *w, PyObject *value)
{
    if (value != Py_None) {
        int has_in = PyObject_HasAttrWithError(value, w->st->str_incoming);
        int has_out = has_in == 1
                      ? PyObject_HasAttrWithError(value, w->st->str_outgoing)
                      : 0;
        if (has_in < 0 || has_out < 0) {
            return -1;
        }
        if (!has_out) {
            PyErr_Format(PyExc_TypeError, "sm must be None or have "
                         "incoming() and outgoing(), not %.100s",
                         Py_TYPE(value)->tp_name);
            return -1;
        }
    }
    Py_SETREF(w->sm, Py_NewRef(value));
    return 0;
}
