"""Load YAML into plain Python while remembering where every key and value stood.

PyYAML's ``safe_load`` forgets positions and silently lets a duplicate key overwrite the first.
Here the file is composed into nodes, then built into dicts and lists by hand, recording
``(line, column)`` (1-based) for each path, and refusing duplicate keys. Only the safe tag set
is constructed, so YAML cannot instantiate Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runtime.diagnostics import Diagnostic, dotted

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


def load_file(path: Path, display: str | None = None) -> Located:
    """Load one YAML file; raise YamlProblem with file, line and column on any syntax error."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem(Diagnostic(name, None, None, "", f"not UTF-8 text ({exc.reason})")) from exc
    except OSError as exc:
        raise YamlProblem(Diagnostic(name, None, None, "", f"cannot read: {exc.strerror}")) from exc
    return load_text(text, name)


def load_text(text: str, name: str = "<string>") -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlProblem(Diagnostic(name, line, col, "", f"not valid YAML: {problem}")) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(Diagnostic(name, None, None, "", f"not valid YAML: {exc}")) from exc
    doc = Located(name, None)
    if node is None:
        doc.data = None
        return doc
    builder = _Builder(doc)
    doc.data = builder.build(node, ())
    if builder.problems:
        raise YamlProblem(builder.problems)
    return doc


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


class _Builder:
    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.constructor = yaml.SafeLoader("")  # used only to construct scalars safely
        self.problems: list[Diagnostic] = []

    def build(self, node: yaml.Node, path: tuple) -> Any:
        self.doc.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
            raise YamlProblem(Diagnostic(self.doc.file, line, col, dotted(path), f"tag '{node.tag}' is not allowed"))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
            raise YamlProblem(
                Diagnostic(self.doc.file, line, col, dotted(path), f"not valid YAML: {exc.problem}")
            ) from exc

    def _mapping(self, node: yaml.MappingNode, path: tuple) -> dict:
        self.constructor.flatten_mapping(node)  # resolves YAML merge keys (<<)
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
