/* The Peer type: one pinged entity, its accepted senders and statistics. */
#include "peer.h"

#include <math.h>
#include <string.h>

#include "compat.h"
#include "util.h"

/* A peer we ping: what its answers may look like, and its statistics.
   Made whole by Peer() (jid, to and allowed never NULL, to an exact str);
   no __init__, no subclass. */
typedef struct PeerObject {
    PyObject_HEAD
    PyObject *dict;
    PyObject *jid;          /* what stats() is keyed by */
    PyObject *to;           /* str, the 'to' of our pings */
    PyObject *allowed;      /* tuple of str, or None for any sender */
    int own_host;           /* an error answer counts as a pong */
    /* statistics, as ping(8) keeps them; mean and m2 (the sum of squared
       deviations from it) by Welford's method */
    unsigned long long sent, received, lost;
    double last, min, max, mean, m2;
} PeerObject;

/* Every field is set here, once: there is no __init__ to run again or to
   skip, and no subclass.  `to` is kept as an exact str, so that it cannot
   take part in a reference cycle and stays what the pings carry. */
static PyObject *
peer_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"jid", "to", NULL};
    PyObject *jid, *to;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OU:Peer", kwlist,
                                     &jid, &to)) {
        return NULL;
    }
    Str check;
    if (core_utf8_arg(to, "to", &check) < 0) {
        return NULL;
    }
    PyObject *exact_to = PyUnicode_FromObject(to);
    if (exact_to == NULL) {
        return NULL;
    }
    PeerObject *self = (PeerObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(exact_to);
        return NULL;
    }
    self->jid = Py_NewRef(jid);
    self->to = exact_to;
    self->allowed = Py_NewRef(Py_None);
    self->min = INFINITY;
    return (PyObject *)self;
}

static int
peer_traverse(PeerObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->dict);
    Py_VISIT(self->jid);
    Py_VISIT(self->to);
    Py_VISIT(self->allowed);
    return 0;
}

/* Breaks cycles; what the collector clears becomes None, so a Peer stays
   whole (`to` is an exact str: no cycle runs through it). */
static int
peer_clear(PeerObject *self)
{
    Py_CLEAR(self->dict);
    Py_SETREF(self->jid, Py_NewRef(Py_None));
    Py_SETREF(self->allowed, Py_NewRef(Py_None));
    return 0;
}

static void
peer_dealloc(PeerObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->dict);
    Py_CLEAR(self->jid);
    Py_CLEAR(self->to);
    Py_CLEAR(self->allowed);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* 1 if a stanza from `from` (ptr NULL: no from) may answer our ping to
   peer, 0 if not, or if only slixmpp's JID rules can tell. */
static int
peer_allows(const PeerObject *peer, Str from)
{
    if (peer->allowed == Py_None) {
        return 1;
    }
    if (from.ptr == NULL) {
        from.ptr = "";
    }
    Py_ssize_t n = PyTuple_GET_SIZE(peer->allowed);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(
            PyTuple_GET_ITEM(peer->allowed, i), &len);
        if (s == NULL) {
            PyErr_Clear();
            continue;
        }
        if ((size_t)len == from.len && memcmp(s, from.ptr, from.len) == 0) {
            return 1;
        }
    }
    return 0;
}

void
peer_record_pong(PyObject *peer, double rtt)
{
    PeerObject *self = (PeerObject *)peer;
    /* Welford's running mean and sum of squared deviations: no sum of
       squares, whose difference with n * mean^2 loses all precision when
       the round trips are close to each other. */
    self->received++;
    self->last = rtt;
    double delta = rtt - self->mean;
    self->mean += delta / (double)self->received;
    self->m2 += delta * (rtt - self->mean);
    if (rtt < self->min) {
        self->min = rtt;
    }
    if (rtt > self->max) {
        self->max = rtt;
    }
}

static PyObject *
peer_configure(PeerObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"allowed", "own_host", NULL};
    PyObject *allowed;
    int own_host;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Op:configure", kwlist,
                                     &allowed, &own_host)) {
        return NULL;
    }
    if (allowed != Py_None) {
        if (!PyTuple_Check(allowed)) {
            PyErr_SetString(PyExc_TypeError,
                            "allowed must be a tuple of str or None");
            return NULL;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(allowed); i++) {
            if (!PyUnicode_Check(PyTuple_GET_ITEM(allowed, i))) {
                PyErr_SetString(PyExc_TypeError,
                                "allowed must be a tuple of str or None");
                return NULL;
            }
        }
    }
    /* An exact tuple: a subclass could carry state of its own. */
    PyObject *kept = allowed == Py_None
                     ? Py_NewRef(allowed)
                     : PyTuple_GetSlice(allowed, 0, PyTuple_GET_SIZE(allowed));
    if (kept == NULL) {
        return NULL;
    }
    Py_SETREF(self->allowed, kept);
    self->own_host = own_host;
    Py_RETURN_NONE;
}

static PyObject *
peer_record(PeerObject *self, PyObject *arg)
{
    double rtt = PyFloat_AsDouble(arg);
    if (rtt == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (!isfinite(rtt) || rtt < 0.0) {
        PyErr_SetString(PyExc_ValueError, "rtt must be a finite number of "
                        "seconds, 0 or more");
        return NULL;
    }
    peer_record_pong((PyObject *)self, rtt);
    Py_RETURN_NONE;
}

PyObject *
peer_to(PyObject *peer)
{
    return ((PeerObject *)peer)->to;
}

int
peer_answer_is_pong(PyObject *peer, Str from, int error)
{
    const PeerObject *self = (const PeerObject *)peer;
    /* An error is a pong only from one's own server; any other error must
       reach the caller as slixmpp's IqError, built by slixmpp. */
    return (!error || self->own_host) && peer_allows(self, from);
}

void
peer_count_sent(PyObject *peer, int delta)
{
    /* unsigned arithmetic wraps: adding -1 takes one back */
    ((PeerObject *)peer)->sent += (unsigned long long)(long long)delta;
}

void
peer_record_loss(PyObject *peer)
{
    ((PeerObject *)peer)->lost++;
}

static PyObject *
peer_record_lost(PeerObject *self, PyObject *Py_UNUSED(ignored))
{
    self->lost++;
    Py_RETURN_NONE;
}

/* (sent, received, lost, last, min, avg, max, mdev), the times None before
   the first pong; mdev is the population standard deviation, as
   statistics.pstdev() of every round trip gives it. */
static PyObject *
peer_stats(PeerObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->received == 0) {
        return Py_BuildValue("(KKKOOOOO)", self->sent, self->received,
                             self->lost, Py_None, Py_None, Py_None, Py_None,
                             Py_None);
    }
    double var = self->m2 / (double)self->received;
    double mdev = var > 0.0 ? sqrt(var) : 0.0;
    return Py_BuildValue("(KKKddddd)", self->sent, self->received,
                         self->lost, self->last, self->min, self->mean,
                         self->max, mdev);
}

static PyMethodDef peer_methods[] = {
    {"configure", (PyCFunction)(void (*)(void))peer_configure,
     METH_VARARGS | METH_KEYWORDS,
     "configure(allowed, own_host)\n--\n\n"
     "Set the senders whose answers complete a ping (None: anyone) and "
     "whether an error answer counts as a pong."},
    {"record", (PyCFunction)peer_record, METH_O,
     "record(rtt)\n--\n\nCount a pong that took rtt seconds."},
    {"record_lost", (PyCFunction)peer_record_lost, METH_NOARGS,
     "record_lost()\n--\n\nCount a ping that got no pong."},
    {"stats", (PyCFunction)peer_stats, METH_NOARGS,
     "stats()\n--\n\n(sent, received, lost, last, min, avg, max, mdev)."},
    {NULL, NULL, 0, NULL}
};

static PyMemberDef peer_members[] = {
    {"jid", Py_T_OBJECT_EX, offsetof(PeerObject, jid), Py_READONLY, NULL},
    {"to", Py_T_OBJECT_EX, offsetof(PeerObject, to), Py_READONLY, NULL},
    {"allowed", Py_T_OBJECT_EX, offsetof(PeerObject, allowed), Py_READONLY,
     NULL},
    {"own_host", Py_T_BOOL, offsetof(PeerObject, own_host), Py_READONLY,
     NULL},
    {"sent", Py_T_ULONGLONG, offsetof(PeerObject, sent), Py_READONLY, NULL},
    {"__dictoffset__", Py_T_PYSSIZET, offsetof(PeerObject, dict),
     Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL}
};

static PyGetSetDef peer_getsets[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL,
     NULL},
    {NULL, NULL, NULL, NULL, NULL}
};

static PyType_Slot peer_slots[] = {
    {Py_tp_doc, "Peer(jid, to)\n--\n\nAn entity we ping."},
    {Py_tp_new, peer_new},
    {Py_tp_traverse, peer_traverse},
    {Py_tp_clear, peer_clear},
    {Py_tp_dealloc, peer_dealloc},
    {Py_tp_methods, peer_methods},
    {Py_tp_members, peer_members},
    {Py_tp_getset, peer_getsets},
    {0, NULL}
};

static PyType_Spec peer_spec = {
    .name = "slixmpp_ping_c._core.Peer",
    .basicsize = sizeof(PeerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = peer_slots,
};

PyTypeObject *
peer_type_new(PyObject *module)
{
    return (PyTypeObject *)PyType_FromModuleAndSpec(module, &peer_spec,
                                                    NULL);
}
