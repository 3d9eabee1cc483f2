/*
 * The pings we send: the in-flight table, one event-loop timer for every
 * deadline, and completion, in C for pongs the stream tap consumes and from
 * Python (pop) for the answers slixmpp parsed.
 */
#include "pings.h"

#include "peer.h"

/* asyncio may run a timer a little early; deadlines this close count. */
#define DEADLINE_SLACK 1e-3

/* The references that may never be NULL (see pings.h), and those NULL
   when there is none. */
#define PINGS_REQUIRED_FIELDS(X) \
    X(create_future) X(call_later) X(on_timeout) X(expire)
#define PINGS_OPTIONAL_FIELDS(X) X(timer)

static void
pings_release(Pings *self, PingEntry *e)
{
    Py_CLEAR(e->future);
    Py_CLEAR(e->peer);
    Py_CLEAR(e->context);
    inflight_release(&self->table, e);
}

/* Cancels the armed timer, if any.  The timer is taken out first: its
   cancel() may run Python code that arms a new one. */
static int
cancel_timer(Pings *self)
{
    PyObject *timer = self->timer;
    if (timer == NULL) {
        return 0;
    }
    self->timer = NULL;
    PyObject *r = PyObject_CallMethodNoArgs(timer, self->st->str_cancel);
    Py_DECREF(timer);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* Keeps one timer armed for the earliest deadline.  Pings mostly share a
   timeout, so a new one rarely comes first and the timer rarely moves. */
static int
arm_timer(Pings *self)
{
    PingEntry *first = inflight_earliest(&self->table);
    if (first == NULL || (self->timer != NULL
                          && self->timer_deadline <= first->deadline)) {
        return 0;
    }
    double deadline = first->deadline;
    if (cancel_timer(self) < 0) {
        return -1;
    }
    double delay = deadline - core_monotonic();
    PyObject *py_delay = PyFloat_FromDouble(delay > 0.0 ? delay : 0.0);
    if (py_delay == NULL) {
        return -1;
    }
    PyObject *args[2] = {py_delay, self->expire};
    PyObject *timer = PyObject_Vectorcall(self->call_later, args, 2, NULL);
    Py_DECREF(py_delay);
    if (timer == NULL) {
        return -1;
    }
    /* call_later() may have armed one itself (re-entered): ours is kept,
       and an extra one only makes _expire() look once more. */
    Py_XSETREF(self->timer, timer);
    self->timer_deadline = deadline;
    return 0;
}

/* After pings left the table before their deadline: the timer follows the
   earliest one left, or is cancelled when none is. */
static int
retime_timer(Pings *self)
{
    PingEntry *first = inflight_earliest(&self->table);
    if (self->timer != NULL
        && (first == NULL || first->deadline > self->timer_deadline)) {
        if (cancel_timer(self) < 0) {
            return -1;
        }
    }
    return arm_timer(self);
}

/* An entry's id as a Str: the given one, or ours written into buf. */
static Str
entry_id(const PingEntry *e, char buf[INFLIGHT_ID_LEN])
{
    if (e->given_id != NULL) {
        Str given = {e->given_id, e->given_len};
        return given;
    }
    inflight_format_id(e->key, buf);
    Str ours = {buf, INFLIGHT_ID_LEN};
    return ours;
}

static PyObject *
format_id(const PingEntry *e)
{
    char buf[INFLIGHT_ID_LEN];
    Str id = entry_id(e, buf);
    return PyUnicode_FromStringAndSize(id.ptr, (Py_ssize_t)id.len);
}

/* A table entry, under an id of ours or the given one (ptr not NULL). */
static PingEntry *
new_entry(Pings *self, double now, double deadline, Str given)
{
    if (given.ptr != NULL) {
        PingEntry *e = inflight_add_given(&self->table, given.ptr,
                                          given.len, now, deadline);
        if (e == NULL && !PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "a ping with this id is in "
                            "flight already");
        }
        return e;
    }
    uint64_t key;
    if (inflight_new_key(&self->table, &key) < 0) {
        return NULL;
    }
    PingEntry *e = inflight_add(&self->table, key, now, deadline);
    if (e == NULL && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_RuntimeError, "duplicate ping id");
    }
    return e;
}

/* A new entry holding future, peer and context (future and context may be
   NULL), under the given id or (given.ptr NULL) one of ours. */
static PingEntry *
add_entry(Pings *self, PyObject *peer, double timeout, PyObject *future,
          PyObject *context, int flags, Str given)
{
    double now = core_monotonic();
    PingEntry *e = new_entry(self, now, now + timeout, given);
    if (e == NULL) {
        return NULL;
    }
    e->future = Py_XNewRef(future);
    e->peer = Py_NewRef(peer);
    e->context = Py_XNewRef(context);
    e->flags = flags;
    peer_count_sent(peer, 1);
    return e;
}

/* Undoes add_entry() after a failed send. */
static void
drop_entry(Pings *self, PingEntry *e)
{
    peer_count_sent(e->peer, -1);
    inflight_remove(&self->table, e);
    pings_release(self, e);
}

static PingEntry *
entry_by_str(Pings *self, Str id)
{
    if (id.ptr == NULL) {
        return NULL;
    }
    return inflight_find_id(&self->table, id.ptr, id.len);
}

/* drop_entry() once Python code ran (sending, the timer's cancel(), the
   loop's call_later()): the entry may have timed out, or been popped, and
   released already, so it is looked up again by its id. */
static void
drop_entry_by_id(Pings *self, Str id)
{
    PingEntry *e = entry_by_str(self, id);
    if (e != NULL) {
        drop_entry(self, e);
    }
}

int
pings_is_pong(Pings *self, Str id, Str from, int error)
{
    PingEntry *e = entry_by_str(self, id);
    if (e == NULL || (e->flags & ENTRY_TRACKED)) {
        return 0;
    }
    return peer_answer_is_pong(e->peer, from, error);
}

int
pings_complete(Pings *self, Str id)
{
    PingEntry *e = entry_by_str(self, id);
    if (e == NULL) {
        return 0;
    }
    double rtt = core_monotonic() - e->sent_at;
    inflight_remove(&self->table, e);
    peer_record_pong(e->peer, rtt);
    self->completed++;
    int rc = 0;
    PyObject *value = PyFloat_FromDouble(rtt);
    if (value == NULL) {
        rc = -1;
    }
    else {
        PyObject *r = PyObject_CallMethodOneArg(
            e->future, self->st->str_set_result, value);
        Py_DECREF(value);
        if (r != NULL) {
            Py_DECREF(r);
        }
        else if (PyErr_ExceptionMatches(PyExc_Exception)) {
            /* The caller gave up (cancelled the future): nothing to tell. */
            PyErr_Clear();
        }
        else {
            rc = -1;
        }
    }
    pings_release(self, e);
    return rc;
}

static int
timeout_arg(PyObject *obj, double *out)
{
    *out = PyFloat_AsDouble(obj);
    if (*out == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    if (!(*out >= 0.0) || *out > 1e9) {
        PyErr_SetString(PyExc_ValueError, "timeout out of range");
        return -1;
    }
    return 0;
}

static int
check_peer(Pings *self, PyObject *peer)
{
    if (!PyObject_TypeCheck(peer, self->st->peer_type)) {
        PyErr_SetString(PyExc_TypeError, "peer must be a Peer");
        return -1;
    }
    return 0;
}

/* cancel_all() cancels a tracked ping's future: None, or one that can be
   cancelled. */
static int
check_future(Pings *self, PyObject *future)
{
    if (future == Py_None) {
        return 0;
    }
    int can_cancel = PyObject_HasAttrWithError(future,
                                               self->st->str_cancel);
    if (can_cancel == 0) {
        PyErr_Format(PyExc_TypeError, "future must be a Future or None, "
                     "not %.100s", Py_TYPE(future)->tp_name);
    }
    return can_cancel == 1 ? 0 : -1;
}

/* The optional last argument of send_ping() and track(): the id the
   application gave (absent or None: one of ours). */
static int
given_id_arg(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t at,
             Str *given)
{
    if (core_utf8_arg(nargs > at ? args[at] : NULL, "id", given) < 0) {
        return -1;
    }
    if (given->ptr != NULL && given->len == 0) {
        PyErr_SetString(PyExc_ValueError, "id must not be empty");
        return -1;
    }
    return 0;
}

/* send_ping() once its arguments are checked.  to, from and given point
   into str objects that stay alive across the Python calls below: the
   caller holds the peer's to, ifrom and the id are its arguments. */
static PyObject *
send_checked_ping(Pings *self, const PingSender *sender, PyObject *peer,
                  PyObject *ifrom, double timeout, Str to, Str from,
                  Str given)
{
    if (sender->prepare(sender->ctx) < 0) {
        return NULL;
    }
    PyObject *future = PyObject_CallNoArgs(self->create_future);
    if (future == NULL) {
        return NULL;
    }
    PingEntry *e = add_entry(self, peer, timeout, future,
                             ifrom == Py_None ? NULL : ifrom, 0, given);
    if (e == NULL) {
        Py_DECREF(future);
        return NULL;
    }
    /* Not the entry's own copy of a given id: Python code may release the
       entry while the ping is sent. */
    char buf[INFLIGHT_ID_LEN];
    Str id = given.ptr != NULL ? given : entry_id(e, buf);
    if (sender->send(sender->ctx, peer, ifrom, id, to, from) < 0
        || arm_timer(self) < 0) {
        drop_entry_by_id(self, id);
        Py_DECREF(future);
        return NULL;
    }
    return future;
}

PyObject *
pings_send(Pings *self, const PingSender *sender, PyObject *const *args,
           Py_ssize_t nargs)
{
    if (nargs != 3 && nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "send_ping(peer, ifrom, timeout, "
                        "id=None) takes 3 or 4 arguments");
        return NULL;
    }
    PyObject *peer = args[0], *ifrom = args[1];
    double timeout;
    Str to, from, given;
    if (check_peer(self, peer) < 0 || timeout_arg(args[2], &timeout) < 0
        || core_utf8_arg(ifrom, "ifrom", &from) < 0
        || given_id_arg(args, nargs, 3, &given) < 0) {
        return NULL;
    }
    PyObject *to_obj = Py_NewRef(peer_to(peer));
    PyObject *future = NULL;
    if (core_utf8_arg(to_obj, "to", &to) == 0) {
        future = send_checked_ping(self, sender, peer, ifrom, timeout, to,
                                   from, given);
    }
    Py_DECREF(to_obj);
    return future;
}

PyObject *
pings_track(Pings *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 && nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "track(peer, timeout, future, "
                        "context, id=None) takes 4 or 5 arguments");
        return NULL;
    }
    double timeout;
    Str given;
    if (check_peer(self, args[0]) < 0 || timeout_arg(args[1], &timeout) < 0
        || check_future(self, args[2]) < 0
        || given_id_arg(args, nargs, 4, &given) < 0) {
        return NULL;
    }
    PingEntry *e = add_entry(self, args[0], timeout,
                             args[2] == Py_None ? NULL : args[2], args[3],
                             ENTRY_TRACKED, given);
    if (e == NULL) {
        return NULL;
    }
    /* Not the entry's own copy of a given id, as in send_checked_ping(). */
    char buf[INFLIGHT_ID_LEN];
    Str key = given.ptr != NULL ? given : entry_id(e, buf);
    PyObject *id = PyUnicode_FromStringAndSize(key.ptr, (Py_ssize_t)key.len);
    if (id == NULL) {
        drop_entry(self, e);
        return NULL;
    }
    if (arm_timer(self) < 0) {
        drop_entry_by_id(self, key);
        Py_DECREF(id);
        return NULL;
    }
    return id;
}

static PingEntry *
entry_by_id(Pings *self, PyObject *id)
{
    if (!PyUnicode_Check(id)) {
        return NULL;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(id, &n);
    if (s == NULL) {
        PyErr_Clear();
        return NULL;
    }
    Str str = {s, (size_t)n};
    return entry_by_str(self, str);
}

PyObject *
pings_find(Pings *self, PyObject *id)
{
    PingEntry *e = entry_by_id(self, id);
    if (e == NULL) {
        Py_RETURN_NONE;
    }
    return Py_NewRef(e->peer);
}

PyObject *
pings_pop(Pings *self, PyObject *id)
{
    PingEntry *e = entry_by_id(self, id);
    if (e == NULL) {
        Py_RETURN_NONE;
    }
    double rtt = core_monotonic() - e->sent_at;
    inflight_remove(&self->table, e);
    PyObject *r = Py_BuildValue("(OOOdO)", e->future ? e->future : Py_None,
                                e->peer, e->context ? e->context : Py_None,
                                rtt,
                                (e->flags & ENTRY_TRACKED) ? Py_True
                                                           : Py_False);
    pings_release(self, e);
    return r;
}

PyObject *
pings_pending(Pings *self)
{
    return PyLong_FromSize_t(inflight_count(&self->table));
}

static PyObject *
call_on_timeout(Pings *self, PingEntry *e)
{
    PyObject *id = format_id(e);
    if (id == NULL) {
        return NULL;
    }
    PyObject *args[5] = {id, e->future ? e->future : Py_None, e->peer,
                         e->context ? e->context : Py_None,
                         (e->flags & ENTRY_TRACKED) ? Py_True : Py_False};
    PyObject *r = PyObject_Vectorcall(self->on_timeout, args, 5, NULL);
    Py_DECREF(id);
    return r;
}

/* The timer's callback: every ping past its deadline times out. */
PyObject *
pings_expire(Pings *self)
{
    Py_CLEAR(self->timer);
    double limit = core_monotonic() + DEADLINE_SLACK;
    /* Timeout handlers may send new pings: those wait for the next round. */
    size_t budget = inflight_count(&self->table);
    PingEntry *e;
    while (budget-- > 0 && (e = inflight_earliest(&self->table)) != NULL
           && e->deadline <= limit) {
        inflight_remove(&self->table, e);
        peer_record_loss(e->peer);
        PyObject *r = call_on_timeout(self, e);
        pings_release(self, e);
        if (r == NULL) {
            PyErr_WriteUnraisable(self->on_timeout);
        }
        Py_XDECREF(r);
    }
    if (arm_timer(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static void
collect_key(PingEntry *e, void *arg)
{
    PyObject *list = arg;
    if (PyErr_Occurred()) {
        return;
    }
    PyObject *key = PyLong_FromUnsignedLongLong(e->key);
    if (key == NULL || PyList_Append(list, key) < 0) {
        Py_XDECREF(key);
        return;
    }
    Py_DECREF(key);
}

/* Releases a call's result; of failed calls, keeps the first one's
   exception in *first and drops the others'. */
static void
keep_first_error(PyObject *result, int *failed, PyObject **first)
{
    if (result != NULL) {
        Py_DECREF(result);
        return;
    }
    if (*failed) {
        PyErr_Clear();
        return;
    }
    *failed = 1;
    *first = PyErr_GetRaisedException();
}

/* The keys of the entries in flight, as a list: what to go through when
   each step may call Python code, which may change the table. */
static PyObject *
entry_keys(Pings *self)
{
    PyObject *keys = PyList_New(0);
    if (keys == NULL) {
        return NULL;
    }
    inflight_foreach(&self->table, collect_key, keys);
    if (PyErr_Occurred()) {
        Py_CLEAR(keys);
    }
    return keys;
}

/* Ends every ping in flight: their futures are cancelled.  Every ping ends
   even if a future's cancel() raises; the first such error is raised once
   all are gone. */
PyObject *
pings_cancel_all(Pings *self)
{
    PyObject *keys = entry_keys(self);
    if (keys == NULL) {
        return NULL;
    }
    CoreState *st = self->st;
    PyObject *first = NULL;
    int failed = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        uint64_t key = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(keys, i));
        PingEntry *e = inflight_find(&self->table, key);
        if (e == NULL) {
            continue;
        }
        inflight_remove(&self->table, e);
        PyObject *future = e->future;
        e->future = NULL;
        pings_release(self, e);
        if (future != NULL) {
            keep_first_error(PyObject_CallMethodNoArgs(future, st->str_cancel),
                             &failed, &first);
            Py_DECREF(future);
        }
    }
    Py_DECREF(keys);
    /* Cancelled, unless a future's cancel() sent new pings. */
    if (retime_timer(self) < 0) {
        keep_first_error(NULL, &failed, &first);
    }
    if (failed) {
        PyErr_SetRaisedException(first);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Drops the entry under key if its future was cancelled, counting it in
   *dropped.  Asking the future runs Python code, which may end or replace
   the entry: only an entry still holding the future asked is dropped. */
static int
forget_if_cancelled(Pings *self, PyObject *py_key, size_t *dropped)
{
    uint64_t key = PyLong_AsUnsignedLongLong(py_key);
    PingEntry *e = inflight_find(&self->table, key);
    if (e == NULL || e->future == NULL) {
        return 0;
    }
    PyObject *future = Py_NewRef(e->future);
    PyObject *r = PyObject_CallMethodNoArgs(future,
                                            self->st->str_cancelled);
    int cancelled = r == NULL ? -1 : PyObject_IsTrue(r);
    Py_XDECREF(r);
    e = cancelled > 0 ? inflight_find(&self->table, key) : NULL;
    if (e != NULL && e->future == future) {
        /* Lost, as it would have been at its deadline: a Peer's sent stays
           received + lost + in flight. */
        inflight_remove(&self->table, e);
        peer_record_loss(e->peer);
        pings_release(self, e);
        (*dropped)++;
    }
    Py_DECREF(future);
    return cancelled < 0 ? -1 : 0;
}

/* Frees the slots of the pings whose caller gave up (cancelled futures):
   each counts as lost, no timeout handler runs for them.  How many; the
   timer follows what is left.  The first error a future raises stops it, the timer retimed. */
PyObject *
pings_forget_cancelled(Pings *self)
{
    PyObject *keys = entry_keys(self);
    if (keys == NULL) {
        return NULL;
    }
    size_t dropped = 0;
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(keys); i++) {
        rc = forget_if_cancelled(self, PyList_GET_ITEM(keys, i), &dropped);
    }
    Py_DECREF(keys);
    PyObject *first = NULL;
    int failed = 0;
    if (rc < 0) {
        keep_first_error(NULL, &failed, &first);
    }
    if (retime_timer(self) < 0) {
        keep_first_error(NULL, &failed, &first);
    }
    if (failed) {
        PyErr_SetRaisedException(first);
        return NULL;
    }
    return PyLong_FromSize_t(dropped);
}

/* ---- the life of a Pings ------------------------------------------- */

int
pings_init(Pings *self, CoreState *st)
{
    self->st = st;
    return inflight_init(&self->table);
}

typedef struct {
    visitproc visit;
    void *arg;
    int rc;
} VisitEntries;

static void
visit_entry(PingEntry *e, void *arg)
{
    VisitEntries *v = arg;
    if (v->rc == 0 && e->future) {
        v->rc = v->visit(e->future, v->arg);
    }
    if (v->rc == 0 && e->peer) {
        v->rc = v->visit(e->peer, v->arg);
    }
    if (v->rc == 0 && e->context) {
        v->rc = v->visit(e->context, v->arg);
    }
}

int
pings_traverse(Pings *self, visitproc visit, void *arg)
{
#define VISIT_FIELD(name) Py_VISIT(self->name);
    PINGS_REQUIRED_FIELDS(VISIT_FIELD)
    PINGS_OPTIONAL_FIELDS(VISIT_FIELD)
#undef VISIT_FIELD
    VisitEntries v = {visit, arg, 0};
    inflight_foreach(&self->table, visit_entry, &v);
    return v.rc;
}

/* Ends every entry without a word to anyone: the collector's way. */
static void
drop_all_entries(Pings *self)
{
    PingEntry *e;
    while ((e = inflight_earliest(&self->table)) != NULL) {
        inflight_remove(&self->table, e);
        pings_release(self, e);
    }
}

void
pings_clear(Pings *self)
{
    drop_all_entries(self);
#define NONE_FIELD(name) Py_XSETREF(self->name, Py_NewRef(Py_None));
    PINGS_REQUIRED_FIELDS(NONE_FIELD)
#undef NONE_FIELD
#define CLEAR_FIELD(name) Py_CLEAR(self->name);
    PINGS_OPTIONAL_FIELDS(CLEAR_FIELD)
#undef CLEAR_FIELD
}

void
pings_free(Pings *self)
{
    drop_all_entries(self);
#define CLEAR_FIELD(name) Py_CLEAR(self->name);
    PINGS_REQUIRED_FIELDS(CLEAR_FIELD)
    PINGS_OPTIONAL_FIELDS(CLEAR_FIELD)
#undef CLEAR_FIELD
    inflight_free(&self->table);
}
