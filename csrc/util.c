#include "util.h"

#include <time.h>

#include "serialize.h"

double
core_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int
core_utf8_arg(PyObject *obj, const char *what, Str *out)
{
    out->ptr = NULL;
    out->len = 0;
    if (obj == NULL || obj == Py_None) {
        return 0;
    }
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(obj, &len);
    if (s == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Format(PyExc_ValueError, "%s holds a lone surrogate, which "
                         "XML cannot carry", what);
        }
        return -1;
    }
    Str str = {s, (size_t)len};
    if (!xml_chars_are_valid(str)) {
        PyErr_Format(PyExc_ValueError,
                     "%s holds a character XML cannot carry", what);
        return -1;
    }
    *out = str;
    return 0;
}

PyObject *
core_str_or_none(Str s)
{
    if (s.ptr == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_DecodeUTF8(s.ptr, (Py_ssize_t)s.len, "strict");
}
