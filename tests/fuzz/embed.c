#include "embed.h"

#include <stdio.h>
#include <stdlib.h>

PyMODINIT_FUNC PyInit__core(void);

void
fuzz_check(int ok, const char *what)
{
    if (ok) {
        return;
    }
    fprintf(stderr, "fuzz harness: %s failed\n", what);
    if (PyErr_Occurred()) {
        PyErr_Print();
    }
    abort();
}

PyObject *
fuzz_core_module(void)
{
    PyPreConfig preconfig;
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.allocator = PYMEM_ALLOCATOR_MALLOC;
    PyStatus status = Py_PreInitialize(&preconfig);
    fuzz_check(!PyStatus_Exception(status), "Py_PreInitialize");
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;
    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    fuzz_check(!PyStatus_Exception(status), "Py_InitializeFromConfig");

    /* What the import system does with a multi-phase extension module. */
    PyModuleDef *def = (PyModuleDef *)PyInit__core();
    PyObject *machinery = PyImport_ImportModule("importlib.machinery");
    fuzz_check(machinery != NULL, "import importlib.machinery");
    PyObject *spec = PyObject_CallMethod(machinery, "ModuleSpec", "sO",
                                         "slixmpp_ping_c._core", Py_None);
    Py_DECREF(machinery);
    fuzz_check(spec != NULL, "ModuleSpec");
    PyObject *module = PyModule_FromDefAndSpec(def, spec);
    Py_DECREF(spec);
    fuzz_check(module != NULL && PyModule_ExecDef(module, def) == 0,
               "creating slixmpp_ping_c._core");
    return module;
}

PyObject *
fuzz_function(PyObject *module, const char *name)
{
    PyObject *f = PyObject_GetAttrString(module, name);
    fuzz_check(f != NULL, name);
    return f;
}

PyObject *
fuzz_dict_item(PyObject *dict, const char *key)
{
    PyObject *value;
    fuzz_check(PyDict_GetItemStringRef(dict, key, &value) >= 0, key);
    /* dict keeps it alive: a borrowed reference is enough here. */
    Py_XDECREF(value);
    return value;
}
