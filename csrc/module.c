/*
 * slixmpp_ping_c._core: the module's glue and its functions on single
 * stanzas (parse_stanza, build_ping, build_result, reply_to_ping).
 */
#include "core.h"

#include <stdint.h>
#include <string.h>

#include "peer.h"
#include "rules.h"
#include "scanner.h"

static PyModuleDef core_module;

static CoreState *
module_state(PyObject *module)
{
    return PyModule_GetState(module);
}

/* core_utf8_arg() for an argument that may not be None. */
static int
required_utf8_arg(PyObject *obj, const char *what, Str *out)
{
    if (obj == Py_None) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not None", what);
        return -1;
    }
    return core_utf8_arg(obj, what, out);
}

/* Whether p[0:n] has an element with more attributes than libxml2 should
   be given (see scanner.h).  Markup the scanner cannot follow is left for
   libxml2 to judge. */
static int
is_crowded(const char *p, size_t n)
{
    /* Each attribute takes at least 5 bytes: ' a=""'. */
    if (n <= 5 * (size_t)SCANNER_MAX_ATTRS) {
        return 0;
    }
    Scanner scanner;
    scanner_init(&scanner);
    size_t pos = 0;
    ScanEvent ev;
    do {
        ev = scanner_next(&scanner, p, n, &pos);
    } while (ev != SCAN_MORE && ev != SCAN_FAILED && !scanner.crowded);
    int crowded = scanner.crowded;
    scanner_free(&scanner);
    return crowded;
}

/* The bytes of exactly one element, parsed; -1 with ValueError if not. */
static int
parse_one(CoreState *st, PyObject *data, StanzaInfo *info)
{
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "data must be bytes, not %.100s",
                     Py_TYPE(data)->tp_name);
        return -1;
    }
    const char *p = PyBytes_AS_STRING(data);
    size_t n = (size_t)PyBytes_GET_SIZE(data);
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "data is larger than 2 GiB");
        return -1;
    }
    if (is_crowded(p, n)) {
        PyErr_Format(PyExc_ValueError, "data has an element with more than "
                     "%d attributes", SCANNER_MAX_ATTRS);
        return -1;
    }
    /* libxml2 keeps trailing text to itself until more input comes, so
       text after the element would go unseen: refuse it here. */
    size_t end = n;
    while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'
                       || p[end - 1] == '\n' || p[end - 1] == '\r')) {
        end--;
    }
    if (end == 0 || p[end - 1] != '>'
        || stanza_parse(st->parser, p, n, info) < 0) {
        PyErr_SetString(PyExc_ValueError,
                        memmem(p, n, "<!DOCTYPE", 9) != NULL
                        ? "data holds a DOCTYPE, which XMPP forbids"
                        : "data is not exactly one well-formed stanza");
        return -1;
    }
    return 0;
}

/* A ping request by the tap's rules, in any namespace. */
static int
is_ping_request(const StanzaInfo *info)
{
    return rules_match(info) == ACT_ANSWER;
}

static PyObject *
parse_stanza(PyObject *module, PyObject *data)
{
    StanzaInfo info;
    if (parse_one(module_state(module), data, &info) < 0) {
        return NULL;
    }
    PyObject *fields[] = {core_str_or_none(info.name), core_str_or_none(info.type),
                          core_str_or_none(info.id), core_str_or_none(info.from),
                          core_str_or_none(info.to), core_str_or_none(info.lang)};
    PyObject *result = NULL;
    if (fields[0] && fields[1] && fields[2] && fields[3] && fields[4]
        && fields[5]) {
        result = Py_BuildValue("{sOsOsOsOsOsOsO}", "name", fields[0],
                               "type", fields[1], "id", fields[2],
                               "from", fields[3], "to", fields[4],
                               "lang", fields[5], "is_ping",
                               is_ping_request(&info) ? Py_True : Py_False);
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        Py_XDECREF(fields[i]);
    }
    return result;
}

static PyObject *
take_scratch(CoreState *st, int rc)
{
    if (rc < 0) {
        st->scratch.len = 0;
        return PyErr_NoMemory();
    }
    PyObject *r = PyBytes_FromStringAndSize(st->scratch.data,
                                            (Py_ssize_t)st->scratch.len);
    st->scratch.len = 0;
    return r;
}

static PyObject *
build_ping(PyObject *module, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"id", "to", "ifrom", NULL};
    PyObject *id_obj, *to_obj, *from_obj = Py_None;
    Str id, to, from;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:build_ping", kwlist,
                                     &id_obj, &to_obj, &from_obj)
        || required_utf8_arg(id_obj, "id", &id) < 0
        || required_utf8_arg(to_obj, "to", &to) < 0
        || core_utf8_arg(from_obj, "ifrom", &from) < 0) {
        return NULL;
    }
    CoreState *st = module_state(module);
    return take_scratch(st, serialize_ping(&st->scratch, id, to, from));
}

static PyObject *
build_result(PyObject *module, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"id", "to", "ifrom", "lang", NULL};
    PyObject *id_obj, *to_obj, *from_obj = Py_None, *lang_obj = Py_None;
    Str id, to, from, lang;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|OO:build_result", kwlist,
                                     &id_obj, &to_obj, &from_obj, &lang_obj)
        || required_utf8_arg(id_obj, "id", &id) < 0
        || core_utf8_arg(to_obj, "to", &to) < 0
        || core_utf8_arg(from_obj, "ifrom", &from) < 0
        || core_utf8_arg(lang_obj, "lang", &lang) < 0) {
        return NULL;
    }
    CoreState *st = module_state(module);
    Str none = {NULL, 0};
    return take_scratch(st, serialize_result(&st->scratch, id, to, from,
                                             lang, none));
}

static PyObject *
reply_to_ping(PyObject *module, PyObject *data)
{
    CoreState *st = module_state(module);
    StanzaInfo info;
    if (parse_one(st, data, &info) < 0) {
        return NULL;
    }
    if (!is_ping_request(&info) || info.id.ptr == NULL) {
        Py_RETURN_NONE;
    }
    Str none = {NULL, 0};
    return take_scratch(st, serialize_result(&st->scratch, info.id,
                                             info.from, none, info.lang,
                                             info.lead));
}

static PyMethodDef core_methods[] = {
    {"parse_stanza", (PyCFunction)parse_stanza, METH_O,
     "parse_stanza(data)\n--\n\n"
     "The fields of the one stanza in data: name, type, id, from, to, lang "
     "(str or None) and is_ping.  ValueError unless data is exactly one "
     "well-formed element."},
    {"build_ping", (PyCFunction)(void (*)(void))build_ping,
     METH_VARARGS | METH_KEYWORDS,
     "build_ping(id, to, ifrom=None)\n--\n\nA ping request stanza."},
    {"build_result", (PyCFunction)(void (*)(void))build_result,
     METH_VARARGS | METH_KEYWORDS,
     "build_result(id, to, ifrom=None, lang=None)\n--\n\n"
     "The result that answers a ping."},
    {"reply_to_ping", (PyCFunction)reply_to_ping, METH_O,
     "reply_to_ping(data)\n--\n\n"
     "The result a client sends for the ping request in data, or None when "
     "data is another stanza."},
    {NULL, NULL, 0, NULL}
};

#define INTERN(field, text)                                  \
    do {                                                     \
        st->field = PyUnicode_InternFromString(text);        \
        if (st->field == NULL) {                             \
            return -1;                                       \
        }                                                    \
    } while (0)

static int
core_exec(PyObject *module)
{
    CoreState *st = module_state(module);
    buf_init(&st->scratch);
    INTERN(str_parser, "parser");
    INTERN(str_transport, "transport");
    INTERN(str_write, "write");
    INTERN(str_set_result, "set_result");
    INTERN(str_cancel, "cancel");
    INTERN(str_cancelled, "cancelled");
    INTERN(str_call_later, "call_later");
    INTERN(str_call_soon, "call_soon");
    INTERN(str_create_future, "create_future");
    INTERN(str_expire, "_expire");
    INTERN(str_incoming, "incoming");
    INTERN(str_outgoing, "outgoing");
    INTERN(str_get, "get");
    INTERN(str_result, "result");
    INTERN(str_is_enabled_for, "isEnabledFor");
    INTERN(str_feed, "feed");
    INTERN(str_read_events, "read_events");
    INTERN(str_flush, "flush");
    /* XMLPullParser's private event queue (xml.etree, 3.4 to 3.13) */
    INTERN(str_append, "append");
    st->empty_bytes = PyBytes_FromStringAndSize(NULL, 0);
    if (st->empty_bytes == NULL) {
        return -1;
    }
    INTERN(str_xml_depth, "xml_depth");
    INTERN(str_xml_root, "xml_root");
    INTERN(str_tag, "tag");
    /* logging.DEBUG */
    st->debug_level = PyLong_FromLong(10);
    if (st->debug_level == NULL) {
        return -1;
    }
    st->parser = stanza_parser_new();
    if (st->parser == NULL || stanza_parser_begin(st->parser, NULL, 0) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    st->peer_type = peer_type_new(module);
    if (st->peer_type == NULL || PyModule_AddType(module, st->peer_type) < 0
        || tap_add_type(module, st) < 0) {
        return -1;
    }
    return 0;
}

static int
core_traverse(PyObject *module, visitproc visit, void *arg)
{
    CoreState *st = module_state(module);
    Py_VISIT(st->peer_type);
    Py_VISIT(st->tap_type);
    return 0;
}

static int
core_clear(PyObject *module)
{
    CoreState *st = module_state(module);
    Py_CLEAR(st->peer_type);
    Py_CLEAR(st->tap_type);
    Py_CLEAR(st->str_parser);
    Py_CLEAR(st->str_transport);
    Py_CLEAR(st->str_write);
    Py_CLEAR(st->str_set_result);
    Py_CLEAR(st->str_cancel);
    Py_CLEAR(st->str_cancelled);
    Py_CLEAR(st->str_call_later);
    Py_CLEAR(st->str_call_soon);
    Py_CLEAR(st->str_create_future);
    Py_CLEAR(st->str_expire);
    Py_CLEAR(st->str_incoming);
    Py_CLEAR(st->str_outgoing);
    Py_CLEAR(st->str_get);
    Py_CLEAR(st->str_result);
    Py_CLEAR(st->str_is_enabled_for);
    Py_CLEAR(st->str_feed);
    Py_CLEAR(st->str_read_events);
    Py_CLEAR(st->str_flush);
    Py_CLEAR(st->str_append);
    Py_CLEAR(st->empty_bytes);
    Py_CLEAR(st->str_xml_depth);
    Py_CLEAR(st->str_xml_root);
    Py_CLEAR(st->str_tag);
    Py_CLEAR(st->debug_level);
    return 0;
}

static void
core_free(void *module)
{
    CoreState *st = module_state(module);
    core_clear(module);
    stanza_parser_free(st->parser);
    st->parser = NULL;
    buf_free(&st->scratch);
}

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, core_exec},
    {0, NULL}
};

static PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "slixmpp_ping_c._core",
    .m_doc = "The C core of slixmpp-ping-c: XEP-0199 stanzas parsed with "
             "libxml2, and the stream tap.",
    .m_size = sizeof(CoreState),
    .m_methods = core_methods,
    .m_slots = core_slots,
    .m_traverse = core_traverse,
    .m_clear = core_clear,
    .m_free = core_free,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&core_module);
}
