"""What could differ from one libxml2 version to the next: how '&' reaches
the SAX callbacks, which errors the handler hears, what the push parser
holds back, DOCTYPE refusal and entity non-substitution.  `make test` runs
these on Debian 12's libxml2 2.9.14, `make test-libxml2-newest` on the
newest; expat, which slixmpp parses with, is the independent answer.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest
from slixmpp.plugins.xep_0199.ping import XEP_0199 as SlixmppXEP_0199

from tests.libxml2_in_use import mapped_libxml2, pkg_config, runtime_version
from tests.memstream import SERVER
from slixmpp_ping_c import XEP_0199, _core
from slixmpp_ping_c._core import parse_stanza
from tests.test_core import HEADER, make_tap, ping, result
from tests.test_hostile import assert_no_later, through


@pytest.mark.slow  # pkg-config, a program
def test_the_core_runs_with_the_libxml2_pkg_config_names() -> None:
    """The build's libxml2 is the one loaded: for `make
    test-libxml2-newest`, the one built under build/, not the system's."""
    (path,) = mapped_libxml2()
    libdir = os.path.realpath(pkg_config('--variable=libdir'))
    assert os.path.dirname(path) == libdir
    assert runtime_version(path) == pkg_config('--modversion')


# ---- '&' ----------------------------------------------------------------

# Each way of writing an attribute value with '&' in it, and what it is.
AMPERSANDS = {
    'a&amp;b': 'a&b',
    'a&#38;b': 'a&b',
    'a&#x26;b': 'a&b',
    '&amp;&amp;': '&&',
    '&amp;#38;': '&#38;',       # the text libxml2 itself stands '&' in for
    '&#38;#38;': '&#38;',
    '&amp;amp;': '&amp;',
    '&amp;#x26;': '&#x26;',
    '&lt;&amp;&gt;&quot;&apos;': '<&>"\'',
    '&#38;&#60;&#x3E;': '&<>',
    '&amp;\u00e9&#233;': '&\u00e9\u00e9',
}


@pytest.mark.parametrize('written', list(AMPERSANDS))
def test_ampersands_in_every_kept_attribute(written: str) -> None:
    data = (f"<iq type='{written}' id='{written}' from='{written}' "
            f"to='{written}' xml:lang='{written}'/>").encode()
    fields = parse_stanza(data)
    element = ET.fromstring(data)
    value = AMPERSANDS[written]
    assert element.get('id') == value
    assert [fields[k] for k in ('type', 'id', 'from', 'to', 'lang')] == [value] * 5


@pytest.mark.parametrize('written', list(AMPERSANDS))
async def test_ampersands_in_a_ping_through_the_tap(written: str) -> None:
    """The id, and the text before the ping that slixmpp's reply keeps, as
    slixmpp's own plugin has them."""
    data = (f"<iq type='get' id='{written}' from='{SERVER}'>{written}"
            f"<ping xmlns='urn:xmpp:ping'/></iq>").encode()
    ours = await through(XEP_0199, data)
    assert_no_later(ours, await through(SlixmppXEP_0199, data))
    assert ours.raised is None and ours.in_the_end


# ---- errors ---------------------------------------------------------------

# Not namespace-well-formed: libxml2 reports most of these as errors, not
# fatal ones, so the parse goes on and only the error handler hears them.
NOT_WELL_FORMED = {
    'undeclared element prefix': b'<p:iq/>',
    'undeclared attribute prefix': b"<iq p:id='1'/>",
    'prefix bound to nothing': b"<iq xmlns:p=''/>",
    'attribute twice by namespace': (b"<iq xmlns:p='urn:a' xmlns:q='urn:a' "
                                     b"p:a='1' q:a='2'/>"),
    'xml prefix rebound': b"<iq xmlns:xml='urn:other'/>",
    'xmlns prefix declared': b"<iq xmlns:xmlns='urn:a'/>",
    'default namespace the xml one': (b"<iq xmlns='http://www.w3.org/XML/"
                                      b"1998/namespace'/>"),
    'undeclared entity in an attribute': b"<iq id='&unknown;'/>",
    'undeclared entity in text': b'<iq>&unknown;</iq>',
    'bare ampersand': b"<iq id='a&b'/>",
    'character reference to NUL': b"<iq id='&#0;'/>",
    'less-than in an attribute': b"<iq id='<'/>",
    'duplicate attribute': b"<iq id='1' id='1'/>",
}


@pytest.mark.parametrize('name', list(NOT_WELL_FORMED))
def test_refused_as_expat_refuses(name: str) -> None:
    data = NOT_WELL_FORMED[name]
    with pytest.raises(ET.ParseError):
        ET.fromstring(data)
    with pytest.raises(ValueError):
        parse_stanza(data)
    with pytest.raises(ValueError):
        _core.reply_to_ping(data)
    assert parse_stanza(b"<iq id='ok'/>")['id'] == 'ok'


@pytest.mark.parametrize('name', ['undeclared attribute prefix',
                                  'attribute twice by namespace',
                                  'xml prefix rebound'])
async def test_not_namespace_well_formed_through_the_tap(name: str) -> None:
    data = NOT_WELL_FORMED[name].replace(
        b'<iq', b"<iq type='get' from='example.com'", 1).replace(
        b'/>', b"><ping xmlns='urn:xmpp:ping'/></iq>", 1)
    assert await through(XEP_0199, data) == await through(SlixmppXEP_0199, data)


# ---- what the push parser holds back ------------------------------------

@pytest.mark.parametrize('data', [
    b"<iq id='1'/><?parsed?>",
    b"<iq id='1'/><?parsed?><!-- unfinished",
    b"<iq id='1'/><?parsed ?><!-- unfinished",
    b"<iq id='1'/><?other?>",
    b"<?parsed?><iq id='1'/>",
    b"<iq id='1'/><![CDATA[",
    b"<iq id='1'/><!-- unfinished",
    b"<iq id='1'/><?parsed",
    b"<iq id='1'/><",
    b"<iq id='1'/>text",
], ids=['sentinel', 'sentinel-then-comment', 'sentinel-space',
        'other-pi', 'pi-before', 'cdata', 'comment', 'unfinished-pi',
        'lone-lt', 'text'])
def test_nothing_beside_the_element_is_left_unparsed(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_stanza(data)
    assert parse_stanza(b"<iq id='ok'/>")['id'] == 'ok'


@pytest.mark.parametrize('data', [
    b"<iq id='1'/>\r", b"<iq id='1'/>\r\n", b"\r\n<iq id='1'/>\r\n\t ",
    b"<iq id='1'/><!-- done -->", b"<iq id='1'><?parsed?></iq>",
    b"<iq id='1'><?other data?></iq>",
])
def test_what_may_stand_beside_the_element(data: bytes) -> None:
    assert parse_stanza(data)['id'] == '1'
    assert parse_stanza(b"<iq id='ok'/>")['id'] == 'ok'


def test_many_stanzas_larger_than_libxml2s_buffers() -> None:
    """Past the sizes where libxml2 shrinks and grows its input buffer, and
    past the parses after which the context is made anew."""
    for i in range(5000):
        id_ = str(i) * (1 + i % 700)
        assert parse_stanza(ping(id_))['id'] == id_


# ---- the stream header: DOCTYPE, entities, encoding ----------------------

DOCTYPE_HEADERS = [
    b"<?xml version='1.0'?><!DOCTYPE stream:stream>",
    b"<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY a 'b'>]>",
    b"<!DOCTYPE stream:stream SYSTEM 'file:///etc/passwd'>",
]


@pytest.mark.parametrize('doctype', DOCTYPE_HEADERS)
def test_a_doctype_in_the_stream_header_leaves_everything_to_slixmpp(
        doctype: bytes) -> None:
    tap, stream, _ = make_tap()
    header = doctype + HEADER[HEADER.index(b'<stream:stream'):]
    tap(header + ping('p1'))
    assert b''.join(stream.received) == header + ping('p1')
    assert stream.transport.written == []


def test_an_entity_the_header_declares_is_never_substituted() -> None:
    tap, stream, _ = make_tap()
    header = (b"<!DOCTYPE stream:stream [<!ENTITY id 'p1'>]>"
              + HEADER[HEADER.index(b'<stream:stream'):])
    data = header + ping('&id;')
    tap(data)
    assert b''.join(stream.received) == data
    assert stream.transport.written == []


@pytest.mark.parametrize('prolog', [
    b"<?xml version='1.0' encoding='UTF-8'?>",
    b"<?xml version='1.0' encoding='utf-8' standalone='yes'?>",
    b"<?xml version='1.0'?><?xml-stylesheet href='x'?><!-- c -->",
    b'',
])
def test_stream_prologs_the_tap_answers_after(prolog: bytes) -> None:
    tap, stream, _ = make_tap()
    tap(prolog + HEADER[HEADER.index(b'<stream:stream'):] + ping('p\u00e9'))
    assert stream.transport.written == [result('p\u00e9')]


def test_a_latin1_stream_is_read_as_latin1() -> None:
    """Bytes the header declares ISO-8859-1 are read as expat reads them,
    never taken for UTF-8; the answer is UTF-8, as slixmpp's."""
    tap, stream, _ = make_tap()
    header = HEADER.replace(b"version='1.0'?>",
                            b"version='1.0' encoding='ISO-8859-1'?>", 1)
    tap(header + ping('p\u00e9').replace(b'\xc3\xa9', b'\xe9'))
    assert stream.transport.written == [result('p\u00e9')]


def test_errors_reach_the_handler_alone(capfd: pytest.CaptureFixture[str]) -> None:
    """libxml2 prints nothing of what it finds: each error goes to the
    parser's own handler, whichever version sends it where."""
    for data in [*NOT_WELL_FORMED.values(), b'<iq>', b'<!DOCTYPE iq><iq/>']:
        with pytest.raises(ValueError):
            parse_stanza(data)
    assert capfd.readouterr() == ('', '')
