"""The mapping engine: mappings/<name>.yaml compiled into one Python callable per file.

    compiled = load_mapping(project_root, "eckid-aanvraag")
    target = compiled(record)        # dict, or None when the mapping's `where` skips the record
    compiled.validate(target)        # ContractError(path=..., ...) when it breaks the contract
    compiled.version                 # short sha256 of the file: stored with each delivery

A MappingError (a RecordError: the record goes to the dead letters) names the output field
path and a reason; it never quotes the input value, which may be a BSN. A broken mapping file
raises ConfigError (run ``koppel validate`` for every problem with file and line).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.errors import ConfigError, MappingError

log = logging.getLogger("koppel.mapping")


class CompiledMapping:
    """One mapping, ready to run. Thread-safe: it holds no per-record state."""

    def __init__(
        self,
        name: str,
        version: str,
        fast: Callable[[dict], Any],
        slow: Callable[[dict], Any],
        contract: Any = None,
        source: str = "",
        file: Path | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self._fast = fast
        self._slow = slow
        self._contract = contract
        self.source = source  # the generated Python, for the curious and for debugging
        self.file = file
        self.valuemaps: list[str] = []  # the value maps compiled into it
        self.parallel = False  # map_many() on every core (the file's `parallel: true`)

    def __call__(self, record: dict) -> dict | None:
        try:
            return self._fast(record)
        except Exception:  # noqa: BLE001 - the slow path says which field failed and why
            pass
        return self._slow(record)

    def map_many(self, records: list[dict]) -> list[tuple[Any, Exception | None]]:
        """(output or None, None) or (None, the exception) per record, in order; validated against
        the contract. With ``parallel`` the records are spread over a thread pool as large as the
        machine's cores: worth it only when the work releases the GIL (hashlib.scrypt does)."""

        def one(record: dict) -> tuple[Any, Exception | None]:
            try:
                out = self(record)
                if out is not None:
                    self.validate(out)
                return out, None
            except Exception as exc:  # noqa: BLE001 - the caller decides per record (dead letter or stop)
                return None, exc

        if not self.parallel or len(records) < 2:
            return [one(r) for r in records]
        return list(_pool().map(one, records))

    @property
    def has_contract(self) -> bool:
        return self._contract is not None and self._contract.validate is not None

    @property
    def contract_warning(self) -> str | None:
        """Why the declared contract is not checked (its file is absent), else None."""
        return self._contract.warning if self._contract is not None else None

    def validate(self, output: Any) -> None:
        """Raise ContractError(path=..., reason) when ``output`` breaks the declared contract."""
        if self._contract is None:
            return
        if self._contract.validate is None:
            if self._contract.warning and not getattr(self, "_warned", False):
                log.warning("mapping %s: %s", self.name, self._contract.warning)
                self._warned = True
            return
        self._contract.validate(output)

    def __repr__(self) -> str:
        return f"<CompiledMapping {self.name} {self.version}>"


def compile_mapping(data: dict, project_root: Path | None, *, name: str | None = None, version: str = "") -> CompiledMapping:
    """Compile mapping data (already loaded from YAML). ConfigError on the first problem."""
    from runtime.diagnostics import dotted
    from runtime.mapping import contract as contracts
    from runtime.mapping.engine import Builder, MappingContext, Problem

    name = name or str(data.get("name", "mapping"))
    builder = Builder(MappingContext(project_root))
    try:
        built = builder.build(data)
    except Problem as exc:
        raise ConfigError(f"mapping {name}: {dotted(exc.loc)}: {exc.message}") from None
    loaded = contracts.load(data.get("contract"), project_root or Path("."))
    compiled = CompiledMapping(name, version, built.fast, built.slow, loaded, built.source)
    compiled.valuemaps = sorted(builder.context.maps)
    compiled.parallel = bool(data.get("parallel", False))
    return compiled


_pool_lock = threading.Lock()
_shared_pool: list[Any] = []


def _pool():
    """One pool per process for parallel mappings, one thread per core (KOPPEL_MAPPING_THREADS overrides)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    with _pool_lock:
        if not _shared_pool:
            size = int(os.environ.get("KOPPEL_MAPPING_THREADS") or 0) or len(os.sched_getaffinity(0)) or 1
            _shared_pool.append(ThreadPoolExecutor(max_workers=size, thread_name_prefix="koppel-mapping"))
        return _shared_pool[0]


_cache: dict[Path, tuple[str, CompiledMapping, tuple]] = {}
_lock = threading.Lock()


def load_mapping(project_root: Path, name: str) -> CompiledMapping:
    """mappings/<name>.yaml compiled; recompiled only when the file's bytes (or the specs folder
    its contract comes from) change. Value maps are read when the mapping is compiled."""
    from runtime.yamlsource import MAX_BYTES, YamlProblem, load_bytes

    path = (Path(project_root) / "mappings" / f"{name}.yaml").resolve()
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # a larger file is refused by load_bytes, unread
    except FileNotFoundError:
        raise ConfigError(f"mapping file mappings/{name}.yaml not found") from None
    digest = hashlib.sha256(raw).hexdigest()
    from runtime.paths import specs_dir

    # the contract depends on where the specs are, so that is part of what was compiled
    key = f"{digest}:{specs_dir(Path(project_root))}"
    with _lock:
        cached = _cache.get(path)
    if cached and cached[0] == key and cached[2] == _valuemap_stamps(project_root, cached[1].valuemaps):
        return cached[1]
    display = f"mappings/{name}.yaml"
    try:
        doc = load_bytes(raw, display)  # the bounded reader of every definition file
    except YamlProblem as exc:
        raise ConfigError(str(exc)) from None
    _require_valid(doc, name)
    compiled = compile_mapping(doc.data, Path(project_root), name=name, version=digest[:12])
    compiled.file = path
    with _lock:
        _cache[path] = (key, compiled, _valuemap_stamps(project_root, compiled.valuemaps))
    return compiled


def _valuemap_stamps(project_root: Path, names: list[str]) -> tuple:
    """When the value maps a mapping uses were last changed: an edit recompiles the mapping."""
    folder = Path(project_root) / "mappings" / "valuemaps"
    stamps: list[int | None] = []
    for name in names:
        try:
            stamps.append((folder / f"{name}.yaml").stat().st_mtime_ns)
        except OSError:
            stamps.append(None)
    return tuple(stamps)


def _require_valid(doc: Any, name: str) -> None:
    from pydantic import ValidationError

    from runtime.mapping.model import MappingFile

    try:
        MappingFile.model_validate(doc.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(str(doc.diagnostic(first["loc"], first["msg"]))) from None
    if doc.data.get("name") != name:
        raise ConfigError(str(doc.diagnostic(("name",), f"name must be '{name}', the file name without .yaml")))


__all__ = ["CompiledMapping", "MappingError", "compile_mapping", "load_mapping"]
