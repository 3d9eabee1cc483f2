/*
 * libFuzzer harness for the serializers as a round trip: build_ping() and
 * build_result() of the module (csrc/module.c, csrc/serialize.c), parsed
 * back with parse_stanza(), give back the very strings they were given, for
 * any strings; serialize_result()'s text comes back as the stanza's lead;
 * and xml_chars_are_valid() agrees with Python's UTF-8 decoder and XML's
 * Char production.
 *
 * Input: up to five fields separated by 0xFF bytes (never part of UTF-8):
 * id, to, from, lang and text.  A field missing is None; the bytes of each
 * are decoded with surrogateescape, so any str, lone surrogates included,
 * can be made.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "serialize.h"
#include "stanza.h"

enum { F_ID, F_TO, F_FROM, F_LANG, F_TEXT, N_FIELDS };

typedef struct {
    PyObject *build_ping;
    PyObject *build_result;
    PyObject *parse_stanza;
    StanzaParser *parser;
    Buf out;
} Harness;

static Harness h;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    PyObject *module = fuzz_core_module();
    h.build_ping = fuzz_function(module, "build_ping");
    h.build_result = fuzz_function(module, "build_result");
    h.parse_stanza = fuzz_function(module, "parse_stanza");
    Py_DECREF(module);
    h.parser = stanza_parser_new();
    fuzz_check(h.parser && stanza_parser_begin(h.parser, NULL, 0) == 0,
               "a stanza parser");
    buf_init(&h.out);
    return 0;
}

/* XML 1.0's Char production, written out again independently of
   serialize.c's. */
static int
xml_char(Py_UCS4 c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF)
           || (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

/* 1 if None or a str whose every character XML can carry. */
static int
carriable(PyObject *s)
{
    if (s == Py_None) {
        return 1;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!xml_char(PyUnicode_READ_CHAR(s, i))) {
            return 0;
        }
    }
    return 1;
}

static void
check_field(PyObject *fields, const char *name, PyObject *expected)
{
    PyObject *got = fuzz_dict_item(fields, name);
    fuzz_check(got != NULL, name);
    int eq = PyObject_RichCompareBool(got, expected, Py_EQ);
    if (eq != 1) {
        PyObject_Print(got, stderr, 0);
        fprintf(stderr, " != ");
        PyObject_Print(expected, stderr, 0);
        fprintf(stderr, "\n");
    }
    fuzz_check(eq == 1, name);
}

/* build(id, to, from[, lang]) parses back to the fields it was given, or
   refuses with ValueError exactly when one of them holds a character XML
   cannot carry.  lang NULL: build_ping(), which takes none. */
static void
check_build(PyObject *build, const char *type, PyObject *id, PyObject *to,
            PyObject *from, PyObject *lang)
{
    PyObject *args = lang ? PyTuple_Pack(4, id, to, from, lang)
                          : PyTuple_Pack(3, id, to, from);
    fuzz_check(args != NULL, "a tuple");
    int ok = carriable(id) && carriable(to) && carriable(from)
             && (lang == NULL || carriable(lang));
    PyObject *data = PyObject_CallObject(build, args);
    Py_DECREF(args);
    if (!ok) {
        fuzz_check(data == NULL && PyErr_ExceptionMatches(PyExc_ValueError),
                   "refusing a character XML cannot carry");
        PyErr_Clear();
        return;
    }
    fuzz_check(data != NULL && PyBytes_Check(data), "building a stanza");
    PyObject *fields = PyObject_CallOneArg(h.parse_stanza, data);
    Py_DECREF(data);
    fuzz_check(fields != NULL, "parsing what was built");
    check_field(fields, "id", id);
    check_field(fields, "to", to);
    check_field(fields, "from", from);
    check_field(fields, "lang", lang ? lang : Py_None);
    check_field(fields, "is_ping", lang ? Py_False : Py_True);
    fuzz_check(PyUnicode_CompareWithASCIIString(
                   fuzz_dict_item(fields, "type"), type) == 0,
               "the stanza's type");
    Py_DECREF(fields);
}

static void
check_builds(PyObject *const *f)
{
    /* build_ping()'s to is required: a missing one is the empty string */
    PyObject *to = f[F_TO] == Py_None ? PyUnicode_FromString("")
                                      : Py_NewRef(f[F_TO]);
    fuzz_check(to != NULL, "str");
    check_build(h.build_ping, "get", f[F_ID], to, f[F_FROM], NULL);
    Py_DECREF(to);
    check_build(h.build_result, "result", f[F_ID], f[F_TO], f[F_FROM],
                f[F_LANG]);
}

/* xml_chars_are_valid() says yes exactly to UTF-8 of XML characters. */
static int
check_validator(const char *p, size_t n)
{
    PyObject *s = PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "strict");
    int valid = s != NULL && carriable(s);
    if (s == NULL) {
        PyErr_Clear();
    }
    Py_XDECREF(s);
    Str str = {p, n};
    fuzz_check(xml_chars_are_valid(str) == valid,
               "xml_chars_are_valid agreeing with the UTF-8 decoder");
    return valid;
}

/* serialize_result()'s text (the lead it copies from a ping) comes back
   byte for byte. */
static void
check_text(const char *p, size_t n)
{
    if (!check_validator(p, n)) {
        return;
    }
    Str id = {"t", 1}, none = {NULL, 0}, text = {p, n};
    h.out.len = 0;
    fuzz_check(serialize_result(&h.out, id, none, none, none, text) == 0,
               "serialize_result");
    StanzaInfo info;
    fuzz_check(stanza_parse(h.parser, h.out.data, h.out.len, &info) == 0,
               "parsing a result with text");
    fuzz_check(info.lead.len == n
               && (n == 0 || memcmp(info.lead.ptr, p, n) == 0)
               && info.children == 0,
               "a result's text coming back as its lead");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    PyObject *f[N_FIELDS];     /* new references */
    const char *spans[N_FIELDS] = {0};
    size_t lens[N_FIELDS] = {0};
    const uint8_t *p = data, *end = data + size;
    for (int i = 0; i < N_FIELDS; i++) {
        if (p == NULL) {
            f[i] = Py_NewRef(Py_None);
            continue;
        }
        const uint8_t *sep = memchr(p, 0xFF, (size_t)(end - p));
        const uint8_t *stop = sep ? sep : end;
        spans[i] = (const char *)p;
        lens[i] = (size_t)(stop - p);
        f[i] = PyUnicode_DecodeUTF8(spans[i], (Py_ssize_t)lens[i],
                                    "surrogateescape");
        fuzz_check(f[i] != NULL, "decoding a field");
        p = sep ? sep + 1 : NULL;
    }
    if (f[F_ID] != Py_None) {
        check_builds(f);
    }
    if (spans[F_TEXT] != NULL) {
        check_text(spans[F_TEXT], lens[F_TEXT]);
    }
    else if (spans[F_ID] != NULL) {
        check_validator(spans[F_ID], lens[F_ID]);
    }
    for (int i = 0; i < N_FIELDS; i++) {
        Py_DECREF(f[i]);
    }
    return 0;
}
