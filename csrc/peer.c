/* The Peer type: one pinged entity, its accepted senders and statistics. */
#include "peer.h"

#include <math.h>
#include <string.h>

#include "compat.h"
#include "util.h"

/* A peer we ping: what its answers may look like, and its statistics.
   Made whole by Peer() (jid, to, senders and identity never NULL, to an
   exact str); no __init__, no __dict__, no subclass.  The senders it
   accepts are not kept per peer (a gateway pings thousands): the session's
   own, one tuple shared by every peer, and the full, bare and domain parts
   of `to`, read off it when an answer comes. */
typedef struct PeerObject {
    PyObject_HEAD
    PyObject *jid;          /* what stats() is keyed by */
    PyObject *to;           /* str, the 'to' of our pings */
    PyObject *senders;      /* the session's tuple of str, or None: anyone */
    PyObject *identity;     /* int or None, the plugin's */
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
    self->senders = Py_NewRef(Py_None);
    self->identity = Py_NewRef(Py_None);
    self->min = INFINITY;
    return (PyObject *)self;
}

static int
peer_traverse(PeerObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->jid);
    Py_VISIT(self->to);
    Py_VISIT(self->senders);
    Py_VISIT(self->identity);
    return 0;
}

/* Breaks cycles; what the collector clears becomes None, so a Peer stays
   whole (`to` is an exact str: no cycle runs through it). */
static int
peer_clear(PeerObject *self)
{
    Py_SETREF(self->jid, Py_NewRef(Py_None));
    Py_SETREF(self->senders, Py_NewRef(Py_None));
    Py_SETREF(self->identity, Py_NewRef(Py_None));
    return 0;
}

static void
peer_dealloc(PeerObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->jid);
    Py_CLEAR(self->to);
    Py_CLEAR(self->senders);
    Py_CLEAR(self->identity);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* What of our JID `to` its answers may come from: the whole, the bare JID
   (up to the first '/': neither node nor domain holds one) and the domain
   (after the bare JID's '@', which a node cannot hold), as slixmpp's JID
   gives them for MatchIDSender. */
typedef struct {
    Str full, bare, domain;
} JidParts;

static JidParts
jid_parts(Str full)
{
    JidParts parts = {full, full, full};
    const char *slash = memchr(full.ptr, '/', full.len);
    if (slash != NULL) {
        parts.bare.len = (size_t)(slash - full.ptr);
    }
    parts.domain = parts.bare;
    const char *at = memchr(parts.bare.ptr, '@', parts.bare.len);
    if (at != NULL) {
        parts.domain.ptr = at + 1;
        parts.domain.len = parts.bare.len - (size_t)(at + 1 - full.ptr);
    }
    return parts;
}

static int
str_equals(Str a, Str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* The UTF-8 of a str of ours (checked when it was taken), or an absent Str
   if it cannot have one (a lone surrogate in a sender). */
static Str
utf8_of_str(PyObject *s)
{
    Py_ssize_t len;
    const char *ptr = PyUnicode_AsUTF8AndSize(s, &len);
    if (ptr == NULL) {
        PyErr_Clear();
        return (Str){NULL, 0};
    }
    return (Str){ptr, (size_t)len};
}

/* 1 if a stanza from `from` (ptr NULL: no from) may answer our ping to
   peer, 0 if not, or if only slixmpp's JID rules can tell.  MatchIDSender's
   set: the session's senders, then the parts of `to`. */
static int
peer_allows(const PeerObject *peer, Str from)
{
    if (peer->senders == Py_None) {
        return 1;
    }
    if (from.ptr == NULL) {
        from.ptr = "";
    }
    Py_ssize_t n = PyTuple_GET_SIZE(peer->senders);
    for (Py_ssize_t i = 0; i < n; i++) {
        Str sender = utf8_of_str(PyTuple_GET_ITEM(peer->senders, i));
        if (sender.ptr != NULL && str_equals(sender, from)) {
            return 1;
        }
    }
    Str to = utf8_of_str(peer->to);
    if (to.ptr == NULL) {
        return 0;
    }
    JidParts parts = jid_parts(to);
    return str_equals(parts.full, from) || str_equals(parts.bare, from)
           || str_equals(parts.domain, from);
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

static int
is_tuple_of_str(PyObject *obj)
{
    if (!PyTuple_Check(obj)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(obj); i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(obj, i))) {
            return 0;
        }
    }
    return 1;
}

static PyObject *
peer_configure(PeerObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"senders", "own_host", NULL};
    PyObject *senders;
    int own_host;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Op:configure", kwlist,
                                     &senders, &own_host)) {
        return NULL;
    }
    if (senders != Py_None && !is_tuple_of_str(senders)) {
        PyErr_SetString(PyExc_TypeError,
                        "senders must be a tuple of str or None");
        return NULL;
    }
    /* An exact tuple, the caller's own when it is one (shared by the
       session's peers); a subclass could carry state of its own. */
    PyObject *kept = senders == Py_None
                     ? Py_NewRef(senders)
                     : PyTuple_GetSlice(senders, 0, PyTuple_GET_SIZE(senders));
    if (kept == NULL) {
        return NULL;
    }
    Py_SETREF(self->senders, kept);
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
     "configure(senders, own_host)\n--\n\n"
     "Set the session's senders whose answers complete a ping besides the "
     "peer itself (None: anyone) and whether an error answer counts as a "
     "pong."},
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
    {"senders", Py_T_OBJECT_EX, offsetof(PeerObject, senders), Py_READONLY,
     NULL},
    {"own_host", Py_T_BOOL, offsetof(PeerObject, own_host), Py_READONLY,
     NULL},
    {"sent", Py_T_ULONGLONG, offsetof(PeerObject, sent), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL}
};

/* The senders whose answers complete a ping, None for anyone: the
   session's, then `to`, its bare JID and its domain (made at each call:
   nothing keeps them). */
static PyObject *
peer_allowed_get(PeerObject *self, void *Py_UNUSED(closure))
{
    if (self->senders == Py_None) {
        Py_RETURN_NONE;
    }
    Str to = utf8_of_str(self->to);
    if (to.ptr == NULL) {
        return NULL;
    }
    JidParts parts = jid_parts(to);
    PyObject *bare = PyUnicode_DecodeUTF8(parts.bare.ptr,
                                          (Py_ssize_t)parts.bare.len, NULL);
    PyObject *domain = PyUnicode_DecodeUTF8(parts.domain.ptr,
                                            (Py_ssize_t)parts.domain.len,
                                            NULL);
    PyObject *own = bare == NULL || domain == NULL
                    ? NULL : PyTuple_Pack(3, self->to, bare, domain);
    Py_XDECREF(bare);
    Py_XDECREF(domain);
    if (own == NULL) {
        return NULL;
    }
    PyObject *allowed = PySequence_Concat(self->senders, own);
    Py_DECREF(own);
    return allowed;
}

static PyObject *
peer_identity_get(PeerObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->identity);
}

static int
peer_identity_set(PeerObject *self, PyObject *value,
                  void *Py_UNUSED(closure))
{
    if (value == NULL) {
        PyErr_SetString(PyExc_TypeError, "cannot delete identity");
        return -1;
    }
    if (value != Py_None && !PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "identity must be int or None, not %s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    Py_SETREF(self->identity, Py_NewRef(value));
    return 0;
}

static PyGetSetDef peer_getsets[] = {
    {"allowed", (getter)peer_allowed_get, NULL,
     "The senders whose answers complete a ping, or None: anyone.", NULL},
    {"identity", (getter)peer_identity_get, (setter)peer_identity_set,
     "The plugin's: the session the peer was set up for (int), or None.",
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
