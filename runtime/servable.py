"""Which interfaces of a loaded project can run although others are broken (``koppel serve``).

``koppel validate`` and ``koppel serve --strict`` want the whole project clean. A daemon in
production must not stop DUO verzuim because someone broke interface 26's file: ``servable``
keeps every interface whose own files are clean (its interface file, the mappings and value maps
it uses, catalog.yaml) and reports each broken file with its first problem. ``merge_last_good``
is the reload rule: an interface whose file became invalid keeps the version that last loaded.

A problem in catalog.yaml concerns every interface (systems, environments and secrets live
there): then nothing is servable. A broken value map concerns the interfaces whose mappings name
it; a problem in a file that belongs to no interface (a misnamed file) concerns none.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any


def interface_files(project, interface) -> set[str]:
    """The files (relative to the project) an interface depends on, value maps apart."""
    files = {"catalog.yaml"}
    path = project.interface_paths.get(interface.id)
    if path is not None:
        files.add(str(path.relative_to(project.root)))
    names = [interface.mapping] + [getattr(t, "mapping", None) for t in interface.targets]
    names += [t.writeback.mapping for t in interface.targets if getattr(t, "writeback", None)]
    files.update(f"mappings/{n}.yaml" for n in names if n)
    return files


def valuemaps_used(project, files: set[str]) -> set[str]:
    """The broken-able value map files a set of mapping files names (by the map's name in the text)."""
    folder = project.root / "mappings" / "valuemaps"
    if not folder.is_dir():
        return set()
    text = ""
    for name in files:
        if name.startswith("mappings/"):
            try:
                text += (project.root / name).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
    if not text:  # no mapping (interface 0 replicates tables): nothing to search, no pattern to compile
        return set()
    return {f"mappings/valuemaps/{p.name}" for p in folder.glob("*.y*ml")
            if re.search(rf"\b{re.escape(p.stem)}\b", text)}


def servable(project) -> tuple[dict[int, Any], dict[str, str]]:
    """(interfaces that may run, broken file → its first problem)."""
    broken: dict[str, str] = {}
    for d in sorted(project.diagnostics):
        where = f"{d.file}:{d.line}" if d.line else d.file
        broken.setdefault(d.file, f"{where}: {d.message}")
    if "catalog.yaml" in broken or project.catalog is None:
        return {}, broken or {"catalog.yaml": "catalog.yaml: not loaded"}
    good = {}
    for iid, interface in project.interfaces.items():
        files = interface_files(project, interface)
        files |= valuemaps_used(project, files)
        if not files & broken.keys():
            good[iid] = interface
    # a file whose content did not load at all still names an interface that is not served
    return good, broken


def merge_last_good(previous, project) -> tuple[Any, dict[str, str]]:
    """The project to serve after a reload: new good versions, and for an interface whose file
    is now invalid (but still there) the version that last loaded. Returns it and the problems,
    each saying whether a last good version is still served."""
    good, broken = servable(project)
    if previous is None:
        return dataclasses.replace(project, interfaces=good), broken
    if project.catalog is None or "catalog.yaml" in broken:
        note = {f: f"{why} (serving the last good version of every interface)" for f, why in broken.items()}
        return previous, note
    interfaces = dict(good)
    notes = dict(broken)
    for iid, old in previous.interfaces.items():
        if iid in interfaces or iid not in project.interface_paths:
            continue  # loaded anew, or its file is gone: it is no longer served
        interfaces[iid] = old
        for f in interface_files(project, old) & broken.keys():
            notes[f] = f"{broken[f]} (serving the last good version of interface {iid})"
    return dataclasses.replace(project, interfaces=interfaces), notes
