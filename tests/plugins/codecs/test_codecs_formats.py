"""The shared file formats: what a partner's file looks like and what Koppel makes of it."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import Workbook

from plugins.codecs import FileFormatError, read_records, writer_for
from plugins.formats import CsvFormat, JsonFormat, JsonLinesFormat, XlsxFormat, XmlFormat
from runtime.errors import ConfigError, RecordError


def read(fmt, data: bytes, **kw):
    return list(read_records(fmt, io.BytesIO(data), **kw))


def test_csv_cp1252_semicolon_with_header_and_empty_cells():
    data = "naam;plaats;code\r\nJoël;'s-Hertogenbosch;\r\nRenée;Oss;25180\r\n".encode("cp1252")
    fmt = CsvFormat(type="csv", encoding="cp1252")
    assert read(fmt, data) == [
        {"naam": "Joël", "plaats": "'s-Hertogenbosch", "code": None},
        {"naam": "Renée", "plaats": "Oss", "code": "25180"},
    ]


def test_csv_without_header_uses_declared_columns_and_other_delimiter():
    fmt = CsvFormat(type="csv", delimiter=",", header=False, columns=["a", "b"])
    assert read(fmt, b'1,"x, y"\n2,z\n') == [{"a": "1", "b": "x, y"}, {"a": "2", "b": "z"}]
    with pytest.raises(ConfigError):
        read(CsvFormat(type="csv", header=False), b"1;2\n")


def test_csv_with_utf8_bom_and_a_short_line():
    fmt = CsvFormat(type="csv", encoding="utf-8-sig")
    assert read(fmt, "\ufeffa;b\n1;2\n".encode()) == [{"a": "1", "b": "2"}]
    with pytest.raises(FileFormatError, match="line 3"):
        read(CsvFormat(type="csv"), b"a;b\n1;2\n3\n")


def test_csv_writer_round_trip_and_cp1252_refusal_is_per_record():
    fmt = CsvFormat(type="csv", encoding="cp1252")
    writer = writer_for(fmt)
    data = writer.document([{"naam": "Zoë", "actief": True, "n": None}, {"naam": "Bo", "actief": False, "n": 3}])
    assert data.decode("cp1252") == "naam;actief;n\r\nZoë;true;\r\nBo;false;3\r\n"
    assert read(fmt, data)[0] == {"naam": "Zoë", "actief": "true", "n": None}
    writer = writer_for(fmt)
    with pytest.raises(RecordError):
        writer.record({"naam": "Łukasz"}, first=True)  # Ł is not in cp1252
    assert writer.record({"naam": "Lukas"}, first=True).startswith(b"naam\r\n"), "header still written once"


def test_json_records_path_and_writer_wrapping():
    fmt = JsonFormat(type="json", records="items")
    assert read(fmt, b'{"items": [{"a": 1}, {"a": 2}], "total": 2}') == [{"a": 1}, {"a": 2}]
    out = writer_for(fmt).document([{"a": 1}, {"a": 2}])
    assert json.loads(out) == {"items": [{"a": 1}, {"a": 2}]}
    single = writer_for(JsonFormat(type="json"), single=True).document([{"a": 1}])
    assert json.loads(single) == {"a": 1}
    with pytest.raises(FileFormatError):
        read(JsonFormat(type="json"), b"{not json")


def test_json_lines_streams_line_by_line():
    fmt = JsonLinesFormat(type="jsonl")
    stream = io.BytesIO(b'{"a": 1}\n\n{"a": 2}\n')
    records = read_records(fmt, stream)
    assert next(records) == {"a": 1}
    assert list(records) == [{"a": 2}]
    assert read(fmt, writer_for(fmt).document([{"a": "é"}])) == [{"a": "é"}]


XML = b"""<?xml version="1.0"?>
<feed xmlns="urn:x"><student id="1"><naam>An</naam><vak>NL</vak><vak>EN</vak></student>
<student id="2"><naam>Bo</naam></student></feed>"""


def test_xml_records_by_element_name():
    fmt = XmlFormat(type="xml", record="student")
    assert read(fmt, XML) == [
        {"@id": "1", "naam": "An", "vak": ["NL", "EN"]},
        {"@id": "2", "naam": "Bo"},
    ]


def test_xml_is_hardened_against_entities_and_size():
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r><student>&a;</student></r>'
    with pytest.raises(FileFormatError, match="DOCTYPE"):
        read(XmlFormat(type="xml", record="student"), bomb)
    with pytest.raises(FileFormatError, match="max_bytes"):
        read(XmlFormat(type="xml", record="student", max_bytes=50), XML)


def test_xml_checked_against_xsd(tmp_path):
    xsd = tmp_path / "s.xsd"
    xsd.write_text("""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
      <xs:element name="list"><xs:complexType><xs:sequence>
        <xs:element name="item" maxOccurs="unbounded"><xs:complexType><xs:sequence>
          <xs:element name="n" type="xs:integer"/></xs:sequence></xs:complexType></xs:element>
      </xs:sequence></xs:complexType></xs:element></xs:schema>""")
    fmt = XmlFormat(type="xml", record="item", root="list", xsd=str(xsd))
    assert read(fmt, b"<list><item><n>1</n></item></list>") == [{"n": "1"}]
    with pytest.raises(FileFormatError, match="XSD"):
        read(fmt, b"<list><item><n>x</n></item></list>")
    writer = writer_for(fmt)
    assert read(fmt, writer.document([{"n": 1}, {"n": 2}])) == [{"n": "1"}, {"n": "2"}]
    with pytest.raises(RecordError, match="XSD"):
        writer.record({"n": "not a number"}, first=True)


def test_qti_result_files_validate_against_the_public_xsd(project_root):
    from runtime.paths import specs_dir

    xsd = specs_dir(project_root) / "qti-results" / "imsqti_result_v2p2.xsd"
    if not xsd.exists():
        pytest.skip(f"public contracts not found at {xsd.parent} (KOPPEL_SPECS_DIR)")
    ns = "http://www.imsglobal.org/xsd/imsqti_result_v2p2"
    doc = f"""<assessmentResult xmlns="{ns}"><context sourcedId="S001"/>
      <testResult identifier="T1" datestamp="2026-06-01T10:00:00"/></assessmentResult>""".encode()
    fmt = XmlFormat(type="xml", record="assessmentResult", xsd="${specs}/qti-results/imsqti_result_v2p2.xsd")
    records = read(fmt, doc, project_root=project_root)
    assert records[0]["context"] == {"@sourcedId": "S001"}


def test_xlsx_read_only_with_header_row(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.title = "Kwalificaties"
    sheet.append(["SBB lijst"])  # a title line above the header
    sheet.append(["crebo", "naam", "ingangsdatum"])
    sheet.append([25180, "Verzorgende IG", __import__("datetime").datetime(2024, 8, 1)])
    sheet.append([None, None, None])
    path = tmp_path / "k.xlsx"
    book.save(path)
    fmt = XlsxFormat(type="xlsx", sheet="Kwalificaties", header_row=2)
    with open(path, "rb") as f:
        assert list(read_records(fmt, f)) == [{"crebo": 25180, "naam": "Verzorgende IG", "ingangsdatum": "2024-08-01"}]
    with pytest.raises(FileFormatError, match="sheet"):
        read(XlsxFormat(type="xlsx", sheet="Nope"), path.read_bytes())
    with pytest.raises(ConfigError):
        writer_for(fmt)


def test_an_absent_public_xsd_means_unchecked_xml_but_a_missing_own_xsd_is_an_error(tmp_path, monkeypatch):
    from plugins.codecs.xmlcodec import load_xsd
    from runtime.errors import ConfigError

    monkeypatch.setenv("KOPPEL_SPECS_DIR", str(tmp_path / "no-specs-here"))
    assert load_xsd("${specs}/qti-results/imsqti_result_v2p2.xsd", tmp_path) is None
    with pytest.raises(ConfigError, match="XSD not found"):
        load_xsd("contracts/missing.xsd", tmp_path)
