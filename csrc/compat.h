/*
 * The C API of newer Pythons on older ones, so that the module uses no name
 * 3.12 or 3.13 deprecated and still builds on 3.11: the names below are
 * 3.12's and 3.13's own, defined here only where Python.h lacks them.
 */
#ifndef SLIXMPP_PING_C_COMPAT_H
#define SLIXMPP_PING_C_COMPAT_H

#include <Python.h>
#include <stddef.h>             /* offsetof, for PyMemberDef tables */

#if PY_VERSION_HEX < 0x030C0000
/* 3.12 moved structmember.h's names into Python.h with a Py_ prefix and
   deprecated the header. */
#include "structmember.h"
#define Py_T_BOOL T_BOOL
#define Py_T_DOUBLE T_DOUBLE
#define Py_T_OBJECT_EX T_OBJECT_EX
#define Py_T_PYSSIZET T_PYSSIZET
#define Py_T_ULONGLONG T_ULONGLONG
#define Py_READONLY READONLY

/* 3.12: the exception raised, as one object (a new reference), and the
   error indicator cleared; NULL if none.  Replaces PyErr_Fetch(). */
static inline PyObject *
PyErr_GetRaisedException(void)
{
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    if (type == NULL) {
        return NULL;
    }
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != NULL) {
        PyException_SetTraceback(value, traceback);
    }
    Py_DECREF(type);
    Py_XDECREF(traceback);
    return value;
}

/* 3.12: raises exc (stealing the reference); NULL clears the error
   indicator.  Replaces PyErr_Restore(). */
static inline void
PyErr_SetRaisedException(PyObject *exc)
{
    if (exc == NULL) {
        PyErr_Clear();
        return;
    }
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc,
                  PyException_GetTraceback(exc));
}
#endif

#if PY_VERSION_HEX < 0x030D0000
/* 3.13: hasattr() as Python has it: 1, 0, or -1 with the error of a
   lookup that failed other than with AttributeError.  (PyObject_HasAttr()
   hides that error; 3.13's hands it to sys.unraisablehook.) */
static inline int
PyObject_HasAttrWithError(PyObject *obj, PyObject *name)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value != NULL) {
        Py_DECREF(value);
        return 1;
    }
    if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

/* 3.13: a dict lookup giving a new reference (1 found, 0 not, -1 error,
   *result NULL unless found), where PyDict_GetItemWithError() gave a
   borrowed one. */
static inline int
PyDict_GetItemRef(PyObject *dict, PyObject *key, PyObject **result)
{
    PyObject *item = PyDict_GetItemWithError(dict, key);
    if (item != NULL) {
        *result = Py_NewRef(item);
        return 1;
    }
    *result = NULL;
    return PyErr_Occurred() ? -1 : 0;
}

/* 3.13: PyDict_GetItemRef() with a UTF-8 key. */
static inline int
PyDict_GetItemStringRef(PyObject *dict, const char *key, PyObject **result)
{
    PyObject *key_obj = PyUnicode_FromString(key);
    if (key_obj == NULL) {
        *result = NULL;
        return -1;
    }
    int rc = PyDict_GetItemRef(dict, key_obj, result);
    Py_DECREF(key_obj);
    return rc;
}
#endif

#endif
