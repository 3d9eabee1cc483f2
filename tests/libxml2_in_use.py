"""Which libxml2 the C core runs with: the library mapped into this process
once slixmpp_ping_c._core is loaded, and the version that library reports.

`python tests/libxml2_in_use.py` prints both; test_libxml2.py checks them
against the libxml2 pkg-config names, the one the build used.
"""

from __future__ import annotations

import ctypes
import os
import subprocess


def mapped_libxml2() -> list[str]:
    """The libxml2 files mapped into this process, resolved."""
    import slixmpp_ping_c._core  # noqa: F401  (loads libxml2)
    paths = set()
    with open('/proc/self/maps') as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and os.path.basename(
                    fields[5].strip()).startswith('libxml2.so'):
                paths.add(os.path.realpath(fields[5].strip()))
    return sorted(paths)


def runtime_version(path: str) -> str:
    """The version a loaded libxml2 says it is: its xmlParserVersion
    ("21504" for 2.15.4)."""
    number = int(ctypes.c_char_p.in_dll(ctypes.CDLL(path),
                                        'xmlParserVersion').value or b'0')
    return f'{number // 10000}.{number // 100 % 100}.{number % 100}'


def pkg_config(*args: str) -> str:
    return subprocess.run(['pkg-config', *args, 'libxml-2.0'], check=True,
                          capture_output=True, text=True).stdout.strip()


if __name__ == '__main__':
    for path in mapped_libxml2():
        print(f'slixmpp_ping_c._core runs with libxml2 {runtime_version(path)}'
              f' from {path}')
