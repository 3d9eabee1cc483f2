/*
 * libFuzzer harness for the stanza parser: parse_stanza() and
 * reply_to_ping() of the module (csrc/module.c) on the input as one stanza,
 * and the StanzaParser itself (csrc/stanza.c) in the context of a stream
 * root the input chooses.
 *
 * Oracles besides the sanitizers: a refusal is a ValueError and nothing
 * else; a parsed stanza's fields are consistent; a reply parses back to the
 * ping's id, sender and language; a failure never affects the next parse;
 * parsing the same bytes twice gives the same fields.
 *
 * Input: the stanza; or, if it holds a NUL byte (which XML cannot), the
 * stream root's start tag before it and the stanza after it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "stanza.h"

static const char KNOWN_PING[] =
    "<iq type='get' id='k&amp;1' from='a@b/c' xml:lang='en'>"
    "<ping xmlns='urn:xmpp:ping'/></iq>";

typedef struct {
    PyObject *parse_stanza;
    PyObject *reply_to_ping;
    StanzaParser *parser;
} Harness;

static Harness h;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    PyObject *module = fuzz_core_module();
    h.parse_stanza = fuzz_function(module, "parse_stanza");
    h.reply_to_ping = fuzz_function(module, "reply_to_ping");
    Py_DECREF(module);
    h.parser = stanza_parser_new();
    fuzz_check(h.parser != NULL, "stanza_parser_new");
    return 0;
}

/* A field of a parse_stanza() result (borrowed), checked to be str or
   None. */
static PyObject *
field(PyObject *fields, const char *name)
{
    PyObject *v = fuzz_dict_item(fields, name);
    fuzz_check(v != NULL && (v == Py_None || PyUnicode_Check(v)), name);
    return v;
}

static int
equal(PyObject *a, PyObject *b)
{
    int r = PyObject_RichCompareBool(a, b, Py_EQ);
    fuzz_check(r >= 0, "comparing fields");
    return r;
}

/* parse_stanza(data): its fields (a new reference), or NULL when it
   refused data, which it must do with ValueError. */
static PyObject *
parse(PyObject *data)
{
    PyObject *fields = PyObject_CallOneArg(h.parse_stanza, data);
    if (fields == NULL) {
        fuzz_check(PyErr_ExceptionMatches(PyExc_ValueError),
                   "parse_stanza refusing with ValueError");
        PyErr_Clear();
        return NULL;
    }
    fuzz_check(PyDict_Check(fields), "parse_stanza returning a dict");
    PyObject *name = field(fields, "name");
    fuzz_check(PyUnicode_Check(name) && PyUnicode_GET_LENGTH(name) > 0,
               "a stanza's name");
    PyObject *is_ping = fuzz_dict_item(fields, "is_ping");
    fuzz_check(is_ping == Py_True || is_ping == Py_False, "is_ping");
    if (is_ping == Py_True) {
        fuzz_check(PyUnicode_CompareWithASCIIString(name, "iq") == 0
                   && PyUnicode_CompareWithASCIIString(
                          field(fields, "type"), "get") == 0,
                   "a ping being an iq get");
    }
    return fields;
}

/* The reply to a ping parses back to its id, its sender and language. */
static void
check_reply(PyObject *data, PyObject *fields)
{
    PyObject *reply = PyObject_CallOneArg(h.reply_to_ping, data);
    if (fields == NULL) {
        fuzz_check(reply == NULL && PyErr_ExceptionMatches(PyExc_ValueError),
                   "reply_to_ping refusing what parse_stanza refuses");
        PyErr_Clear();
        return;
    }
    fuzz_check(reply != NULL, "reply_to_ping on a stanza");
    int ping = fuzz_dict_item(fields, "is_ping") == Py_True
               && field(fields, "id") != Py_None;
    if (!ping) {
        fuzz_check(reply == Py_None, "no reply but to a ping with an id");
        Py_DECREF(reply);
        return;
    }
    fuzz_check(PyBytes_Check(reply), "a reply being bytes");
    PyObject *back = parse(reply);
    fuzz_check(back != NULL, "a reply parsing");
    fuzz_check(PyUnicode_CompareWithASCIIString(field(back, "type"),
                                                "result") == 0
               && equal(field(back, "id"), field(fields, "id"))
               && equal(field(back, "to"), field(fields, "from"))
               && field(back, "from") == Py_None
               && equal(field(back, "lang"), field(fields, "lang")),
               "a reply's fields");
    Py_DECREF(back);
    Py_DECREF(reply);
}

/* After whatever came before, a plain ping still parses. */
static void
check_known_ping(void)
{
    PyObject *data = PyBytes_FromStringAndSize(KNOWN_PING,
                                               sizeof(KNOWN_PING) - 1);
    fuzz_check(data != NULL, "bytes");
    PyObject *fields = parse(data);
    fuzz_check(fields != NULL
               && fuzz_dict_item(fields, "is_ping") == Py_True
               && PyUnicode_CompareWithASCIIString(field(fields, "id"),
                                                   "k&1") == 0
               && PyUnicode_CompareWithASCIIString(field(fields, "lang"),
                                                   "en") == 0,
               "a plain ping parsing after the input");
    Py_DECREF(fields);
    Py_DECREF(data);
}

/* A copy of what stanza_parse() filled in, which the next parse
   overwrites. */
typedef struct {
    char *bytes;
    size_t len;
    int flags[4];
} InfoCopy;

static void
append_str(char **p, Str s)
{
    /* present/absent, the length, then the bytes */
    **p = s.ptr != NULL;
    *p += 1;
    memcpy(*p, &s.len, sizeof(s.len));
    *p += sizeof(s.len);
    if (s.len) {
        memcpy(*p, s.ptr, s.len);
        *p += s.len;
    }
}

static InfoCopy
copy_info(const StanzaInfo *info)
{
    const Str strs[] = {info->name, info->ns, info->type, info->id,
                        info->from, info->to, info->lang, info->lead,
                        info->child_name, info->child_ns};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        n += 1 + sizeof(size_t) + strs[i].len;
    }
    InfoCopy c = {malloc(n), n, {info->other_attrs, info->children,
                                 info->text, info->child_children}};
    fuzz_check(c.bytes != NULL, "malloc");
    char *p = c.bytes;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        append_str(&p, strs[i]);
    }
    return c;
}

static void
check_direct(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    const char *root = NULL;
    size_t root_len = 0;
    const char *span = (const char *)data;
    size_t span_len = size;
    if (nul != NULL) {
        root = (const char *)data;
        root_len = (size_t)(nul - data);
        span = (const char *)nul + 1;
        span_len = size - root_len - 1;
    }
    if (stanza_parser_begin(h.parser, root, root_len) < 0) {
        return;
    }
    StanzaInfo info;
    if (stanza_parse(h.parser, span, span_len, &info) < 0) {
        return;
    }
    fuzz_check(info.name.ptr != NULL && info.name.len > 0
               && (info.child_name.ptr != NULL) == (info.children > 0)
               && (info.child_name.ptr != NULL || !info.child_children)
               && (info.child_ns.ptr == NULL || info.child_name.ptr != NULL),
               "a parsed stanza's info");
    InfoCopy first = copy_info(&info);
    fuzz_check(stanza_parse(h.parser, span, span_len, &info) == 0,
               "the same stanza parsing twice");
    InfoCopy second = copy_info(&info);
    fuzz_check(first.len == second.len
               && memcmp(first.bytes, second.bytes, first.len) == 0
               && memcmp(first.flags, second.flags, sizeof(first.flags)) == 0,
               "the same stanza giving the same info twice");
    free(first.bytes);
    free(second.bytes);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)data,
                                                (Py_ssize_t)size);
    fuzz_check(bytes != NULL, "bytes");
    PyObject *fields = parse(bytes);
    check_reply(bytes, fields);
    Py_XDECREF(fields);
    Py_DECREF(bytes);
    check_known_ping();
    check_direct(data, size);
    return 0;
}
