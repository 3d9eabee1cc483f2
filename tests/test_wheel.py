"""The binary wheel `make wheel` builds: installed into a fresh virtualenv
without being compiled (its dependencies from wheels or source, as pip finds
them), its extension loads the libxml2 bundled inside it and
answers a ping through a real slixmpp client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

# make wheel, a virtualenv, pip
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent

# Run inside the fresh virtualenv, from outside the source tree, so that
# slixmpp_ping_c can only come from the installed wheel.
CHECK = textwrap.dedent('''
    import asyncio, json, sys
    sys.path.insert(0, sys.argv[1])  # tests/, for memstream only
    import slixmpp_ping_c
    from slixmpp_ping_c import _core
    import memstream

    maps = open('/proc/self/maps').read().split('\\n')
    libxml2 = sorted({line.split()[-1] for line in maps if 'libxml2' in line})

    async def answer():
        async with memstream.client_stream(slixmpp_ping_c.XEP_0199) as s:
            s.feed(memstream.ping_xml('w1', frm='example.com'))
            await s.settle()
            return s.take_sent().decode(), s.ping_plugin._tap.counters()

    sent, counters = asyncio.run(answer())
    print(json.dumps({'core': _core.__file__, 'libxml2': libxml2,
                      'sent': sent, 'answered_in_c': counters[0]}))
''')


@pytest.fixture(scope='module')
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp('dist')
    # This interpreter and its virtualenv: the wheel is built for the
    # Python running the suite.
    venv_dir = Path(sys.prefix)
    python = Path(sys.executable).resolve()
    subprocess.run(['make', '-C', str(ROOT), 'wheel', f'DIST={dist}',
                    f'VENV={venv_dir}', f'PYTHON={python}'], check=True,
                   capture_output=True, timeout=600)
    (built,) = dist.glob('*manylinux*.whl')
    assert list(dist.glob('*.tar.gz')), 'no sdist'
    return built


def test_wheel_installs_without_building_and_uses_its_libxml2(
        wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / 'env'
    venv.create(env_dir, with_pip=True)
    python = env_dir / 'bin' / 'python'
    # Our package only from the wheel, never built; a dependency may come
    # as source where it has no wheel (slixmpp on CPython 3.15).
    subprocess.run([str(python), '-m', 'pip', 'install', '-q',
                    '--only-binary=slixmpp-ping-c', str(wheel)], check=True,
                   timeout=600)
    done = subprocess.run([str(python), '-c', CHECK, str(TESTS)],
                          cwd=tmp_path, capture_output=True, text=True, check=False,
                          timeout=120, env={**os.environ,
                                            'PYTHONPATH': ''})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    site = env_dir / 'lib'
    assert Path(report['core']).is_relative_to(site)
    # The extension loaded is the wheel's, byte for byte: nothing compiled.
    with zipfile.ZipFile(wheel) as archive:
        (member,) = [n for n in archive.namelist()
                     if n.startswith('slixmpp_ping_c/_core.') and n.endswith('.so')]
        assert Path(report['core']).read_bytes() == archive.read(member)
    (libxml2,) = report['libxml2']
    assert Path(libxml2).is_relative_to(site)
    assert Path(libxml2).parent.name == 'slixmpp_ping_c.libs'
    assert report['sent'] == '<iq type="result" id="w1" to="example.com" />'
    assert report['answered_in_c'] == 1
