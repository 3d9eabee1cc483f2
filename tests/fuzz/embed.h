/*
 * What the C-level harnesses that need the C API share: an embedded
 * interpreter and the _core module built from the sources linked into the
 * harness (so the sanitizers and the coverage see all of it).
 */
#ifndef SLIXMPP_PING_C_FUZZ_EMBED_H
#define SLIXMPP_PING_C_FUZZ_EMBED_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "compat.h"

/* Starts Python (its allocator set to malloc, so that AddressSanitizer
   sees every object) and executes the module; aborts on failure.  The
   module is a new reference owned by the caller for the whole run. */
PyObject *fuzz_core_module(void);

/* The module's function of this name, a new reference (which keeps the
   module alive); aborts if there is none. */
PyObject *fuzz_function(PyObject *module, const char *name);

/* Aborts with Python's traceback when a call that may not fail did. */
void fuzz_check(int ok, const char *what);

/* dict[key], or NULL if absent; aborts on error.  Borrowed from dict,
   which the caller holds for as long as it uses the value. */
PyObject *fuzz_dict_item(PyObject *dict, const char *key);

#endif
