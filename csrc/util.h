/*
 * Small helpers every Python-facing file uses: str arguments as UTF-8, the
 * clock, and optional strings back to Python.  Depends on no other unit of
 * ours but the plain-C ones.
 */
#ifndef SLIXMPP_PING_C_UTIL_H
#define SLIXMPP_PING_C_UTIL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "buf.h"

/* The UTF-8 of a str as a Str, raising ValueError when it holds characters
   XML cannot carry; NULL object gives an absent Str.  -1 on error. */
int core_utf8_arg(PyObject *obj, const char *what, Str *out);
/* Monotonic seconds. */
double core_monotonic(void);
/* A new str of s, or None when s is absent; NULL on error. */
PyObject *core_str_or_none(Str s);

#endif
