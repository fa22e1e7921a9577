"""Load YAML into plain Python while remembering where every key and value stood.

PyYAML's ``safe_load`` forgets positions and silently lets a duplicate key overwrite the first.
Here the file is composed into nodes, then built into dicts and lists by hand, recording
``(line, column)`` (1-based) for each path, and refusing duplicate keys. Only the safe tag set
is constructed, so YAML cannot instantiate Python objects.

A definition file may be hostile or simply broken (a latin-1 export, a binary dropped in the
wrong folder, an alias bomb). Whatever it is, reading it costs bounded time and memory and ends
in one diagnostic naming the file: the bytes are capped (MAX_BYTES), must be UTF-8 (a UTF-8 BOM is
accepted) without NUL, nesting is capped (MAX_DEPTH), and so are aliases (MAX_ALIASES) and what
they expand to (MAX_EXPANDED): PyYAML shares an aliased node, but building plain dicts and lists
copies it, which is where a 1 KB "billion laughs" file becomes gigabytes.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.resolver import Resolver

try:  # libyaml, when PyYAML was built with it (the wheels are)
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - a PyYAML without libyaml
    _CParser = None

from runtime.diagnostics import Diagnostic, dotted, relative

#: the largest definition file read; the college's largest (catalog.yaml) is ~30 KB, and PyYAML
#: needs seconds per megabyte, so this keeps a hostile file to a few seconds
MAX_BYTES = 512 * 1024
#: levels of nesting; real definitions use fewer than 10
MAX_DEPTH = 64
#: alias uses (``*name``) per file; real definitions use a handful for merge keys
MAX_ALIASES = 1000
#: values that aliases may add when expanded into plain data, beyond the values written
MAX_EXPANDED = 100_000

Path_ = tuple  # a path into the document: keys (str) and list indexes (int)


class YamlProblem(Exception):
    """The file could not be loaded; ``diagnostics`` says every place why."""

    def __init__(self, diagnostics: Diagnostic | list[Diagnostic]) -> None:
        self.diagnostics = diagnostics if isinstance(diagnostics, list) else [diagnostics]
        super().__init__("; ".join(str(d) for d in self.diagnostics))


@dataclass
class Located:
    """A loaded document: its data and, for every path, where it was written."""

    file: str
    data: Any
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    #: positions of mapping keys (where a wrong key name was written)
    key_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: tuple | list) -> tuple[int | None, int | None]:
        """Position of the longest prefix of ``loc`` that exists in the document.

        ``loc`` may come from pydantic and contain parts that are not in the data (the tag of a
        discriminated union, a validator name); those are skipped rather than stopping the walk.
        """
        best: tuple[int, int] | None = self.positions.get(())
        path: tuple = ()
        node = self.data
        for part in loc:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                continue
            path = (*path, part)
            best = self.key_positions.get(path) or self.positions.get(path) or best
        return best if best else (None, None)

    def clean_loc(self, loc: tuple | list) -> tuple:
        """``loc`` without the parts that are not in the data (union tags, validator names).

        A last part that is absent from the data is kept: it names a missing or unknown field.
        """
        out: list = []
        node = self.data
        parts = list(loc)
        for i, part in enumerate(parts):
            if isinstance(node, dict) and part in node:
                node = node[part]
                out.append(part)
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
                out.append(part)
            elif i == len(parts) - 1 and isinstance(part, str) and isinstance(node, dict):
                out.append(part)
        return tuple(out)

    def diagnostic(self, loc: tuple | list, message: str) -> Diagnostic:
        line, col = self.where(loc)
        return Diagnostic(self.file, line, col, dotted(self.clean_loc(loc)), message)


class _Read(Located):
    """A Located as load_bytes gives it: its two position tables are made when something asks
    where a path was written (a diagnostic), from the pickle kept (runtime/cli/validate_cache.py)
    or from this process's parse. A file without problems never unpickles them; in a kept parse
    they are larger than the data and took more to unpickle (some 4 ms of an edited project's
    validate, measured). Each reader gets its own copy, as before."""

    def __init__(self, file: str, data: Any, packed: bytes | tuple[dict, dict], digest: bytes) -> None:
        self.file = file
        self.data = data
        #: the SHA-256 of the bytes it was read from
        self.digest = digest
        self._packed = packed
        self._tables: tuple[dict, dict] | None = None

    def _unpacked(self) -> tuple[dict, dict]:
        if self._tables is None:
            packed = self._packed
            self._tables = pickle.loads(packed) if isinstance(packed, bytes) else (dict(packed[0]), dict(packed[1]))
        return self._tables

    @property
    def positions(self) -> dict[Path_, tuple[int, int]]:
        return self._unpacked()[0]

    @positions.setter
    def positions(self, value: dict[Path_, tuple[int, int]]) -> None:
        self._tables = (value, self._unpacked()[1])

    @property
    def key_positions(self) -> dict[Path_, tuple[int, int]]:
        return self._unpacked()[1]

    @key_positions.setter
    def key_positions(self, value: dict[Path_, tuple[int, int]]) -> None:
        self._tables = (self._unpacked()[0], value)


class RelativeNames:
    """``runtime.diagnostics.relative(path, root)`` for the many files of one project: the same
    names, with the root and each folder resolved once. ``relative`` resolves the root and every
    folder of the path again for each file, some 50 µs a call, and validating names about 240
    files (about 12 ms of an edited project's validate, measured). Made for one load, not kept: a
    folder that becomes a symlink later is seen by the next."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._real_root: Path | None = None
        self._real_folders: dict[str, Path] = {}

    def __call__(self, path: Path) -> str:
        text = os.fspath(path)
        folder, name = os.path.split(text)
        if not os.path.isabs(text) or name in ("", ".", ".."):
            return relative(path, self.root)
        try:
            return self._relative(path, folder, name)
        except RuntimeError:  # a symlink loop: relative() raises it as it always did
            return relative(path, self.root)

    def _relative(self, path: Path, folder: str, name: str) -> str:
        real_folder = self._real_folders.get(folder)
        if real_folder is None:  # resolve() as relative() does
            real_folder = self._real_folders[folder] = Path(folder).resolve()
        if self._real_root is None:
            self._real_root = self.root.resolve()
        joined = real_folder / name
        real = joined.resolve() if os.path.islink(joined) else joined
        try:
            return str(real.relative_to(self._real_root))
        except ValueError:
            return str(path)


def load_file(path: Path, display: str | None = None) -> Located:
    """Load one YAML file; raise YamlProblem with file, line and column on any syntax error."""
    name = display or str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # never more than the cap, however big the file
    except OSError as exc:
        raise YamlProblem(Diagnostic(name, None, None, "", f"cannot read: {exc.strerror}")) from exc
    return load_bytes(raw, name)


def load_bytes(raw: bytes, name: str) -> Located:
    """Load a definition file's bytes: capped, decoded as UTF-8, then parsed like load_text.

    One ``koppel validate`` reads some files several times (catalog.yaml by the project and by
    plugin checks, a mapping by its own check and by the target-field and BSN checks): the same
    bytes under the same name are parsed once per process (``_PARSED``), and every caller gets
    its own copy of the data, so none can change what another reads."""
    digest = hashlib.sha256(raw).digest()
    for reader in readers:
        reader(name, digest)
    key = (name, digest)
    parsed = _PARSED.get(key)
    if parsed is None:
        store = artifacts
        kept = store.get("yaml", artifact_version(), digest) if store is not None else None
        if kept is not None:
            parsed = _from_artifact(kept, name)
        else:
            try:
                doc = _load_bytes(raw, name)
                # pickled: the quickest deep copy of plain data for each reader; the positions
                # copied only for a reader that asks for them
                parsed = (pickle.dumps(doc.data, protocol=pickle.HIGHEST_PROTOCOL), (doc.positions, doc.key_positions))
            except YamlProblem as exc:
                parsed = exc.diagnostics
            if store is not None and _storable(parsed, name):
                store.put("yaml", artifact_version(), digest, _to_artifact(parsed))
        with _PARSED_LOCK:
            if len(_PARSED) >= _PARSED_MAX:  # a long-lived daemon sees files change: keep the newest
                del _PARSED[next(iter(_PARSED))]
            _PARSED[key] = parsed
    if isinstance(parsed, list):
        raise YamlProblem(list(parsed))
    data, packed = parsed
    return _Read(name, pickle.loads(data), packed, digest)


#: called with the name and the SHA-256 of every file load_bytes reads (in the thread reading it):
#: the mapping check (runtime/mapping/check.py) learns which value maps, at which bytes, a
#: mapping's check read
readers: list[Callable[[str, bytes], None]] = []


#: where parsed files are kept between processes (runtime/cli/validate_cache.py's Artifacts: get
#: and put by kind, version and SHA-256 of the bytes); None: not kept. ``koppel validate`` sets it
artifacts: Any = None


def artifact_version() -> str:
    """What a kept parse depends on besides the bytes: this module's code (and diagnostics.py's,
    which words the paths) and PyYAML with its libyaml."""
    global _VERSION
    if _VERSION is None:
        from runtime import diagnostics

        code = hashlib.sha256(Path(__file__).read_bytes() + Path(diagnostics.__file__).read_bytes()).hexdigest()
        libyaml = getattr(yaml, "__with_libyaml__", False) and yaml._yaml.get_version_string()  # type: ignore[attr-defined]
        _VERSION = f"{code}/{yaml.__version__}/{libyaml}/{_FAST is not None}"
    return _VERSION


_VERSION: str | None = None


def _storable(parsed: tuple | list, name: str) -> bool:
    # a kept parse serves any file of the same bytes: the name must only be the file's own
    return not isinstance(parsed, list) or all(d.file == name for d in parsed)


def _to_artifact(parsed: tuple | list) -> tuple:
    if isinstance(parsed, list):
        return ("problems", [(d.line, d.column, d.path, d.message) for d in parsed])
    data, tables = parsed  # the positions pickled apart, unpickled only by a reader that asks
    return ("parsed", data, pickle.dumps(tables, protocol=pickle.HIGHEST_PROTOCOL))


def _from_artifact(kept: tuple, name: str) -> tuple | list:
    if kept[0] == "problems":
        return [Diagnostic(name, line, column, path, message) for line, column, path, message in kept[1]]
    return tuple(kept[1:])


#: (display name, SHA-256 of the bytes) → (pickled data, (positions, key positions), pickled when
#: kept), or the file's diagnostics
_PARSED: dict[tuple[str, bytes], tuple[bytes, bytes | tuple[dict, dict]] | list[Diagnostic]] = {}
_PARSED_MAX = 512
_PARSED_LOCK = threading.Lock()


def _load_bytes(raw: bytes, name: str) -> Located:
    if len(raw) > MAX_BYTES:
        raise YamlProblem(
            Diagnostic(name, None, None, "", f"file is larger than {MAX_BYTES // 1024} KB; a definition file is text of a few KB")
        )
    return load_text(decode(raw, name), name)


def decode(raw: bytes, name: str) -> str:
    """The text of a definition file: UTF-8 (with or without BOM), no NUL; else YamlProblem."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise YamlProblem(Diagnostic(name, 1, 1, "", "UTF-16 text; save the file as UTF-8"))
    if b"\x00" in raw:
        line, col = _position(raw, raw.index(b"\x00"))
        raise YamlProblem(Diagnostic(name, line, col, "", "contains a NUL byte: a binary file, not YAML text"))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _position(raw, exc.start)
        raise YamlProblem(
            Diagnostic(name, line, col, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8")
        ) from None


def _position(raw: bytes, offset: int) -> tuple[int, int]:
    before = raw[:offset]
    return before.count(b"\n") + 1, offset - (before.rfind(b"\n") + 1) + 1


class _Bounds:
    """A composer that refuses deep nesting and many aliases, pointing at the place. It is the
    pure-Python composer of PyYAML in both loaders below, so the limits hold whichever parses."""

    # provided by the parser the loaders below mix this into
    peek_event: Any
    check_event: Any

    def __init__(self) -> None:
        self.depth = 0
        self.aliases = 0
        self.nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        mark = self.peek_event().start_mark
        if self.check_event(AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise ComposerError(None, None, f"more than {MAX_ALIASES} aliases", mark)
        self.nodes += 1
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        try:
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self.depth -= 1


class _BoundedLoader(_Bounds, yaml.SafeLoader):
    """The pure-Python SafeLoader: slow (a 30 KB file takes ~0.4 s), but its error messages are
    the ones every diagnostic quotes, so a file that fails to parse is parsed again with it."""

    def __init__(self, stream: str) -> None:
        yaml.SafeLoader.__init__(self, stream)
        _Bounds.__init__(self)


class _OutOfBounds(yaml.YAMLError):
    """libyaml composed a document beyond the limits: the Python loader composes it again, to
    stop at the first place beyond them with its own message and mark."""


def _bounded_count(root: yaml.Node) -> int:
    """The values written in a composed document (nodes and alias uses, as ``_Bounds`` counts
    them); _OutOfBounds if it nests deeper than MAX_DEPTH or uses more than MAX_ALIASES aliases.

    Walked without recursion, each node once: a node met again is an alias use (libyaml's
    composer shares the anchored node), counted but not entered, so cycles end too."""
    seen = {id(root)}
    stack = [(root, 1)]
    written = 1
    aliases = 0
    while stack:
        node, depth = stack.pop()
        value = node.value
        if type(value) is not list or not value:
            continue
        children = [part for pair in value for part in pair] if type(node) is yaml.MappingNode else value
        written += len(children)
        depth += 1
        for child in children:
            if id(child) in seen:
                aliases += 1
                if aliases > MAX_ALIASES or depth > MAX_DEPTH:
                    raise _OutOfBounds()
            elif type(child.value) is list:  # a collection: its children are one level deeper
                if depth > MAX_DEPTH:
                    raise _OutOfBounds()
                seen.add(id(child))
                stack.append((child, depth))
            else:
                if depth > MAX_DEPTH:
                    raise _OutOfBounds()
                seen.add(id(child))
    return written


if _CParser is not None:

    class _FastLoader(_CParser, Resolver):  # type: ignore[misc, valid-type]
        """libyaml's scanner, parser and composer (~20x faster than PyYAML's Python ones), with
        the same marks (line, column) on every node. The limits are checked on the composed
        graph, without recursion; a document beyond them, or one libyaml refuses, is composed
        again by ``_BoundedLoader``, so the diagnostic is the one it gives. libyaml's own
        composer recurses in C, which is safe because its scanner refuses more than 1000 levels
        of nesting (``_LIBYAML_NESTS_BOUNDED`` checks that this libyaml does)."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            Resolver.__init__(self)
            self.nodes = 0

        def get_single_node(self) -> yaml.Node | None:
            node = _CParser.get_single_node(self)
            if node is not None:
                self.nodes = _bounded_count(node)
            return node

    def _libyaml_nests_bounded() -> bool:
        """Whether this libyaml refuses deep nesting itself (0.2.5 does, at 1000 levels): else
        its recursive composer could exhaust the C stack on a hostile file."""
        loader = _CParser("[" * 2000)
        try:
            loader.get_single_node()
        except yaml.YAMLError as exc:
            return "nesting depth" in str(exc)
        finally:
            loader.dispose()
        return False  # pragma: no cover - an older libyaml

    _LIBYAML_NESTS_BOUNDED = _libyaml_nests_bounded()


_FAST: type | None = _FastLoader if _CParser is not None and _LIBYAML_NESTS_BOUNDED else None


def _compose(text: str, loader_class: type | None = None) -> tuple[yaml.Node | None, int]:
    loader = (loader_class or _FAST or _BoundedLoader)(text)
    try:
        return loader.get_single_node(), loader.nodes
    finally:
        loader.dispose()


def _compose_checked(text: str) -> tuple[yaml.Node | None, int]:
    """Compose with libyaml; on any error, again with the Python loader for its message and mark
    (the two word their errors differently, and diagnostics must not depend on what is installed)."""
    if _FAST is None:
        return _compose(text, _BoundedLoader)
    try:
        return _compose(text, _FAST)
    except yaml.YAMLError:
        return _compose(text, _BoundedLoader)


def load_text(text: str, name: str = "<string>") -> Located:
    try:
        node, written = _compose_checked(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlProblem(Diagnostic(name, line, col, "", f"not valid YAML: {problem}")) from exc
    except yaml.reader.ReaderError as exc:  # a control character: PyYAML gives its offset, not a mark
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        raise YamlProblem(
            Diagnostic(name, line, col, "", f"not valid YAML: control character #x{exc.character:04x} is not allowed")
        ) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(Diagnostic(name, None, None, "", f"not valid YAML: {exc}")) from exc
    doc = Located(name, None)
    if node is None:
        doc.data = None
        return doc
    builder = _Builder(doc, budget=written + MAX_EXPANDED)
    try:
        doc.data = builder.build(node, ())
    except RecursionError:  # merge keys chained through many anchors; nesting itself is capped
        raise YamlProblem(Diagnostic(name, None, None, "", "not valid YAML: aliases nested too deeply")) from None
    if builder.problems:
        raise YamlProblem(builder.problems)
    return doc


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_STR = "tag:yaml.org,2002:str"
#: the safe scalar tags, constructed directly (construct_object's bookkeeping is for collections
#: and would keep every scalar of the document in a dict); any other tag goes through it
_SCALAR_CONSTRUCTORS = {
    tag: SafeConstructor.yaml_constructors[tag]
    for tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
}


class _Builder:
    def __init__(self, doc: Located, budget: int) -> None:
        self.doc = doc
        self.constructor = yaml.SafeLoader("")  # used only to construct scalars safely
        self.problems: list[Diagnostic] = []
        self.budget = budget  # values this document may build, aliases expanded

    def build(self, node: yaml.Node, path: tuple) -> Any:
        self.budget -= 1
        if self.budget < 0:
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
            raise YamlProblem(
                Diagnostic(self.doc.file, line, col, dotted(path), f"aliases expand to more than {MAX_EXPANDED} values")
            )
        self.doc.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
            raise YamlProblem(Diagnostic(self.doc.file, line, col, dotted(path), f"tag '{node.tag}' is not allowed"))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        try:
            if node.tag == _STR:
                return node.value  # what SafeConstructor's construct_yaml_str gives
            construct = _SCALAR_CONSTRUCTORS.get(node.tag) if isinstance(node, yaml.ScalarNode) else None
            if construct is not None:
                return construct(self.constructor, node)
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
            raise YamlProblem(
                Diagnostic(self.doc.file, line, col, dotted(path), f"not valid YAML: {exc.problem}")
            ) from exc

    def _mapping(self, node: yaml.MappingNode, path: tuple) -> dict:
        # resolves YAML merge keys (<<); PyYAML keeps each merged key once, so merges cannot multiply
        self.constructor.flatten_mapping(node)
        out: dict = {}
        first_seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self.build(key_node, (*path, "<key>"))
            if isinstance(key, (list, dict)):
                line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                raise YamlProblem(
                    Diagnostic(self.doc.file, line, col, dotted(path), "a key must be a plain value")
                )
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if key in first_seen:
                # Reported, never silently overwritten; loading goes on to find the rest.
                self.problems.append(
                    Diagnostic(
                        self.doc.file,
                        line,
                        col,
                        dotted((*path, key)),
                        f"duplicate key '{key}' (first written on line {first_seen[key]})",
                    )
                )
                continue
            first_seen[key] = line
            self.doc.key_positions[(*path, key)] = (line, col)
            out[key] = self.build(value_node, (*path, key))
        self.doc.positions.pop((*path, "<key>"), None)
        return out
