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
- XML (``plugins.codecs.xmlcodec``): hardened parsing, records by element name, XSD checks.
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

from plugins.codecs.base import FileFormatError, Writer, text_value
from plugins.formats import CsvFormat, JsonFormat, JsonLinesFormat, XlsxFormat

# --- reading --------------------------------------------------------------------------------


def read_records(fmt: Any, stream: IO[bytes], *, project_root: Path | None = None) -> Iterator[dict]:
    """The records in ``stream`` (binary), one dict at a time."""
    from plugins.codecs.xmlcodec import read_xml

    readers = {"csv": _read_csv, "json": _read_json, "jsonl": _read_jsonl, "xml": read_xml, "xlsx": _read_xlsx}
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


def _codec(encoding: str) -> str:
    import codecs

    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(f"unknown encoding '{encoding}'") from None


# --- writing --------------------------------------------------------------------------------


def writer_for(fmt: Any, *, project_root: Path | None = None, single: bool = False) -> Writer:
    """A writer for ``fmt``. ``single``: the file holds one record (JSON: an object, not a list)."""
    if fmt.type == "csv":
        return CsvWriter(fmt)
    if fmt.type == "json":
        return JsonWriter(fmt, single=single)
    if fmt.type == "jsonl":
        return JsonLinesWriter(fmt)
    if fmt.type == "xml":
        from plugins.codecs.xmlcodec import XmlWriter

        return XmlWriter(fmt, project_root, single=single)
    raise ConfigError(f"format {fmt.type}: Koppel reads this format but does not write it")


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
        line = _encode(prefix + self._line([text_value(data.get(c)) for c in self.columns]), self.encoding)
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


__all__ = ["FileFormatError", "Writer", "read_records", "writer_for"]
