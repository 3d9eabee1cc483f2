"""Build the C core, slixmpp_ping_c._core, against libxml2 found by pkg-config."""

import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup

MISSING_LIBXML2 = (
    "error: building slixmpp-ping-c needs libxml2's headers, found through "
    "pkg-config, so install both first (Debian/Ubuntu: "
    "apt-get install libxml2-dev pkg-config)."
)


def pkg_config(*args: str) -> list[str]:
    """Flags for libxml-2.0, or stop the build with one clear sentence."""
    if shutil.which("pkg-config") is None:
        sys.exit(MISSING_LIBXML2)
    try:
        out = subprocess.run(
            ["pkg-config", *args, "libxml-2.0"],
            check=True, capture_output=True, text=True,
        ).stdout
    except subprocess.CalledProcessError:
        sys.exit(MISSING_LIBXML2)
    return out.split()


def libxml2_extension() -> Extension:
    cflags = pkg_config("--cflags")
    include_dirs = [f[2:] for f in cflags if f.startswith("-I")]
    libs = pkg_config("--libs")
    extra_compile_args = ["-std=c11", "-Wall", "-Wextra"]
    extra_compile_args += [f for f in cflags if not f.startswith("-I")]
    # CI builds with -Werror; a user's build must not fail on a new compiler's
    # new warning.
    if os.environ.get("SLIXMPP_PING_C_WERROR") == "1":
        extra_compile_args.append("-Werror")
    extra_compile_args += os.environ.get("SLIXMPP_PING_C_CFLAGS", "").split()
    return Extension(
        "slixmpp_ping_c._core",
        sources=sorted(glob.glob("csrc/*.c")),
        depends=sorted(glob.glob("csrc/*.h")),
        include_dirs=["csrc", *include_dirs],
        library_dirs=[f[2:] for f in libs if f.startswith("-L")],
        libraries=[f[2:] for f in libs if f.startswith("-l")],
        extra_compile_args=extra_compile_args,
        extra_link_args=os.environ.get("SLIXMPP_PING_C_LDFLAGS", "").split(),
    )


setup(ext_modules=[libxml2_extension()])
