"""Local drop folders: pick-up that survives a crash, and files published whole or not at all."""

from __future__ import annotations

import json

import pytest

from plugins.file.source import FileDropSource
from plugins.file.spec import FileSource, FileTarget
from plugins.file.target import FileDropTarget
from runtime.errors import TransientError
from runtime.plugin import Item, PluginContext


def ctx(root, batch_size=2, interface_id=5):
    return PluginContext(environment="sandbox", project_root=root, interface_id=interface_id,
                         options={"batch_size": batch_size})


def source(root, **spec):
    spec = {"type": "file", "directory": "in", "pattern": "*.csv", "format": {"type": "csv"}, **spec}
    return FileDropSource(FileSource.model_validate(spec), ctx(root))


def target(root, **spec):
    spec = {"type": "file", "directory": "out", "filename": "cat-{run}.jsonl", "format": {"type": "jsonl"}, **spec}
    return FileDropTarget(FileTarget.model_validate(spec), ctx(root))


def drop(root, name, rows):
    (root / "in").mkdir(exist_ok=True)
    (root / "in" / name).write_text("id;naam\n" + "".join(f"{i};n{i}\n" for i in rows))


def run(src, cursor=None, stop_after=None):
    """Read like the engine: cursor stored, then commit; ``stop_after`` batches simulates a crash."""
    src.open()
    keys = []
    for n, batch in enumerate(src.read(cursor)):
        if stop_after is not None and n == stop_after:
            break  # crash: this batch was read but never acknowledged
        keys += [r.key for r in batch.records]
        cursor = batch.cursor or cursor
        src.commit(batch)
    src.close()
    return keys, cursor


def test_files_are_read_in_name_order_and_archived(tmp_path):
    drop(tmp_path, "b.csv", [3])
    drop(tmp_path, "a.csv", [1, 2])
    (tmp_path / "in" / "skip.txt").write_text("x")
    keys, _ = run(source(tmp_path))
    assert keys == ["a.csv#1", "a.csv#2", "b.csv#1"]
    assert sorted(p.name for p in (tmp_path / "in" / "archive").iterdir()) == ["a.csv", "b.csv"]
    assert sorted(p.name for p in (tmp_path / "in").iterdir() if p.is_file()) == ["skip.txt"]
    assert run(source(tmp_path))[0] == [], "an archived file is never read again"


def test_a_crash_between_read_and_commit_loses_nothing_and_repeats_nothing_committed(tmp_path):
    drop(tmp_path, "a.csv", [1, 2, 3, 4, 5])
    first, cursor = run(source(tmp_path), stop_after=1)  # batch 1 committed, batch 2 read, then crash
    assert first == ["a.csv#1", "a.csv#2"]
    assert (tmp_path / "in" / "processing" / "a.csv").exists(), "the claimed file waits in processing/"
    rest, cursor = run(source(tmp_path), cursor)
    assert rest == ["a.csv#3", "a.csv#4", "a.csv#5"]
    assert (tmp_path / "in" / "archive" / "a.csv").exists()


def test_a_crash_after_the_cursor_but_before_archiving(tmp_path):
    drop(tmp_path, "a.csv", [1])
    src = source(tmp_path)
    src.open()
    batch = next(iter(src.read(None)))
    cursor = batch.cursor  # stored by the engine ... and then the process dies before commit()
    keys, _ = run(source(tmp_path), cursor)
    assert keys == [] and (tmp_path / "in" / "archive" / "a.csv").exists()


def test_delete_after_processing_and_a_bad_file_goes_to_rejected(tmp_path):
    drop(tmp_path, "a.csv", [1])
    (tmp_path / "in" / "bad.csv").write_bytes(b"id;naam\n1;2;3\n")
    keys, _ = run(source(tmp_path, after="delete"))
    assert keys == ["a.csv#1"]
    assert not (tmp_path / "in" / "a.csv").exists() and not (tmp_path / "in" / "archive").exists()
    assert (tmp_path / "in" / "rejected" / "bad.csv").exists()
    assert "fields" in (tmp_path / "in" / "rejected" / "bad.csv.reason.txt").read_text()


def test_keep_leaves_files_and_reads_only_newer_ones(tmp_path):
    drop(tmp_path, "a.csv", [1])
    keys, cursor = run(source(tmp_path, after="keep"))
    assert keys == ["a.csv#1"] and (tmp_path / "in" / "a.csv").exists()
    assert run(source(tmp_path, after="keep"), cursor)[0] == []
    drop(tmp_path, "b.csv", [7])
    assert run(source(tmp_path, after="keep"), cursor)[0] == ["b.csv#1"]


def test_key_expression_names_records(tmp_path):
    drop(tmp_path, "a.csv", [42])
    assert run(source(tmp_path, key="id"))[0] == ["42"]


def items(n, start=0):
    return [Item(key=f"k{i}", payload={"id": i}, source_key=f"S{i}") for i in range(start, start + n)]


def test_per_run_file_is_published_on_close_only(tmp_path):
    t = target(tmp_path)
    t.open()
    assert all(o.ok for o in t.write(items(2)))
    assert all(o.ok for o in t.write(items(2, 2)))
    assert [p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")] == []
    t.close()
    published = [p for p in (tmp_path / "out").iterdir()]
    assert len(published) == 1 and published[0].name.startswith("cat-")
    assert [json.loads(line)["id"] for line in published[0].read_text().splitlines()] == [0, 1, 2, 3]


def test_a_failed_write_is_not_in_the_published_file(tmp_path, monkeypatch):
    t = target(tmp_path, format={"type": "json"}, filename="cat.json")
    t.open()
    t.write(items(2))
    storage = t.publisher.storage
    real_append = storage.append

    def half_then_fail(path, data):
        real_append(path, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage, "append", half_then_fail)
    with pytest.raises(TransientError):
        t.write(items(2, 2))
    monkeypatch.setattr(storage, "append", real_append)
    t.close()
    assert [r["id"] for r in json.loads((tmp_path / "out" / "cat.json").read_text())] == [0, 1]


def test_after_a_crash_the_next_run_publishes_the_acknowledged_records(tmp_path):
    t = target(tmp_path, format={"type": "json"}, filename="cat-{run}.json")
    t.open()
    t.write(items(3))
    # the process dies: no close(). The next run of the same interface recovers the file.
    t2 = target(tmp_path, format={"type": "json"}, filename="cat-{run}.json")
    t2.open()
    t2.close()
    files = [p for p in (tmp_path / "out").iterdir()]
    assert len(files) == 1 and [r["id"] for r in json.loads(files[0].read_text())] == [0, 1, 2]


def test_per_record_files_named_by_key_never_overwrite(tmp_path):
    t = target(tmp_path, per="record", filename="kandidaat-{key}.xml",
               format={"type": "xml", "record": "kandidaat"})
    t.open()
    outcomes = t.write(items(2) + [Item(key="x", payload={"id": 0}, source_key="S0")])
    t.close()
    assert [o.reference for o in outcomes] == ["kandidaat-S0.xml", "kandidaat-S1.xml", "kandidaat-S0-1.xml"]
    assert (tmp_path / "out" / "kandidaat-S1.xml").read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>\n<kandidaat>')


def test_no_records_no_file_and_a_bad_record_fails_alone(tmp_path):
    t = target(tmp_path, format={"type": "csv", "encoding": "cp1252"}, filename="x.csv")
    t.open()
    t.close()
    assert list((tmp_path / "out").iterdir()) == []
    t = target(tmp_path, format={"type": "csv", "encoding": "cp1252"}, filename="x.csv")
    t.open()
    outcomes = t.write([Item("a", {"n": "Zoë"}, "a"), Item("b", {"n": "Łódź"}, "b"), Item("c", {"n": "Bo"}, "c")])
    t.close()
    assert [o.ok for o in outcomes] == [True, False, True]
    assert (tmp_path / "out" / "x.csv").read_bytes().decode("cp1252") == "n\r\nZoë\r\nBo\r\n"
