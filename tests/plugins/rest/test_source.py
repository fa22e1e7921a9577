"""Reading: every paging style, OData watermarks, XML and file downloads, bounded batches."""

from __future__ import annotations

import pytest

from plugins.rest import plugin
from plugins.rest.source import watermark_value
from runtime.errors import ConfigError, TransientError

from .conftest import context

ROWS = [{"id": f"r{n}", "changed": f"2026-01-{n:02d}T00:00:00Z"} for n in range(1, 12)]


def _read(url: str, batch_size: int = 500, cursor: str | None = None, **spec):
    model = plugin.source_spec.model_validate({"type": "rest", "key": "id", **spec})
    source = plugin.create_source(model, context(url, batch_size=batch_size))
    try:
        return list(source.read(cursor))
    finally:
        source.close()


def _keys(batches) -> list[str]:
    return [r.key for b in batches for r in b.records]


def test_link_header_paging(peer) -> None:
    @peer.route("GET", "/items")
    def items(request):
        page = int(request.query.get("page", 1))
        headers = {"Link": f'<{peer.url}/items?page={page + 1}>; rel="next", <{peer.url}/items?page=1>; rel="first"'}
        return 200, ROWS[(page - 1) * 4 : page * 4], headers if page * 4 < len(ROWS) else {}

    assert _keys(_read(peer.url, path="items", paging={"type": "link_header"})) == [r["id"] for r in ROWS]


def test_page_paging_ooapi_envelope(peer) -> None:
    @peer.route("GET", "/programs")
    def programs(request):
        number, size = int(request.query["pageNumber"]), int(request.query["pageSize"])
        return 200, {"pageNumber": number, "items": ROWS[(number - 1) * size : number * size]}

    paging = {"type": "page", "param": "pageNumber", "size_param": "pageSize", "size": 5}
    batches = _read(peer.url, path="programs", records="items", paging=paging)
    assert _keys(batches) == [r["id"] for r in ROWS]
    assert [r.query["pageNumber"] for r in peer.requests] == ["1", "2", "3"]


def test_offset_paging(peer) -> None:
    @peer.route("GET", "/rows")
    def rows(request):
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        return 200, {"data": ROWS[offset : offset + limit]}

    batches = _read(peer.url, path="rows", records="data", paging={"type": "offset", "limit": 4})
    assert _keys(batches) == [r["id"] for r in ROWS]


def test_cursor_paging_and_a_looping_peer(peer) -> None:
    @peer.route("GET", "/feed")
    def feed(request):
        start = int(request.query.get("after", 0))
        more = start + 3 < len(ROWS)
        return 200, {"results": ROWS[start : start + 3], "meta": {"next": str(start + 3) if more else None}}

    spec = {"path": "feed", "records": "results", "paging": {"type": "cursor", "cursor": "meta.next", "param": "after"}}
    assert _keys(_read(peer.url, **spec)) == [r["id"] for r in ROWS]

    @peer.route("GET", "/loop")
    def loop(request):
        return 200, {"results": ROWS[:1], "meta": {"next": "same"}}

    with pytest.raises(TransientError, match="loops"):
        _read(peer.url, **{**spec, "path": "loop"})


def test_odata_next_link_with_watermark_in_bounded_batches(peer) -> None:
    lines = [{"ID": f"L{n}", "Modified": f"/Date({1767225600000 + n * 60000})/"} for n in range(7)]

    @peer.route("GET", "/api/v1/123/salesinvoice/SalesInvoiceLines")
    def invoice_lines(request):
        skip = int(request.query.get("$skiptoken", 0))
        body = {"results": lines[skip : skip + 3]}
        if skip + 3 < len(lines):
            body["__next"] = f"SalesInvoiceLines?$filter=x&$skiptoken={skip + 3}"  # relative link
        return 200, {"d": body}

    batches = _read(
        f"{peer.url}/api/v1/123",
        batch_size=2,
        cursor="2025-12-31T00:00:00.000",
        path="salesinvoice/SalesInvoiceLines",
        records="d.results",
        key="ID",
        paging={"type": "next_link", "next": "d.__next"},
        watermark={"field": "Modified", "param": "$filter", "template": "Modified gt datetime'{cursor}'"},
    )
    assert [len(b.records) for b in batches] == [2, 2, 2, 1]
    assert peer.requests[0].query["$filter"] == "Modified gt datetime'2025-12-31T00:00:00.000'"
    # Cursors: the value below each batch's last (ties are re-read, never skipped), then the highest.
    assert [b.cursor for b in batches] == [
        "2026-01-01T00:00:00.000",
        "2026-01-01T00:02:00.000",
        "2026-01-01T00:04:00.000",
        "2026-01-01T00:06:00.000",
    ]


def test_watermark_cursor_stays_put_when_records_are_not_in_order(peer) -> None:
    rows = [{"id": "a", "changed": "2026-03-01"}, {"id": "b", "changed": "2026-01-01"}, {"id": "c", "changed": "2026-02-01"}]
    peer.route("GET", "/items")(lambda request: (200, rows))
    batches = _read(
        peer.url, batch_size=2, cursor="2025-01-01", path="items", watermark={"field": "changed", "param": "since"}
    )
    assert [b.cursor for b in batches] == ["2025-01-01", "2026-03-01"]


def test_full_reads_have_no_cursor_and_missing_keys_are_config_errors(peer) -> None:
    peer.route("GET", "/items")(lambda request: (200, ROWS[:3]))
    assert [b.cursor for b in _read(peer.url, batch_size=2, path="items")] == [None, None]
    with pytest.raises(ConfigError, match="no key"):
        _read(peer.url, path="items", key="nummer")


def test_xml_response(peer) -> None:
    xml = b"<?xml version='1.0'?><lijst><student><nr>1</nr></student><student><nr>2</nr></student></lijst>"
    peer.route("GET", "/students")(lambda request: (200, xml, {"Content-Type": "application/xml"}))
    batches = _read(peer.url, path="students", records="lijst.student", key="nr")
    assert _keys(batches) == ["1", "2"]


def test_csv_download_sbb_crebo_list(peer) -> None:
    pytest.importorskip("plugins.codecs")
    csv = b"crebo;naam;niveau\n25180;Software developer;4\n25998;Expert IT systems;4\n"
    peer.route("GET", "/crebo.csv")(lambda request: (200, csv, {"Content-Type": "text/csv"}))
    batches = _read(peer.url, path="crebo.csv", key="crebo", format={"type": "csv"})
    assert [(r.key, r.data["naam"]) for b in batches for r in b.records] == [
        ("25180", "Software developer"),
        ("25998", "Expert IT systems"),
    ]


def test_watermark_values_sort_as_time() -> None:
    assert watermark_value("/Date(1641034800000)/") == "2022-01-01T11:00:00.000"
    assert watermark_value("/Date(1641034800000+0100)/") == "2022-01-01T11:00:00.000"
    assert watermark_value(None) is None
    assert watermark_value(9) < watermark_value(10)
