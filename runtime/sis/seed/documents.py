"""The seeded college's document files: one small, valid PDF per document with a ``file_name``.

The SIS keeps its documents' files in one folder (``runtime.settings.documents_dir``, default
``<project>/var/documents``); interface 14 uploads them to Signhost from there. Every seeded
document gets a one-page PDF (A4, Helvetica) showing its title, kind, document code and
student or application, written by hand: no PDF library is needed for this little, and the
bytes depend on the row only, so the same seed gives byte-identical files on any machine.

The document row's ``sha256`` is the hash of that PDF, whether or not the files are written,
so the store and the folder always agree (a receiver that checks a ``Digest`` finds them equal).
Writing every file costs about 1 s per 10,000 documents (20,000 students: 33,000 files, 3 s of a
17 s seed), cheap enough to write them all.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: column positions in a ``document`` row (runtime/sis/models.py, created/updated left out)
DOCUMENT_ID, STUDENT, ENROLLMENT, AANMELD, KIND, TITLE, SHA256, FILE_NAME = 0, 1, 2, 3, 4, 5, 10, 8

_KIND_LABEL = {
    "onderwijsovereenkomst": "Onderwijsovereenkomst",
    "bpvo": "Praktijkovereenkomst (BPVO)",
    "verblijfsdocument": "Verblijfsdocument",
    "opleidingsblad": "Opleidingsblad",
    "doorstroomdossier": "Doorstroomdossier",
    "lob": "LOB-dossier",
    "overig": "Document",
}


def _text(value: str) -> bytes:
    """A PDF literal string in WinAnsi (Latin-1 covers Dutch names); ( ) and \\ escaped."""
    raw = value.encode("latin-1", "replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def pdf_bytes(title: str, kind: str, lines: list[str]) -> bytes:
    """A one-page PDF 1.4 with a correct cross-reference table (readers need no repair)."""
    content = [b"BT /F1 18 Tf 72 770 Td ", _text(title[:90]), b" Tj ET",
               b"BT /F1 12 Tf 72 740 Td ", _text(_KIND_LABEL.get(kind, kind)), b" Tj ET"]
    for i, line in enumerate(lines):
        content += [f"BT /F1 10 Tf 72 {710 - 16 * i} Td ".encode(), _text(line[:100]), b" Tj ET"]
    stream = b"\n".join(content)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Title " + _text(title[:200]) + b" /Producer (Koppel synthetic college) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


def document_pdf(row: tuple) -> bytes:
    lines = [f"Documentcode: {row[DOCUMENT_ID]}"]
    if row[STUDENT]:
        lines.append(f"Studentnummer: {row[STUDENT]}")
    if row[ENROLLMENT]:
        lines.append(f"Inschrijving: {row[ENROLLMENT]}")
    if row[AANMELD]:
        lines.append(f"Aanmelding: {row[AANMELD]}")
    lines.append("Koning Willem I College (synthetisch, voor test en demo)")
    return pdf_bytes(row[TITLE], row[KIND], lines)


def prepare(rows: list[tuple]) -> tuple[list[tuple], list[tuple[str, bytes]]]:
    """The document rows with ``sha256`` set to their PDF's hash, and the files to write
    (``(file name, bytes)``) for every row that has a ``file_name``."""
    out, files = [], []
    for row in rows:
        if not row[FILE_NAME]:
            out.append(row)
            continue
        data = document_pdf(row)
        files.append((os.path.basename(row[FILE_NAME]), data))
        out.append(row[:SHA256] + (hashlib.sha256(data).hexdigest(),) + row[SHA256 + 1:])
    return out, files


def write_files(files: list[tuple[str, bytes]], folder: Path) -> int:
    """Write the files into ``folder`` (created if needed; a file of the same name is replaced)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        _write(folder / name, data)
    return len(files)


def _write(path: Path, data: bytes) -> None:
    # write then rename: a reader (a running interface 14) never sees half a file
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)
