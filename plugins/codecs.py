"""Readers and writers for the shared file formats (``plugins.formats``): records ⇄ bytes.

Readers take a binary stream and yield records as dicts, one at a time, so a large file never has
to fit in memory as Python objects (JSON documents are the exception: a JSON document is parsed
whole, after a size check; use JSON Lines for large feeds).

Writers are split in three so that a file can be built batch by batch and published once:
``begin()`` (header line, ``[``, the XML root start tag), ``record(data)`` per record and ``end()``.
``record`` raises RecordError for a record that cannot be written (a character that cp1252 cannot
hold, a value XML cannot carry) so that only that record fails.

Decisions:
- CSV: empty cells are read as ``None`` (Dutch vendor files use ``;;`` for "no value"); values are
  written with ``str()``, ``None`` as empty, booleans as ``true``/``false``, lists and dicts as JSON.
- XML → dict: attributes become ``@name``, child elements their local name (a repeated child
  becomes a list), text-only elements a string, an element with attributes and text keeps the text
  under ``#text``. Namespaces are dropped from keys. dict → XML is the inverse.
- XML is parsed hardened: no DTD, no entity expansion, no network, and documents larger than
  ``max_bytes`` are refused. A document with a DOCTYPE is refused outright.
- XLSX is read with openpyxl in read-only mode; dates become ISO strings; empty rows are skipped.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from runtime.errors import ConfigError, RecordError

from plugins.formats import CsvFormat, JsonFormat, JsonLinesFormat, XlsxFormat, XmlFormat


class FileFormatError(RecordError):
    """The whole file cannot be read as its declared format (bad XML, fails the XSD, not UTF-8)."""


# --- reading --------------------------------------------------------------------------------


def read_records(fmt: Any, stream: IO[bytes], *, project_root: Path | None = None) -> Iterator[dict]:
    """The records in ``stream`` (binary), one dict at a time."""
    readers = {"csv": _read_csv, "json": _read_json, "jsonl": _read_jsonl, "xml": _read_xml, "xlsx": _read_xlsx}
    try:
        yield from readers[fmt.type](fmt, stream, project_root)
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"the file is not valid {getattr(fmt, 'encoding', 'text')} "
                              f"(byte offset {exc.start})", code="encoding") from None


def _read_csv(fmt: CsvFormat, stream: IO[bytes], _root) -> Iterator[dict]:
    text = io.TextIOWrapper(stream, encoding=_codec(fmt.encoding), newline="")
    if not fmt.header and not fmt.columns:
        raise ConfigError("format csv: a file without a header line needs 'columns'")
    reader = csv.reader(text, delimiter=fmt.delimiter, quotechar=fmt.quotechar)
    if fmt.header:
        header = next(reader, None)
        if header is None:
            return
        columns = [c.strip().lstrip("\ufeff") for c in header]
    else:
        columns = list(fmt.columns or [])
    width = len(columns)
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line (often the last one)
        if len(row) != width:
            raise FileFormatError(f"line {reader.line_num}: {len(row)} fields, the header has {width}",
                                  code="csv-width")
        yield {c: (v if v != "" else None) for c, v in zip(columns, row)}


def _read_json(fmt: JsonFormat, stream: IO[bytes], _root) -> Iterator[dict]:
    try:
        document = json.loads(stream.read().decode(_codec(fmt.encoding)))
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"not valid JSON: {exc.msg} at line {exc.lineno}", code="json") from None
    if fmt.records:
        import jmespath

        document = jmespath.search(fmt.records, document)
    if document is None:
        return
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise FileFormatError("the JSON records are not a list of objects", code="json-shape")
    for item in document:
        if not isinstance(item, dict):
            raise FileFormatError("a JSON record is not an object", code="json-shape")
        yield item


def _read_jsonl(fmt: JsonLinesFormat, stream: IO[bytes], _root) -> Iterator[dict]:
    text = io.TextIOWrapper(stream, encoding=_codec(fmt.encoding))
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FileFormatError(f"line {number}: not valid JSON ({exc.msg})", code="jsonl") from None
        if not isinstance(item, dict):
            raise FileFormatError(f"line {number}: not a JSON object", code="jsonl")
        yield item


def _read_xml(fmt: XmlFormat, stream: IO[bytes], project_root: Path | None) -> Iterator[dict]:
    from lxml import etree

    data = _read_limited(stream, fmt.max_bytes)
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise FileFormatError("XML with a DOCTYPE or entity declarations is refused", code="xml-dtd")
    try:
        root = etree.fromstring(data, parser=hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise FileFormatError(f"not well-formed XML: {exc.msg}", code="xml") from None
    if fmt.xsd:
        schema = load_xsd(fmt.xsd, project_root)
        if not schema.validate(root):
            first = schema.error_log.filter_from_errors()[0]
            raise FileFormatError(f"the document does not match the XSD: line {first.line}: {first.message}",
                                  code="xsd")
    name = fmt.record
    if ":" in name:  # prefix:local with the prefix declared in namespaces
        prefix, local = name.split(":", 1)
        name = f"{{{fmt.namespaces.get(prefix, '')}}}{local}"
        matches = (lambda el: el.tag == name)
    else:
        matches = (lambda el: etree.QName(el).localname == name)
    for element in root.iter(etree.Element):
        if matches(element):
            value = element_to_dict(element)
            yield value if isinstance(value, dict) else {"#text": value}


def _read_xlsx(fmt: XlsxFormat, stream: IO[bytes], _root) -> Iterator[dict]:
    from openpyxl import load_workbook

    buffer = stream if stream.seekable() else io.BytesIO(stream.read())
    try:
        book = load_workbook(buffer, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException alike
        raise FileFormatError(f"not a readable XLSX workbook ({type(exc).__name__})", code="xlsx") from None
    try:
        if fmt.sheet is not None and fmt.sheet not in book.sheetnames:
            raise FileFormatError(f"the workbook has no sheet '{fmt.sheet}'", code="xlsx-sheet")
        sheet = book[fmt.sheet] if fmt.sheet else book.worksheets[0]
        rows = sheet.iter_rows(min_row=fmt.header_row, values_only=True)
        header = next(rows, None)
        if header is None:
            return
        columns = [str(c).strip() if c is not None else f"column{i + 1}" for i, c in enumerate(header)]
        for row in rows:
            if row is None or all(v is None or v == "" for v in row):
                continue
            yield {c: _cell(v) for c, v in zip(columns, row)}
    finally:
        book.close()


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)  # Excel stores every number as a float; codes like crebo 25180 are ints
    return value


# --- XML helpers ----------------------------------------------------------------------------


def hardened_parser():
    """An lxml parser that loads no DTD, expands no entity and touches no network."""
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_blank_text=True)


_xsd_cache: dict[str, Any] = {}


def load_xsd(path: str, project_root: Path | None):
    """The XSD at ``path`` (``${specs}/...`` or relative to the project), compiled once."""
    from lxml import etree

    from runtime.paths import expand

    file = expand(path, project_root or Path.cwd())
    cache_key = str(file)
    if cache_key not in _xsd_cache:
        if not file.exists():
            raise ConfigError(f"XSD not found: {file}")
        try:
            _xsd_cache[cache_key] = etree.XMLSchema(etree.parse(str(file), parser=etree.XMLParser(no_network=True)))
        except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
            raise ConfigError(f"XSD {file} cannot be loaded: {exc}") from None
    return _xsd_cache[cache_key]


def element_to_dict(element) -> Any:
    from lxml import etree

    children = [c for c in element if isinstance(c.tag, str)]
    attributes = {f"@{etree.QName(k).localname}": v for k, v in element.attrib.items()}
    text = (element.text or "").strip()
    if not children and not attributes:
        return text or None
    result: dict[str, Any] = dict(attributes)
    for child in children:
        name = etree.QName(child).localname
        value = element_to_dict(child)
        if name in result:
            existing = result[name]
            result[name] = existing + [value] if isinstance(existing, list) else [existing, value]
        else:
            result[name] = value
    if text:
        result["#text"] = text
    return result


def _read_limited(stream: IO[bytes], limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileFormatError(f"the document is larger than max_bytes ({limit})", code="too-large")
    return data


def _codec(encoding: str) -> str:
    import codecs

    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(f"unknown encoding '{encoding}'") from None


# --- writing --------------------------------------------------------------------------------


class Writer:
    """Builds one file: ``begin() + record(r1) + record(r2) + ... + end()``.

    ``separator`` goes between records (``,`` in a JSON array); ``record(data, first=...)`` adds it.
    """

    def begin(self) -> bytes:
        return b""

    def record(self, data: dict, *, first: bool) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def end(self) -> bytes:
        return b""

    def document(self, records: list[dict]) -> bytes:
        """A whole file in one go (tests, per-record files)."""
        parts = [self.begin()]
        parts += [self.record(r, first=i == 0) for i, r in enumerate(records)]
        return b"".join(parts) + self.end()


def writer_for(fmt: Any, *, project_root: Path | None = None, single: bool = False) -> Writer:
    """A writer for ``fmt``. ``single``: the file holds one record (JSON: an object, not a list)."""
    if fmt.type == "csv":
        return CsvWriter(fmt)
    if fmt.type == "json":
        return JsonWriter(fmt, single=single)
    if fmt.type == "jsonl":
        return JsonLinesWriter(fmt)
    if fmt.type == "xml":
        return XmlWriter(fmt, project_root, single=single)
    raise ConfigError(f"format {fmt.type}: Koppel reads this format but does not write it")


def _text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return str(value)


def _encode(text: str, encoding: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise RecordError(f"character {exc.object[exc.start]!r} cannot be written in {encoding}",
                          code="encoding") from None


class CsvWriter(Writer):
    def __init__(self, fmt: CsvFormat) -> None:
        self.fmt = fmt
        self.encoding = _codec(fmt.encoding)
        self.columns: list[str] | None = list(fmt.columns) if fmt.columns else None
        self._header_pending = fmt.header

    def _line(self, values: list[str]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.fmt.delimiter, quotechar=self.fmt.quotechar,
                   lineterminator="\r\n").writerow(values)
        return buffer.getvalue()

    def begin(self) -> bytes:
        # Without declared columns the header comes from the first record; see record().
        if self.columns is not None and self._header_pending:
            self._header_pending = False
            return _encode(self._line(self.columns), self.encoding)
        return b""

    def record(self, data: dict, *, first: bool) -> bytes:
        prefix = ""
        if self.columns is None:
            self.columns = list(data)
        if self._header_pending:
            prefix = self._line(self.columns)
        line = _encode(prefix + self._line([_text_value(data.get(c)) for c in self.columns]), self.encoding)
        self._header_pending = False  # only once the line is known to encode
        return line


class JsonWriter(Writer):
    def __init__(self, fmt: JsonFormat, *, single: bool) -> None:
        self.encoding = _codec(fmt.encoding)
        self.single = single
        # records: "items" (a plain name) → the list is written as {"items": [...]}
        self.wrap = fmt.records if fmt.records and fmt.records.isidentifier() else None

    def begin(self) -> bytes:
        if self.single:
            return b""
        return (f'{{"{self.wrap}": [' if self.wrap else "[").encode(self.encoding)

    def record(self, data: dict, *, first: bool) -> bytes:
        body = _encode(json.dumps(data, ensure_ascii=False, default=_json_default), self.encoding)
        return body if (first or self.single) else b",\n" + body

    def end(self) -> bytes:
        if self.single:
            return b"\n"
        return ("]}\n" if self.wrap else "]\n").encode(self.encoding)


class JsonLinesWriter(Writer):
    def __init__(self, fmt: JsonLinesFormat) -> None:
        self.encoding = _codec(fmt.encoding)

    def record(self, data: dict, *, first: bool) -> bytes:
        return _encode(json.dumps(data, ensure_ascii=False, default=_json_default) + "\n", self.encoding)


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class XmlWriter(Writer):
    """``<root><record>...</record>...</root>``; with an XSD, every record is checked in a
    one-record document first, so a record that breaks the contract fails alone."""

    def __init__(self, fmt: XmlFormat, project_root: Path | None, *, single: bool = False) -> None:
        self.fmt = fmt
        # one record per file and no root declared: the record element is the document element
        self.bare = single and not fmt.root
        self.root = fmt.root or "records"
        self.namespace = fmt.namespaces.get("") or None
        self.schema = load_xsd(fmt.xsd, project_root) if fmt.xsd else None

    def _tag(self, name: str) -> str:
        return f"{{{self.namespace}}}{name}" if self.namespace else name

    def begin(self) -> bytes:
        if self.bare:
            return b'<?xml version="1.0" encoding="UTF-8"?>\n'
        ns = f' xmlns="{self.namespace}"' if self.namespace else ""
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<{self.root}{ns}>\n'.encode()

    def record(self, data: dict, *, first: bool) -> bytes:
        from lxml import etree

        element = etree.Element(self._tag(self.fmt.record), nsmap={None: self.namespace} if self.namespace else None)
        try:
            self._fill(element, data)
        except ValueError as exc:  # lxml: control characters, bad names
            raise RecordError(f"cannot be written as XML: {exc}", code="xml") from None
        if self.schema is not None:
            self._check(element)
        text = etree.tostring(element, encoding="unicode")
        if self.namespace and not self.bare:  # the root declares the default namespace once
            text = text.replace(f' xmlns="{self.namespace}"', "", 1)
        return (text + "\n").encode()

    def _check(self, element) -> None:
        from copy import deepcopy

        from lxml import etree

        if self.fmt.root and not self.bare:
            wrapper = etree.Element(self._tag(self.root), nsmap={None: self.namespace} if self.namespace else None)
            wrapper.append(deepcopy(element))
        else:
            wrapper = element
        if not self.schema.validate(wrapper):
            first = self.schema.error_log.filter_from_errors()[0]
            raise RecordError(f"does not match the XSD: {first.message}", code="xsd")

    def _fill(self, element, value: Any) -> None:
        from lxml import etree

        if isinstance(value, dict):
            for key, child in value.items():
                if key.startswith("@"):
                    if child is not None:
                        element.set(key[1:], _text_value(child))
                elif key == "#text":
                    element.text = _text_value(child)
                else:
                    for item in child if isinstance(child, list) else [child]:
                        self._fill(etree.SubElement(element, self._tag(key)), item)
        elif value is not None:
            element.text = _text_value(value)

    def end(self) -> bytes:
        return b"" if self.bare else f"</{self.root}>\n".encode()


__all__ = ["FileFormatError", "Writer", "element_to_dict", "hardened_parser", "load_xsd", "read_records",
           "writer_for"]
