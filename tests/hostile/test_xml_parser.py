"""One hardened XML parser for files, REST answers and SOAP: hostile documents are refused, by
what was parsed (any encoding, any place before the root), and nothing in them is ever fetched.

The local-file case points the DTD at a FIFO: a parser that opened it would block, so the test's
timeout would catch a parser that even tried. The network case points it at a listening socket
that counts connections.
"""

from __future__ import annotations

import io
import os
import socket
import threading

import httpx
import pytest

from plugins.codecs import safexml
from plugins.codecs.base import FileFormatError
from plugins.codecs.xmlcodec import read_xml
from plugins.formats import XmlFormat
from plugins.rest import bodies
from plugins.soap import xmlsafe
from runtime.errors import RecordError, TransientError

ENTITY_BOMB = (
    '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><l>&d;</l>'
)


def hostile(target: str) -> dict[str, bytes]:
    """Documents that declare a DTD in the ways a string search misses or a parser would follow."""
    return {
        "internal entity": b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
        "entity bomb": ENTITY_BOMB.encode(),
        "external entity": f'<!DOCTYPE a [<!ENTITY x SYSTEM "{target}">]><a>&x;</a>'.encode(),
        "parameter entity": f'<!DOCTYPE a [<!ENTITY % p SYSTEM "{target}"> %p;]><a/>'.encode(),
        "external DTD": f'<!DOCTYPE a SYSTEM "{target}"><a/>'.encode(),
        "UTF-16": f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a SYSTEM "{target}"><a/>'.encode("utf-16"),
        "after a long comment": b"<!--" + b"x" * 10_000 + f'--><!DOCTYPE a SYSTEM "{target}"><a/>'.encode(),
        "UTF-16BE after a long comment": ("\ufeff" + f'<?xml version="1.0" encoding="UTF-16"?><!--{"x" * 5000}--><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>').encode("utf-16-be"),
    }


CASES = list(hostile("file:///nowhere"))


@pytest.fixture()
def fifo(tmp_path):
    path = tmp_path / "trap.dtd"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("case", CASES)
def test_every_declaration_is_refused_and_the_local_file_never_opened(case, fifo):
    document = hostile(fifo.as_uri())[case]
    result: list[BaseException] = []

    def parse() -> None:
        try:
            safexml.parse(document)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            result.append(exc)

    worker = threading.Thread(target=parse, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # blocked opening the FIFO: unblock it, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail(f"{case}: the parser opened the file the DTD points at")
    assert len(result) == 1 and isinstance(result[0], safexml.UnsafeXML), result
    assert result[0].code == "xml-dtd"
    assert "refused" in str(result[0]) and "DTD" in str(result[0])


class CountingListener:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/evil.dtd"
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()


def test_nothing_is_fetched_over_the_network():
    listener = CountingListener()
    try:
        for document in hostile(listener.url).values():
            with pytest.raises(safexml.UnsafeXML):
                safexml.parse(document)
    finally:
        listener.stop = True
        listener.thread.join()
        listener.sock.close()
    assert listener.connections == 0


def test_depth_and_size_are_capped():
    deep = b"<a>" * 100_000 + b"</a>" * 100_000
    with pytest.raises(safexml.MalformedXML) as caught:
        safexml.parse(deep)
    assert caught.value.code == "too-deep" and "deeper than 100 levels" in str(caught.value)
    assert safexml.parse(b"<a>" * 100 + b"</a>" * 100).tag == "a"  # exactly at the cap is fine
    with pytest.raises(safexml.MalformedXML) as caught:
        safexml.parse(b"<a>" + b"x" * 2000 + b"</a>", max_bytes=1000)
    assert caught.value.code == "too-large"


def test_plain_documents_in_any_encoding_are_read():
    text = '<?xml version="1.0" encoding="{}"?><naam>Jos\u00e9 <!-- a comment --></naam>'
    for encoding in ("UTF-8", "UTF-16", "ISO-8859-1"):
        assert safexml.parse(text.format(encoding).encode(encoding)).text.strip() == "Jos\u00e9"


# -- every reader uses it ---------------------------------------------------------------------


@pytest.mark.parametrize("case", ["UTF-16", "after a long comment", "entity bomb"])
def test_file_codec_refuses_as_a_file_format_error(case):
    document = hostile("file:///nowhere")[case]
    with pytest.raises(FileFormatError) as caught:
        list(read_xml(XmlFormat(type="xml", record="a"), io.BytesIO(document), None))
    assert caught.value.code == "xml-dtd" and "DTD" in str(caught.value)
    assert isinstance(caught.value, RecordError)  # one file's problem: a dead letter, not a stop


def _answer(content: bytes) -> httpx.Response:
    return httpx.Response(200, content=content, headers={"content-type": "application/xml"})


@pytest.mark.parametrize("case", ["internal entity", "parameter entity", "UTF-16"])
def test_rest_decoder_refuses_a_dtd_as_a_record_error(case):
    with pytest.raises(RecordError) as caught:
        bodies.decode(_answer(hostile("file:///nowhere")[case]), "GET /students")
    assert caught.value.code == "xml-dtd"
    assert str(caught.value).startswith("GET /students: XML answer refused (document declares a DTD")


def test_rest_decoder_refuses_deep_xml_instead_of_recursing():
    with pytest.raises(RecordError) as caught:
        bodies.decode(_answer(b"<a>" * 100_000 + b"</a>" * 100_000), "GET /students")
    assert caught.value.code == "too-deep"


def test_rest_decoder_reads_plain_xml_and_a_truncated_answer_is_transient():
    body = b"<students><student id='1'><naam>A</naam></student><!-- x --><student id='2'/></students>"
    assert bodies.decode(_answer(body), "GET /s") == {
        "students": {"student": [{"@id": "1", "naam": "A"}, {"@id": "2"}]}
    }
    with pytest.raises(TransientError) as caught:
        bodies.decode(_answer(b"<students><student>"), "GET /s")
    assert caught.value.code == "malformed"


def test_soap_uses_the_same_parser():
    assert xmlsafe.parse is safexml.parse and xmlsafe.UnsafeXML is safexml.UnsafeXML
    with pytest.raises(xmlsafe.UnsafeXML):
        xmlsafe.parse(hostile("file:///nowhere")["UTF-16"])
