/*
 * The Tap type: slixmpp's data_received with a fast path in front of it.
 *
 * Every read is scanned whole first; a read the scanner cannot follow goes
 * to slixmpp untouched, so that slixmpp reports it exactly as it always
 * has.  Then a top-level <iq> is held back until it is complete and parsed:
 * a ping request is answered here, a pong to a ping of ours completes it
 * here, and only while nothing else could have seen the stanza (the plugin
 * keeps the flags that say so).  Every other byte goes to slixmpp's own
 * data_received unchanged and in order; the bytes before a stanza we
 * consume reach slixmpp before we act on it.
 */
#include "tap.h"

#include <string.h>

#include "rules.h"

/* How many JIDs' reply forms to remember. */
#define MAX_JIDS 4096

/* ---- the stream ------------------------------------------------------ */

/* *out = obj.name (a new reference), or NULL if obj has no such attribute.
   -1 on any other error. */
static int
optional_attr(PyObject *obj, PyObject *name, PyObject **out)
{
    *out = PyObject_GetAttr(obj, name);
    if (*out == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        return 0;
    }
    return *out == NULL ? -1 : 0;
}

/* Follows slixmpp to a new stream: init_parser() makes a new parser object
   for every connection and every stream restart.  -1 on error. */
static int
tap_sync_stream(TapObject *self)
{
    if (self->in_call) {
        /* Mid-read (a handler sending a ping): the read notices a new
           stream itself, and the next one starts it. */
        return 0;
    }
    CoreState *st = tap_state(self);
    PyObject *parser = PyObject_GetAttr(self->xmpp, st->str_parser);
    if (parser == NULL) {
        return -1;
    }
    if (parser == self->parser) {
        Py_DECREF(parser);
        return 0;
    }
    /* What this turn wrote belongs to the stream it was written on. */
    if (writer_flush(&self->writer) < 0) {
        Py_DECREF(parser);
        return -1;
    }
    Py_XSETREF(self->parser, parser);
    Py_CLEAR(self->parser_flush);
    Py_CLEAR(self->writer.write);
    framer_restart(&self->framer);
    self->fed_unchecked = 0;
    self->fed_otherwise = 0;
    self->refused = 0;
    self->sync = SYNC_NONE;
    self->synthetic_header = 0;
    self->passive = parser == Py_None;
    if (!self->passive && self->reparse_deferral) {
        /* Without flush() nothing tells what expat holds back. */
        if (optional_attr(parser, tap_state(self)->str_flush,
                          &self->parser_flush) < 0) {
            return -1;
        }
        self->passive = self->parser_flush == NULL;
    }
    PyObject *transport = PyObject_GetAttr(self->xmpp, st->str_transport);
    if (transport == NULL) {
        return -1;
    }
    if (transport != Py_None) {
        self->writer.write = PyObject_GetAttr(transport, st->str_write);
    }
    int failed = transport != Py_None && self->writer.write == NULL;
    Py_DECREF(transport);
    return failed ? -1 : 0;
}

/* 1 if slixmpp's parser is still the one the tap follows, 0 if a new
   stream replaced it, -1 on error. */
static int
same_parser(TapObject *self)
{
    PyObject *parser = PyObject_GetAttr(self->xmpp,
                                        tap_state(self)->str_parser);
    if (parser == NULL) {
        return -1;
    }
    Py_DECREF(parser);      /* only its identity is compared */
    return parser == self->parser;
}

/* Hands data to slixmpp.  If its handlers restarted the stream (a new
   parser) or raised, the rest of this read is slixmpp's alone. */
static int
feed_object(TapObject *self, PyObject *data)
{
    PyObject *r = PyObject_CallOneArg(self->feed, data);
    if (r == NULL) {
        self->passive = 1;
        return -1;
    }
    Py_DECREF(r);
    self->fed_unchecked = 1;
    int same = same_parser(self);
    if (same == 0) {
        self->passive = 1;
    }
    return same < 0 ? -1 : 0;
}

static int
feed_bytes(TapObject *self, const char *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    PyObject *chunk = PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
    if (chunk == NULL) {
        return -1;
    }
    int rc = feed_object(self, chunk);
    Py_DECREF(chunk);
    return rc;
}

/* ---- incoming iq ----------------------------------------------------- */

static int
str_equals(Str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.ptr != NULL && s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static int
plain(Str s)
{
    return s.ptr == NULL || (s.len > 0 && xml_attr_value_is_plain(s));
}

/* Exactly what slixmpp's reply would copy, and nothing a parser would
   normalize differently once slixmpp serialized it. */
static int
reply_is_exact(const StanzaInfo *info)
{
    return !info->text && !info->other_attrs && plain(info->id)
           && plain(info->from) && plain(info->to) && plain(info->lang)
           && xml_text_is_plain(info->lead);
}

/* The JID as slixmpp's iq.reply() writes it (a new reference), None when
   slixmpp would refuse it, or NULL on error.  Asked of the plugin once per
   JID: most pings come from a few. */
static PyObject *
reply_jid(TapObject *self, Str raw)
{
    PyObject *key = core_str_or_none(raw);
    if (key == NULL || key == Py_None) {
        return key;
    }
    PyObject *form;
    if (PyDict_GetItemRef(self->jids, key, &form) != 0) {
        /* Found (form is ours), or an error (form is NULL). */
        Py_DECREF(key);
        return form;
    }
    form = PyObject_CallOneArg(self->normalize_jid, key);
    if (form != NULL && (form == Py_None || PyUnicode_Check(form))) {
        if (PyDict_GET_SIZE(self->jids) >= MAX_JIDS) {
            PyDict_Clear(self->jids);
        }
        if (PyDict_SetItem(self->jids, key, form) < 0) {
            Py_CLEAR(form);
        }
    }
    else if (form != NULL) {
        PyErr_SetString(PyExc_TypeError, "normalize_jid must return str or "
                                         "None");
        Py_CLEAR(form);
    }
    Py_DECREF(key);
    return form;
}

static int
utf8_of(PyObject *s, Str *out)
{
    out->ptr = NULL;
    out->len = 0;
    if (s == Py_None) {
        return 0;
    }
    Py_ssize_t n;
    out->ptr = PyUnicode_AsUTF8AndSize(s, &n);
    out->len = (size_t)n;
    return out->ptr == NULL ? -1 : 0;
}

/* Answers a ping as iq.reply().send() would: 1 if answered, 0 if slixmpp
   must (a JID it would refuse), -1 on error. */
static int
answer_ping(TapObject *self, const StanzaInfo *info)
{
    /* A component answers from the address pinged. */
    PyObject *to = info->from.ptr ? reply_jid(self, info->from)
                                  : Py_NewRef(Py_None);
    PyObject *from = (self->component && info->to.ptr)
                     ? reply_jid(self, info->to) : Py_NewRef(Py_None);
    int rc = to == NULL || from == NULL ? -1 : 1;
    Str to_str, from_str;
    if (rc > 0 && ((info->from.ptr && to == Py_None)
                   || (self->component && info->to.ptr && from == Py_None))) {
        rc = 0;
    }
    if (rc > 0 && (utf8_of(to, &to_str) < 0 || utf8_of(from, &from_str) < 0)) {
        rc = -1;
    }
    Writer *w = &self->writer;
    if (rc > 0 && serialize_result(&w->out, info->id, to_str, from_str,
                                   info->lang, info->lead) < 0) {
        PyErr_NoMemory();
        rc = -1;
    }
    if (rc > 0 && (writer_sm_incoming(w) < 0
                   || writer_sm_outgoing(w, w->st->str_result, info->id,
                                         to_str, from_str, info->lang) < 0)) {
        rc = -1;
    }
    if (rc > 0) {
        self->answered++;
        rc = writer_write_out(w) < 0 ? -1 : 1;
    }
    w->out.len = 0;
    Py_XDECREF(to);
    Py_XDECREF(from);
    return rc;
}

static int
ping_allowed(TapObject *self, const StanzaInfo *info)
{
    return self->answer_pings && self->writer.direct_send
           && reply_is_exact(info);
}

static int
take_ping(TapObject *self, const StanzaInfo *info, int *debug)
{
    int ok = self->answer_pings ? writer_can_write(&self->writer, debug) : 0;
    return ok <= 0 ? ok : answer_ping(self, info);
}

static int
pong_allowed(TapObject *self, const StanzaInfo *info)
{
    return self->complete_pongs
           && pings_is_pong(&self->pings, info->id, info->from,
                            str_equals(info->type, "error"));
}

/* debug: unused, but ActionHandler's signature. */
static int
take_pong(TapObject *self, const StanzaInfo *info,
          int *debug) /* NOLINT(readability-non-const-parameter) */
{
    (void)debug;
    if (!pong_allowed(self, info)) {
        return 0;
    }
    if (pings_complete(&self->pings, info->id) < 0
        || writer_sm_incoming(&self->writer) < 0) {
        return -1;
    }
    return 1;
}

/* What each rule's action does (rules.h): whether the plugin lets the tap
   take the stanza now, judging by the stanza alone, and taking it once the
   bytes before it reached slixmpp (which may have changed that): 1 taken,
   0 slixmpp's, -1 error. */
typedef struct {
    int (*allowed)(TapObject *self, const StanzaInfo *info);
    int (*take)(TapObject *self, const StanzaInfo *info, int *debug);
} ActionHandler;

static const ActionHandler handlers[] = {
    [ACT_ANSWER] = {ping_allowed, take_ping},
    [ACT_PONG] = {pong_allowed, take_pong},
};

/* What we may do with a complete top-level stanza, judging by its bytes:
   the rule it matches, if its handler may take it now. */
static Action
classify(TapObject *self, const char *span, size_t len, StanzaInfo *info)
{
    if (stanza_parse(self->stanza_parser, span, len, info) < 0) {
        /* Not well-formed: slixmpp's parser stops at it, and makes nothing
           of the rest of the stream (it says so and disconnects); neither
           may we.  Under a made-up header it may only use a prefix the
           real one declared: slixmpp gets it, and act() asks whether
           slixmpp refused the stream before anything else is taken. */
        self->passive = !self->synthetic_header;
        return ACT_NONE;
    }
    if (info->ns.ptr == NULL || info->ns.len != self->default_ns.len
        || memcmp(info->ns.ptr, self->default_ns.data, info->ns.len) != 0
        || info->id.ptr == NULL) {
        return ACT_NONE;
    }
    Action action = rules_match(info);
    return action != ACT_NONE && handlers[action].allowed(self, info)
           ? action : ACT_NONE;
}

/* After a call that failed or gave nothing: 1 if it raised xml.etree's
   ParseError (a SyntaxError: slixmpp's parser refuses the stream), now
   cleared; -1 if another error; 0 if none. */
static int
raised_parse_error(void)
{
    if (!PyErr_Occurred()) {
        return 0;
    }
    if (PyErr_ExceptionMatches(PyExc_SyntaxError)) {
        PyErr_Clear();
        return 1;
    }
    return -1;
}

/* 1 if slixmpp's parser has refused the stream, 0 if not, -1 on error.
   slixmpp says so only by the ParseError it catches in data_received, and
   from then on drops every read: no stanza may be taken after that.  Fed
   whitespace, which the stream allows where a stanza is about to start,
   the parser raises again if it refused, and gives no event otherwise.
   Exact only where expat holds nothing back (before 2.6): the space could
   release a held event, or be held back itself. */
static int
space_probe_refused(TapObject *self)
{
    CoreState *st = tap_state(self);
    PyObject *space = PyBytes_FromStringAndSize(" ", 1);
    if (space == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethodOneArg(self->parser, st->str_feed, space);
    Py_DECREF(space);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    PyObject *events = PyObject_CallMethodNoArgs(self->parser,
                                                 st->str_read_events);
    PyObject *it = events ? PyObject_GetIter(events) : NULL;
    Py_XDECREF(events);
    if (it == NULL) {
        return -1;
    }
    PyObject *event = PyIter_Next(it);
    Py_DECREF(it);
    if (event != NULL) {
        /* Cannot happen (see above); slixmpp is left to decide. */
        Py_DECREF(event);
        return 1;
    }
    return raised_parse_error();
}

/* 1 if slixmpp's parser may hold events it has not handed out yet: its
   queue (XMLPullParser's private one, named by the plugin) is not empty,
   or is not there to tell.  -1 on error. */
static int
parser_events_waiting(TapObject *self)
{
    PyObject *queue;
    if (optional_attr(self->parser, self->parser_events, &queue) < 0) {
        return -1;
    }
    if (queue == NULL) {
        return 1;
    }
    Py_ssize_t n = PyObject_Length(queue);
    Py_DECREF(queue);
    return n < 0 ? -1 : n > 0;
}

/* flush() raised ParseError: expat refused the stream.  expat forgets an
   error at its next parse attempt that it defers (that attempt's "no
   error" is stored over it), after which slixmpp would never hear of it.
   The error goes where XMLPullParser.feed() puts those it catches, the
   event queue, for slixmpp's next data_received to raise and report as it
   always does.  1 queued, 0 no queue to put it in, -1 error. */
static int
queue_refusal(TapObject *self)
{
    CoreState *st = tap_state(self);
    PyObject *error = PyErr_GetRaisedException();
    PyObject *queue;
    int rc = optional_attr(self->parser, self->parser_events, &queue);
    if (rc == 0 && queue != NULL) {
        PyObject *r = PyObject_CallMethodOneArg(queue, st->str_append, error);
        rc = r == NULL ? -1 : 1;
        Py_XDECREF(r);
        Py_DECREF(queue);
    }
    Py_DECREF(error);
    return rc;
}

/* Whether slixmpp's parser is settled: every byte slixmpp was fed parsed,
   every event of it handled by slixmpp, and the stream not refused.
   1 settled; 0 refused, or no way to tell (the caller goes passive); -1
   error.  With expat >= 2.6 ("reparse deferral") flush() makes expat parse
   what it held back, raising ParseError if it refuses the stream (queued
   for slixmpp to report: queue_refusal()); the events it released reach
   slixmpp through its own data_received(b""), so its handlers run here
   and may do anything (restart the stream: then passive is set; send
   stanzas; complete a ping): the caller checks again what it relies on.
   Asks the parser only when slixmpp got bytes since the last call
   (fed_unchecked); a caller that cannot know what slixmpp was fed before
   (a tap put in mid-stream) sets fed_unchecked first. */
static int
parser_settled(TapObject *self)
{
    if (!self->fed_unchecked) {
        return 1;
    }
    self->fed_unchecked = 0;
    if (!self->reparse_deferral) {
        int refused = space_probe_refused(self);
        return refused < 0 ? -1 : !refused;
    }
    if (self->parser_flush == NULL) {
        return 0;
    }
    self->fed_otherwise = 1;
    PyObject *r = PyObject_CallNoArgs(self->parser_flush);
    if (r == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_SyntaxError)) {
            return -1;
        }
        self->refused = 1;
        return queue_refusal(self) < 0 ? -1 : 0;
    }
    Py_DECREF(r);
    int waiting = parser_events_waiting(self);
    if (waiting <= 0) {
        return waiting < 0 ? -1 : 1;
    }
    if (feed_object(self, tap_state(self)->empty_bytes) < 0) {
        return -1;
    }
    self->fed_unchecked = 0;
    return !self->passive;
}

/* Takes the action if it is still ours once the bytes before the stanza
   reached slixmpp (whose handlers may have sent something, or completed
   the ping).  1 if taken, 0 if the stanza is slixmpp's, -1 on error. */
static int
act(TapObject *self, Action act, const StanzaInfo *info, int *debug)
{
    int d = writer_debug_on(&self->writer, debug);
    if (d != 0) {
        return d < 0 ? -1 : 0;
    }
    int settled = parser_settled(self);
    if (settled <= 0) {
        self->passive = 1;
        return settled;
    }
    return handlers[act].take(self, info, debug);
}

/* ---- data_received --------------------------------------------------- */

/* The bytes of data: bytes as they are, str and buffers as bytes. */
static PyObject *
as_bytes(PyObject *data)
{
    if (PyBytes_CheckExact(data)) {
        return Py_NewRef(data);
    }
    if (PyUnicode_Check(data)) {
        return PyUnicode_AsUTF8String(data);
    }
    return PyBytes_FromObject(data);
}

/* Scans the whole read into the framer's events.  The number of events,
   or -1 when the scanner gave up (or memory ran out).  A read that ends a
   stanza (*stanza_ended) sets the idle clock, once however many it ends. */
static Py_ssize_t
scan_read(TapObject *self, const char *buf, size_t len, int *stanza_ended)
{
    long n = framer_scan(&self->framer, buf, len, stanza_ended);
    *stanza_ended &= n >= 0;
    if (*stanza_ended) {
        self->received_at = core_monotonic();
    }
    return n;
}

/* A candidate the framer found: taken if a rule acts on it (the bytes
   before it reach slixmpp first), else left to slixmpp.  0, or -1 on
   error. */
static int
on_candidate(TapObject *self, const Frame *candidate, int *debug)
{
    StanzaInfo info;
    Action action = classify(self, candidate->p, candidate->n, &info);
    int taken = 0;
    if (action != ACT_NONE) {
        Frame before;
        framer_pass_before(&self->framer, &before);
        if (feed_bytes(self, before.p, before.n) < 0) {
            return -1;
        }
        taken = self->passive ? 0 : act(self, action, &info, debug);
        if (taken < 0) {
            return -1;
        }
    }
    framer_taken(&self->framer, taken);
    return 0;
}

/* Does what the framer asks of the read begun with framer_begin_read(),
   up to the rest (framer_rest()).  0, or -1 on error. */
static int
act_on_read(TapObject *self)
{
    int debug = -1;
    Frame frame;
    for (;;) {
        FramerMode mode = self->passive ? FRAMER_PASSIVE
                          : self->answer_pings || self->complete_pongs
                          ? FRAMER_HOLD : FRAMER_FOLLOW;
        switch (framer_next(&self->framer, mode, &frame)) {
        case FRAME_DONE:
            return 0;
        case FRAME_PASS:
            if (feed_bytes(self, frame.p, frame.n) < 0) {
                return -1;
            }
            break;
        case FRAME_HEADER:
            /* Its namespace declarations are the stanzas' context. */
            if (stanza_parser_begin(self->stanza_parser, frame.p,
                                    frame.n) < 0) {
                self->passive = 1;
            }
            break;
        case FRAME_CANDIDATE:
            if (on_candidate(self, &frame, &debug) < 0) {
                return -1;
            }
            break;
        case FRAME_PASSIVE:
            self->passive = 1;
            break;
        case FRAME_NO_MEMORY:
            PyErr_NoMemory();
            return -1;
        }
    }
}

/* 0 if data, a read the tap does not follow, cannot end a stanza (bytes
   without a '>'), 1 if it may. */
static int
may_end_stanza(PyObject *data)
{
    return !PyBytes_Check(data)
           || memchr(PyBytes_AS_STRING(data), '>',
                     (size_t)PyBytes_GET_SIZE(data)) != NULL;
}

/* What expat holds back of a read that ended a stanza (ended) reaches
   slixmpp's handlers now, not with a later read: with deliver_without_delay,
   and, in the default mode, once slixmpp's parser was fed otherwise than
   its own plugin would have fed it (fed_otherwise).  From then on expat's
   "try again once what it holds has doubled" counts from other attempts
   than with slixmpp's plugin and could hold a stanza longer; a flush at
   every read that ends one (and at the read that first fed it otherwise,
   was_otherwise 0) delivers each no later, until expat refuses the stream
   (then it delivers nothing more).  A read that ends no stanza
   completes none, and is left alone: flushing it would parse a huge
   unfinished tag again at each read (what deferral is there to stop).  A
   refusal flush() finds slixmpp reports at its next read (queue_refusal()),
   no later than without the flush.  -1 on error. */
static int
deliver_now(TapObject *self, int ended, int was_otherwise)
{
    int wanted = self->deliver_without_delay ? ended
                 : self->fed_otherwise && !self->refused
                   && (ended || !was_otherwise);
    if (!wanted || !self->reparse_deferral || !self->fed_unchecked) {
        return 0;
    }
    int same = same_parser(self);
    if (same <= 0) {
        /* A new stream: what the old parser holds is of no stream now. */
        return same;
    }
    int settled = parser_settled(self);
    if (settled == 0) {
        self->passive = 1;
    }
    return settled < 0 ? -1 : 0;
}

/* ---- joining a stream mid-way ---------------------------------------- */

/* What the tap asks slixmpp while it proves that it reads the stream as
   slixmpp does (sync.h). */

/* slixmpp's xml_depth into *depth.  -1 on error. */
static int
slixmpp_depth(TapObject *self, long *depth)
{
    PyObject *d = PyObject_GetAttr(self->xmpp, tap_state(self)->str_xml_depth);
    if (d == NULL) {
        return -1;
    }
    *depth = PyLong_AsLong(d);
    Py_DECREF(d);
    return *depth == -1 && PyErr_Occurred() ? -1 : 0;
}

/* slixmpp's xml_depth into *depth once it is current: 1, or 0 if the
   tap went passive (a refused stream, a restart, no flush()), -1 on error.
   An expat that defers may not have parsed every byte slixmpp was fed:
   parser_settled() flushes it, and slixmpp handles the events that
   releases, before the depth is read.  That changes when slixmpp gets its
   events, never their order, wherever the read was cut: flush() parses
   what expat already holds, as a later read would.  Before 2.6 the depth is
   current already; parser_settled()'s space probe is exact only between
   stanzas, which a candidate is not yet known to be. */
static int
current_depth(TapObject *self, long *depth)
{
    if (self->passive) {
        return 0;
    }
    if (self->reparse_deferral) {
        int settled = parser_settled(self);
        if (settled <= 0) {
            self->passive = 1;
            return settled < 0 ? -1 : 0;
        }
    }
    return slixmpp_depth(self, depth) < 0 ? -1 : 1;
}

/* At the end of a read slixmpp had whole: a candidate if it is at depth 1. */
static int
take_candidate(TapObject *self)
{
    long depth;
    int current = current_depth(self, &depth);
    if (current <= 0) {
        return current;
    }
    self->sync = SYNC_SEEK;
    if (depth != 1) {
        return 0;
    }
    if (sync_resume(&self->framer) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    self->sync = SYNC_OPEN;
    return 0;
}

/* The element slixmpp's tree builder has open at depth 2: the last child
   of its root.  A new reference, None if there is none, NULL on error. */
static PyObject *
open_stanza(TapObject *self)
{
    PyObject *root = PyObject_GetAttr(self->xmpp,
                                      tap_state(self)->str_xml_root);
    if (root == NULL || root == Py_None) {
        return root;
    }
    Py_ssize_t n = PyObject_Length(root);
    PyObject *child = n > 0 ? PySequence_GetItem(root, n - 1)
                            : n == 0 ? Py_NewRef(Py_None) : NULL;
    Py_DECREF(root);
    return child;
}

/* 1 if slixmpp opened the element of the tag the scanner just read (buf:
   the read), and that element is in the default namespace slixmpp
   expects; 0 if not, or if it cannot tell (sync_tag_is_plain()); -1 on
   error. */
static int
first_stanza_agrees(TapObject *self, const char *buf, const FirstTag *tag)
{
    long depth;
    int current = current_depth(self, &depth);
    if (current <= 0) {
        return current;
    }
    if (depth != 2 || !sync_tag_is_plain(buf, tag)) {
        return 0;
    }
    PyObject *child = open_stanza(self);
    PyObject *name = child && child != Py_None
                     ? PyObject_GetAttr(child, tap_state(self)->str_tag)
                     : Py_XNewRef(child);
    Py_XDECREF(child);
    if (name == NULL || name == Py_None) {
        Py_XDECREF(name);
        return name == NULL ? -1 : 0;
    }
    Buf want;
    buf_init(&want);
    int rc = -1;
    if (sync_expected_name(&want, &self->default_ns, buf, tag) < 0) {
        PyErr_NoMemory();
    }
    else {
        PyObject *expected = PyUnicode_DecodeUTF8(want.data,
                                                  (Py_ssize_t)want.len,
                                                  "strict");
        if (expected == NULL && PyErr_ExceptionMatches(PyExc_ValueError)) {
            /* Not UTF-8: slixmpp's parser refused it anyway. */
            PyErr_Clear();
            rc = 0;
        }
        else if (expected != NULL) {
            rc = PyObject_RichCompareBool(name, expected, Py_EQ);
            Py_DECREF(expected);
        }
    }
    buf_free(&want);
    Py_DECREF(name);
    return rc;
}

/* The made-up header (sync.h) for the stanza parser.  0, or -1 when the
   namespace cannot be written in it as it is. */
static int
begin_synthetic_header(TapObject *self)
{
    Buf header;
    buf_init(&header);
    int rc = sync_header(&header, &self->default_ns) < 0 ? -1
             : stanza_parser_begin(self->stanza_parser, header.data,
                                   header.len);
    buf_free(&header);
    return rc;
}

/* SYNC_SETTLE at the end of a read: the fast path starts here if it can. */
static int
try_settle(TapObject *self)
{
    if (self->passive || !scanner_between_stanzas(&self->framer.scanner)) {
        return 0;
    }
    int settled = parser_settled(self);
    long depth;
    if (settled <= 0 || slixmpp_depth(self, &depth) < 0) {
        return settled < 0 || PyErr_Occurred() ? -1 : 0;
    }
    if (depth != 1) {
        /* Not what the scanner says: prove it again. */
        return take_candidate(self);
    }
    sync_follow(&self->framer);
    self->sync = SYNC_NONE;
    self->synthetic_header = 1;
    if (begin_synthetic_header(self) < 0) {
        self->passive = 1;
    }
    return 0;
}

/* SYNC_OPEN: looks for the first stanza's start tag in this read's events;
   hands slixmpp the read up to its end (*fed bytes) to see whether it
   opened the same element there.  0, or -1 on error. */
static int
check_first_stanza(TapObject *self, const char *buf, size_t n_events,
                   size_t *fed)
{
    FirstTag tag;
    self->sync = sync_first_tag(&self->framer, n_events, &tag);
    if (self->sync != SYNC_SETTLE) {
        return 0;
    }
    self->sync = SYNC_SEEK;
    if (feed_bytes(self, buf, tag.end) < 0) {
        return -1;
    }
    *fed = tag.end;
    int agrees = self->passive ? 0 : first_stanza_agrees(self, buf, &tag);
    if (agrees > 0) {
        self->sync = SYNC_SETTLE;
    }
    return agrees < 0 ? -1 : 0;
}

/* A read while the tap is not yet in step (see above): slixmpp gets all of
   it, in at most two parts.  0, or -1 on error. */
static int
sync_read(TapObject *self, PyObject *data)
{
    /* Stanzas are not told apart yet: any read is a sign of life. */
    self->received_at = core_monotonic();
    int was_otherwise = self->fed_otherwise;
    if (self->sync == SYNC_SEEK) {
        if (feed_object(self, data) < 0 || take_candidate(self) < 0) {
            return -1;
        }
        return deliver_now(self, may_end_stanza(data), was_otherwise);
    }
    PyObject *bytes = as_bytes(data);
    if (bytes == NULL) {
        return -1;
    }
    const char *buf = PyBytes_AS_STRING(bytes);
    size_t len = (size_t)PyBytes_GET_SIZE(bytes);
    size_t fed = 0;
    int stanza_ended;   /* for deliver_now(): every read here sets the clock */
    Py_ssize_t n_events = scan_read(self, buf, len, &stanza_ended);
    int rc = 0;
    if (n_events < 0) {
        self->sync = SYNC_SEEK;
    }
    else if (self->sync == SYNC_OPEN) {
        rc = check_first_stanza(self, buf, (size_t)n_events, &fed);
    }
    if (rc == 0 && fed < len) {
        self->fed_otherwise |= fed > 0;
        rc = fed == 0 ? feed_object(self, data)
                      : feed_bytes(self, buf + fed, len - fed);
    }
    Py_DECREF(bytes);
    if (rc < 0) {
        return -1;
    }
    rc = self->sync == SYNC_SETTLE ? try_settle(self)
         : self->sync == SYNC_SEEK ? take_candidate(self) : 0;
    return rc < 0 ? -1 : deliver_now(self, stanza_ended, was_otherwise);
}

/* Registered mid-stream: see above.  A stream not yet begun, or begun
   after this, starts at its header as usual. */
static PyObject *
tap_join_stream(TapObject *self, PyObject *Py_UNUSED(unused))
{
    if (self->in_call) {
        PyErr_SetString(PyExc_RuntimeError, "join_stream() inside a read");
        return NULL;
    }
    Py_CLEAR(self->parser);
    if (tap_sync_stream(self) < 0) {
        return NULL;
    }
    /* What slixmpp was fed before is unknown: settle before relying on it. */
    self->fed_unchecked = 1;
    if (!self->passive) {
        self->framer.in_header = 0;
        self->sync = SYNC_SEEK;
    }
    Py_RETURN_NONE;
}

static PyObject *
tap_call(TapObject *self, PyObject *const *args, size_t nargsf,
         /* cppcheck-suppress constParameter ; vectorcallfunc's signature */
         PyObject *kwnames)
{
    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError,
                        "data_received() takes exactly one argument");
        return NULL;
    }
    PyObject *data = args[0];
    if (tap_sync_stream(self) < 0) {
        return NULL;
    }
    if (self->in_call) {
        /* A read inside a read: our place in the stream is lost. */
        self->passive = 1;
    }
    if (self->passive) {
        /* Stanzas are not told apart here: any read is a sign of life. */
        self->received_at = core_monotonic();
        PyObject *r = PyObject_CallOneArg(self->feed, data);
        self->fed_unchecked = 1;
        if (r != NULL && deliver_now(self, may_end_stanza(data), 1) < 0) {
            Py_CLEAR(r);
        }
        return r;
    }
    if (self->sync != SYNC_NONE) {
        self->in_call = 1;
        int synced = sync_read(self, data);
        self->in_call = 0;
        if (synced < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    PyObject *bytes = as_bytes(data);
    if (bytes == NULL) {
        return NULL;
    }
    const char *buf = PyBytes_AS_STRING(bytes);
    size_t len = (size_t)PyBytes_GET_SIZE(bytes);
    int was_otherwise = self->fed_otherwise;
    self->in_call = 1;
    int stanza_ended;
    Py_ssize_t n_events = scan_read(self, buf, len, &stanza_ended);
    framer_begin_read(&self->framer, buf, len, n_events);
    int rc = act_on_read(self);
    self->in_call = 0;
    Frame rest;
    framer_rest(&self->framer, &rest);
    if (rc == 0 && rest.n == len && len > 0) {
        /* Nothing taken from this read: slixmpp gets the object the
           caller gave. */
        PyObject *r = PyObject_CallOneArg(self->feed, data);
        rc = r == NULL ? -1 : 0;
        Py_XDECREF(r);
        self->fed_unchecked = 1;
    }
    else if (rc == 0) {
        /* In pieces, or a stanza taken out. */
        self->fed_otherwise |= len > 0;
        rc = feed_bytes(self, rest.p, rest.n);
    }
    /* Passive: the tap follows no stanzas, any read may end one. */
    if (rc == 0) {
        rc = deliver_now(self, stanza_ended
                               || (self->passive && may_end_stanza(data)),
                         was_otherwise);
    }
    Py_DECREF(bytes);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- the type -------------------------------------------------------- */

/* 1 if the expat xml.etree parses with may hold input back (2.6.0 and
   newer: reparse deferral), 0 if not, -1 on error. */
static int
expat_defers(void)
{
    PyObject *pyexpat = PyImport_ImportModule("pyexpat");
    if (pyexpat == NULL) {
        return -1;
    }
    PyObject *version = PyObject_GetAttrString(pyexpat, "version_info");
    Py_DECREF(pyexpat);
    PyObject *first = Py_BuildValue("(iii)", 2, 6, 0);
    int defers = -1;
    if (version != NULL && first != NULL) {
        defers = PyObject_RichCompareBool(version, first, Py_GE);
    }
    Py_XDECREF(version);
    Py_XDECREF(first);
    return defers;
}

/* The references a Tap holds that may never be NULL: every method relies
   on them.  The collector's tp_clear sets them to None instead, so that a
   cleared Tap raises if it is ever called again rather than crashing.
   (Its Pings and Writer keep their own.) */
#define TAP_REQUIRED_FIELDS(X) \
    X(xmpp) X(feed) X(normalize_jid) X(send_slow)
/* ...and those NULL when there is none: slixmpp's parser the tap follows,
   its flush(). */
#define TAP_OPTIONAL_FIELDS(X) X(parser) X(parser_flush)

/* What Tap() takes from its arguments before the object exists; each a
   new reference. */
typedef struct {
    PyObject *create_future, *call_later, *call_soon, *log_enabled;
    int reparse_deferral;
} LoopParts;

static void
loop_parts_clear(LoopParts *parts)
{
    Py_CLEAR(parts->create_future);
    Py_CLEAR(parts->call_later);
    Py_CLEAR(parts->call_soon);
    Py_CLEAR(parts->log_enabled);
}

static int
loop_parts_get(CoreState *st, PyObject *loop, PyObject *logger,
               LoopParts *parts)
{
    /* Each step only once the one before succeeded. */
    memset(parts, 0, sizeof(*parts));
    parts->create_future = PyObject_GetAttr(loop, st->str_create_future);
    if (parts->create_future != NULL) {
        parts->call_later = PyObject_GetAttr(loop, st->str_call_later);
    }
    if (parts->call_later != NULL) {
        parts->call_soon = PyObject_GetAttr(loop, st->str_call_soon);
    }
    if (parts->call_soon != NULL) {
        parts->log_enabled = PyObject_GetAttr(logger, st->str_is_enabled_for);
    }
    parts->reparse_deferral = parts->log_enabled != NULL ? expat_defers() : -1;
    if (parts->reparse_deferral < 0) {
        loop_parts_clear(parts);
        return -1;
    }
    return 0;
}

/* The parts of a new Tap that are not Python objects given to it: its own
   memory and objects.  -1 with an exception set; the Tap's dealloc frees
   whatever was made. */
static int
tap_make_own_parts(TapObject *self, PyObject *default_ns)
{
    Str ns;
    if (core_utf8_arg(default_ns, "default_ns", &ns) < 0) {
        return -1;
    }
    if (buf_append(&self->default_ns, ns.ptr, ns.len) < 0
        || (self->stanza_parser = stanza_parser_new()) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (pings_init(&self->pings, tap_state(self)) < 0) {
        return -1;
    }
    self->jids = PyDict_New();
    if (self->jids == NULL) {
        return -1;
    }
    self->pings.expire = PyObject_GetAttr((PyObject *)self,
                                          tap_state(self)->str_expire);
    if (self->pings.expire == NULL) {
        return -1;
    }
    self->writer.flush = PyObject_GetAttr((PyObject *)self,
                                          tap_state(self)->str_flush);
    return self->writer.flush == NULL ? -1 : 0;
}

static PyObject *tap_vectorcall(PyObject *self, PyObject *const *args,
                                size_t nargsf, PyObject *kwnames);

/* The names of slixmpp's private attributes the plugin hands in (C knows
   none): exact str, so that no cycle runs through them and looking them up
   runs no code of theirs.  -1 with TypeError otherwise. */
static int
check_private_names(PyObject *session_flags, PyObject *queue_unfinished,
                    PyObject *parser_events)
{
    int ok = PyTuple_CheckExact(session_flags)
             && PyUnicode_CheckExact(queue_unfinished)
             && PyUnicode_CheckExact(parser_events);
    for (Py_ssize_t i = 0; ok && i < PyTuple_GET_SIZE(session_flags); i++) {
        ok = PyUnicode_CheckExact(PyTuple_GET_ITEM(session_flags, i));
    }
    if (!ok) {
        PyErr_SetString(PyExc_TypeError, "session_flags must be a tuple of "
                        "str, queue_unfinished and parser_events str");
        return -1;
    }
    return 0;
}

/* Everything a Tap is, established here or not at all: the object is
   untracked by the collector while it is built, so that nothing can reach
   it half-made, and a failure frees all it took.  There is no __init__. */
static PyObject *
tap_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"xmpp", "feed", "loop", "default_ns",
                             "component", "log", "send_queue",
                             "normalize_jid", "send_slow", "on_timeout",
                             "session_flags", "queue_unfinished",
                             "parser_events", NULL};
    PyObject *xmpp, *feed, *loop, *default_ns, *logger, *send_queue;
    PyObject *normalize_jid, *send_slow, *on_timeout;
    PyObject *session_flags, *queue_unfinished, *parser_events;
    int component;
    LoopParts parts;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO$UpOOOOOOOO:Tap", kwlist,
                                     &xmpp, &feed, &loop, &default_ns,
                                     &component, &logger, &send_queue,
                                     &normalize_jid, &send_slow,
                                     &on_timeout, &session_flags,
                                     &queue_unfinished, &parser_events)
        || check_private_names(session_flags, queue_unfinished,
                               parser_events) < 0
        || loop_parts_get(core_state_of_type(type), loop, logger,
                          &parts) < 0) {
        return NULL;
    }
    TapObject *self = (TapObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        loop_parts_clear(&parts);
        return NULL;
    }
    PyObject_GC_UnTrack(self);
    self->vectorcall = tap_vectorcall;
    framer_init(&self->framer);
    buf_init(&self->default_ns);
    writer_init(&self->writer, core_state_of_type(type));
    self->passive = 1;
    self->component = component;
    self->reparse_deferral = (char)parts.reparse_deferral;
    self->pings.create_future = parts.create_future;
    self->pings.call_later = parts.call_later;
    self->writer.log_enabled = parts.log_enabled;
    self->writer.call_soon = parts.call_soon;
    self->xmpp = Py_NewRef(xmpp);
    self->feed = Py_NewRef(feed);
    self->writer.xmpp = Py_NewRef(xmpp);
    self->writer.send_queue = Py_NewRef(send_queue);
    self->normalize_jid = Py_NewRef(normalize_jid);
    self->send_slow = Py_NewRef(send_slow);
    self->pings.on_timeout = Py_NewRef(on_timeout);
    self->writer.sm = Py_NewRef(Py_None);
    self->writer.session_flags = Py_NewRef(session_flags);
    self->writer.queue_unfinished = Py_NewRef(queue_unfinished);
    self->parser_events = Py_NewRef(parser_events);
    if (tap_make_own_parts(self, default_ns) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int
tap_traverse(TapObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
#define VISIT_FIELD(name) Py_VISIT(self->name);
    TAP_REQUIRED_FIELDS(VISIT_FIELD)
    TAP_OPTIONAL_FIELDS(VISIT_FIELD)
#undef VISIT_FIELD
    Py_VISIT(self->jids);
    int rc = writer_traverse(&self->writer, visit, arg);
    return rc != 0 ? rc : pings_traverse(&self->pings, visit, arg);
}

static int
tap_clear(TapObject *self)
{
    pings_clear(&self->pings);
    writer_clear(&self->writer);
#define NONE_FIELD(name) Py_XSETREF(self->name, Py_NewRef(Py_None));
    TAP_REQUIRED_FIELDS(NONE_FIELD)
#undef NONE_FIELD
#define CLEAR_FIELD(name) Py_CLEAR(self->name);
    TAP_OPTIONAL_FIELDS(CLEAR_FIELD)
#undef CLEAR_FIELD
    /* Emptied, still a dict: reply_jid() relies on it. */
    PyDict_Clear(self->jids);
    return 0;
}

/* Also frees a Tap that tap_new() could not finish. */
static void
tap_dealloc(TapObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    pings_free(&self->pings);
    writer_free(&self->writer);
#define CLEAR_FIELD(name) Py_CLEAR(self->name);
    TAP_REQUIRED_FIELDS(CLEAR_FIELD)
    TAP_OPTIONAL_FIELDS(CLEAR_FIELD)
#undef CLEAR_FIELD
    Py_CLEAR(self->jids);
    Py_CLEAR(self->parser_events);
    framer_free(&self->framer);
    stanza_parser_free(self->stanza_parser);
    buf_free(&self->default_ns);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *
tap_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
               PyObject *kwnames)
{
    return tap_call((TapObject *)self, args, nargsf, kwnames);
}

static PyObject *
tap_tp_call(PyObject *self, PyObject *args, PyObject *kwds)
{
    if (kwds != NULL && PyDict_GET_SIZE(kwds) != 0) {
        PyErr_SetString(PyExc_TypeError,
                        "data_received() takes no keyword arguments");
        return NULL;
    }
    return tap_call((TapObject *)self, &PyTuple_GET_ITEM(args, 0),
                    (size_t)PyTuple_GET_SIZE(args), NULL);
}

/* ---- attributes -------------------------------------------------------- */

/* Deleting a setting would leave nothing to read: refused, as CPython's
   own getsets refuse it. */
static int
refuse_delete(const PyObject *value)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_TypeError, "cannot delete attribute");
        return -1;
    }
    return 0;
}

/* The flags' getset closures: where each lives in a TapObject. */
static size_t flag_offsets[] = {
    offsetof(TapObject, answer_pings),
    offsetof(TapObject, complete_pongs),
    offsetof(TapObject, writer.direct_send),
    offsetof(TapObject, deliver_without_delay),
    offsetof(TapObject, reparse_deferral),
};

static char *
flag_of(TapObject *self, void *closure)
{
    return (char *)self + *(const size_t *)closure;
}

static PyObject *
flag_get(TapObject *self, void *closure)
{
    return PyBool_FromLong(*flag_of(self, closure));
}

static int
flag_set(TapObject *self, PyObject *value, void *closure)
{
    if (refuse_delete(value) < 0) {
        return -1;
    }
    if (!PyBool_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "attribute value type must be bool");
        return -1;
    }
    *flag_of(self, closure) = (char)(value == Py_True);
    return 0;
}

static PyObject *
sm_get(TapObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->writer.sm);
}

/* None, or what counts stanzas for Stream Management: incoming() and
   outgoing(type, id, to, ifrom, lang). */
static int
sm_set(TapObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (refuse_delete(value) < 0) {
        return -1;
    }
    return writer_set_sm(&self->writer, value);
}

static PyObject *
received_at_get(TapObject *self, void *Py_UNUSED(closure))
{
    return PyFloat_FromDouble(self->received_at);
}

#define FLAG(name, index, doc)                                        \
    {name, (getter)flag_get, (setter)flag_set, doc, &flag_offsets[index]}

static PyGetSetDef tap_getsets[] = {
    FLAG("answer_pings", 0, "Answer ping requests in C."),
    FLAG("complete_pongs", 1, "Complete pings from their results in C."),
    FLAG("direct_send", 2, "Write stanzas to the transport directly."),
    FLAG("deliver_without_delay", 3,
         "Flush slixmpp's parser after each read that ends a stanza, so "
         "that no stanza waits for the next read (expat >= 2.6 only)."),
    FLAG("reparse_deferral", 4,
         "Whether expat may hold input back (>= 2.6.0); read at each new "
         "stream."),
    {"sm", (getter)sm_get, (setter)sm_set,
     "Stream Management's accounting, or None.", NULL},
    {"received_at", (getter)received_at_get, NULL,
     "time.monotonic() when the last stanza was received (any read while "
     "the tap is passive); 0.0 before the first.", NULL},
    {NULL, NULL, NULL, NULL, NULL}
};

#undef FLAG

/* ---- the pings' methods --------------------------------------------- */

static int
prepare_ping(void *ctx)
{
    return tap_sync_stream(ctx);
}

/* Writes our ping to the transport, or has slixmpp send it. */
static int
send_ping_request(void *ctx, PyObject *peer, PyObject *ifrom, Str id, Str to,
                  Str from)
{
    TapObject *self = ctx;
    int debug = -1;
    int direct = writer_can_write(&self->writer, &debug);
    if (direct < 0) {
        return -1;
    }
    if (direct) {
        return writer_send_ping(&self->writer, id, to, from);
    }
    PyObject *py_id = PyUnicode_FromStringAndSize(id.ptr, (Py_ssize_t)id.len);
    if (py_id == NULL) {
        return -1;
    }
    PyObject *args[3] = {py_id, peer, ifrom};
    PyObject *r = PyObject_Vectorcall(self->send_slow, args, 3, NULL);
    Py_DECREF(py_id);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

static PyObject *
tap_send_ping(TapObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PingSender sender = {prepare_ping, send_ping_request, self};
    return pings_send(&self->pings, &sender, args, nargs);
}

/* The Tap's methods that are its Pings': tap_X() forwards to pings_X(). */
#define FORWARD_FASTCALL(name)                                              \
    static PyObject *                                                       \
    tap_##name(TapObject *self, PyObject *const *args, Py_ssize_t nargs)   \
    {                                                                       \
        return pings_##name(&self->pings, args, nargs);                     \
    }
#define FORWARD_O(name)                                                     \
    static PyObject *                                                       \
    tap_##name(TapObject *self, PyObject *arg)                              \
    {                                                                       \
        return pings_##name(&self->pings, arg);                             \
    }
#define FORWARD_NOARGS(name)                                                \
    static PyObject *                                                       \
    tap_##name(TapObject *self, PyObject *Py_UNUSED(ignored))               \
    {                                                                       \
        return pings_##name(&self->pings);                                  \
    }
FORWARD_FASTCALL(track)
FORWARD_O(find)
FORWARD_O(pop)
FORWARD_NOARGS(pending)
FORWARD_NOARGS(cancel_all)
FORWARD_NOARGS(forget_cancelled)
FORWARD_NOARGS(expire)
#undef FORWARD_FASTCALL
#undef FORWARD_O
#undef FORWARD_NOARGS

static PyObject *
tap_counters(TapObject *self, PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("(KK)", self->answered, self->pings.completed);
}

static PyObject *
tap_flush(TapObject *self, PyObject *Py_UNUSED(ignored))
{
    return writer_flush(&self->writer) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyMethodDef tap_methods[] = {
    {"send_ping", (PyCFunction)(void (*)(void))tap_send_ping, METH_FASTCALL,
     "send_ping(peer, ifrom, timeout, id=None)\n--\n\n"
     "Send a ping, under id or one of ours; the future gets the round trip "
     "time in seconds."},
    {"track", (PyCFunction)(void (*)(void))tap_track, METH_FASTCALL,
     "track(peer, timeout, future, context, id=None)\n--\n\n"
     "The id (id, or a new one of ours) of a ping the caller sends; slixmpp "
     "completes it."},
    {"find", (PyCFunction)tap_find, METH_O,
     "find(id)\n--\n\nThe Peer of the ping in flight with this id, or None."},
    {"pop", (PyCFunction)tap_pop, METH_O,
     "pop(id)\n--\n\n"
     "Remove the ping with this id: (future, peer, context, rtt, tracked), "
     "or None."},
    {"pending", (PyCFunction)tap_pending, METH_NOARGS,
     "pending()\n--\n\nThe number of pings in flight."},
    {"counters", (PyCFunction)tap_counters, METH_NOARGS,
     "counters()\n--\n\n(pings answered, pongs completed) by the fast path."},
    {"cancel_all", (PyCFunction)tap_cancel_all, METH_NOARGS,
     "cancel_all()\n--\n\nCancel every ping in flight."},
    {"forget_cancelled", (PyCFunction)tap_forget_cancelled, METH_NOARGS,
     "forget_cancelled()\n--\n\n"
     "Drop every ping whose future was cancelled, without calling its "
     "timeout handler, each counted lost: how many."},
    {"join_stream", (PyCFunction)tap_join_stream, METH_NOARGS,
     "join_stream()\n--\n\n"
     "Follow slixmpp's stream from the middle: the fast path starts where "
     "the tap can prove it reads the stream as slixmpp does."},
    {"flush", (PyCFunction)tap_flush, METH_NOARGS,
     "flush()\n--\n\n"
     "Write what the fast path wrote this turn of the event loop now: "
     "before anything else is written to the transport."},
    {"_expire", (PyCFunction)tap_expire, METH_NOARGS,
     "_expire()\n--\n\nThe deadline timer's callback."},
    {NULL, NULL, 0, NULL}
};

static PyMemberDef tap_members[] = {
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(TapObject, vectorcall),
     Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL}
};

static PyType_Slot tap_slots[] = {
    {Py_tp_doc, "Tap(xmpp, feed, loop, *, default_ns, component, "
                "log, send_queue, normalize_jid, send_slow, "
                "on_timeout)\n--\n\n"
                "slixmpp's data_received with the ping fast path in front."},
    {Py_tp_new, tap_new},
    {Py_tp_call, tap_tp_call},
    {Py_tp_traverse, tap_traverse},
    {Py_tp_clear, tap_clear},
    {Py_tp_dealloc, tap_dealloc},
    {Py_tp_methods, tap_methods},
    {Py_tp_members, tap_members},
    {Py_tp_getset, tap_getsets},
    {0, NULL}
};

static PyType_Spec tap_spec = {
    .name = "slixmpp_ping_c._core.Tap",
    .basicsize = sizeof(TapObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = tap_slots,
};

int
tap_add_type(PyObject *module, CoreState *st)
{
    st->tap_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &tap_spec,
                                                            NULL);
    if (st->tap_type == NULL) {
        return -1;
    }
    return PyModule_AddType(module, st->tap_type);
}
