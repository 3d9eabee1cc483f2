"""Leak checking for `make sanitize`, in Python processes only.

`make sanitize` preloads the ASan runtime into every process the suite
starts, Prosody, openssl and gcc included, with LeakSanitizer's check at exit
off (ASAN_OPTIONS leak_check_at_exit=0): those programs' own leaks are not
ours to judge. Python puts this directory on sys.path (PYTHONPATH) and
imports this module at startup, so every Python process of the run turns the
check back on for itself: LeakSanitizer's check is registered as a C atexit
handler, so it runs after the interpreter has finalized, exactly where ASan's
own check at exit would run.
"""

import ctypes

_process = ctypes.CDLL(None)
try:
    _leak_check = _process.__lsan_do_leak_check
except AttributeError:  # ASan is not loaded: nothing to do
    pass
else:
    # __cxa_atexit(func, arg, dso_handle): the exported form of atexit(3).
    # A NULL dso_handle ties the handler to the program, never unloaded.
    _process.__cxa_atexit.argtypes = [ctypes.c_void_p] * 3
    if _process.__cxa_atexit(ctypes.cast(_leak_check, ctypes.c_void_p),
                             None, None) != 0:
        raise RuntimeError('make sanitize: cannot register the leak check')
