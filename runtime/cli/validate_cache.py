"""``koppel validate``'s verdict kept on disk, keyed by the content of everything it can read.

Validating the college's project imports pydantic, jsonschema, lxml and every plugin, parses some
170 YAML files and checks every mapping expression and contract: about a second of CPU. On the
same files the verdict is the same, so a process started as ``koppel validate`` first takes a
fingerprint and, when the stored verdict has that fingerprint, prints it instead of validating.

The fingerprint is one SHA-256 over

- the content and name of every file, and the name of every folder, under the project folder,
  the specs folder (``${specs}``: KOPPEL_SPECS_DIR, else ../shared/specs) and Koppel's own
  packages (runtime/, plugins/); only SKIP_DIRS are left out (var/, .git/, virtualenvs, caches).
  A file edited, added, removed or renamed changes it, however fast after the last run;
- the Python version and executable, sys.path, and in each sys.path folder the name and time of
  every installed distribution (.dist-info, .egg-info, .pth): installing, upgrading or removing
  any package (pydantic, jsonschema, a plugin, Koppel itself) changes it;
- every KOPPEL_* environment variable (``--env`` sets KOPPEL_ENV).

A verdict is stored only when that fingerprint covers everything the validation used. While it
validates, the process records each file opened and folder listed (an audit hook, PEP 578) and
each path a definition points to, found or not (``runtime.paths.watchers``). If one lies outside
the fingerprinted files and folders (Python's own installation and the time-zone database
excepted), if a plugin comes from another distribution than Koppel, or if any file changed while
validating (the fingerprint is taken again after), nothing is stored and the next run validates.
Taken again, a file is read again unless its status (device, inode, size, modification and change
times) is the one it had before and its change time lies ``SETTLED_NS`` before the first
fingerprint began: any write since changes the change time to the clock's time then, which
nothing can set back (utime sets it too). The edited file, or any changed within that margin, is
read again.
What C code opens by itself is not seen: libxml2 reading the files an XSD includes. Those are
covered when they lie in the project or the specs folder, as every shipped contract's do (their
``schemaLocation`` is relative, into the same tree).

Only a process started as the ``koppel`` command uses the cache: an in-process caller (a test
with CliRunner, a script calling load_project) may have changed plugins or models in memory,
which no fingerprint sees. ``koppel validate --no-cache`` (or KOPPEL_VALIDATE_CACHE=off) always
validates. The store is one JSON file per project folder (and Python setup) in KOPPEL_CACHE_DIR, else
$XDG_CACHE_HOME/koppel, else ~/.cache/koppel, holding exactly what validate reports.

Validating, such a process also keeps per-file artifacts (``Artifacts``, in the same folder's
``artifacts/``): what is made of one file that depends on nothing but its bytes and the code that
makes it, each named by a hash of both. After an edit (or with ``--no-cache``) only the files whose
bytes changed are parsed again; every other check runs as in a cold run. KOPPEL_VALIDATE_CACHE=off
keeps and reads none. Every other command that loads the project in such a process (``koppel run``,
``dry-run``, ``serve``) uses them too (runtime/project.py's ``_keep_parses``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: bump when what is stored, or how the fingerprint is taken, changes
FORMAT = 1
#: folders never fingerprinted: Koppel's runtime data, version control, virtualenvs, tool caches.
#: Validation reading a file in one of them is seen, and then nothing is stored.
SKIP_DIRS = frozenset({
    "var", ".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "node_modules",
    ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".tox", ".nox",
})
#: what a stored verdict holds (runtime/cli/definitions.py's _validated)
_VERDICT_KEYS = frozenset({"problems", "warnings", "interfaces", "active", "systems", "mappings", "wakes"})
#: verdicts kept in the cache folder, the most recent ones (one per project folder and Python setup)
KEEP = 64
#: a "project" this large (a home folder given as --project) is validated without the cache:
#: fingerprinting it would cost more than it saves
MAX_FILES = 20_000
#: how long before the first fingerprint a file's last change must lie for the second to take its
#: content from the first when its status is unchanged (the file-system clock ticks in a few ms)
SETTLED_NS = 2_000_000_000
_WATCHED_EVENTS = frozenset({"open", "os.listdir", "os.scandir"})
_DISTRIBUTIONS = (".dist-info", ".egg-info", ".pth", ".egg-link")


def enabled() -> bool:
    """True in a process started as ``koppel`` (or ``python -m runtime.cli``), unless switched off."""
    if os.environ.get("KOPPEL_VALIDATE_CACHE", "").lower() in ("0", "off", "no", "false"):
        return False
    return started_as_koppel()


def started_as_koppel() -> bool:
    """Whether this process was started as the ``koppel`` command (or ``python -m runtime.cli``):
    then nothing but the installation can have changed what Koppel finds (an in-process caller,
    a test, may have replaced plugins, models or importlib.metadata in memory)."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if program is None:
        return False
    if program.name == "koppel":
        return True
    return program.resolve() == (Path(__file__).parent / "__main__.py").resolve()


def cache_dir() -> Path:
    """Koppel's cache folder: KOPPEL_CACHE_DIR, else $XDG_CACHE_HOME/koppel, else ~/.cache/koppel."""
    if os.environ.get("KOPPEL_CACHE_DIR"):
        return Path(os.environ["KOPPEL_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "koppel"
    return Path.home() / ".cache" / "koppel"


def cache_file(project_root: Path) -> Path:
    """Where the verdict on ``project_root`` is kept."""
    # per project and per Python setup, so `koppel` and `python -m runtime.cli` keep one each
    which = "\0".join([str(project_root), sys.executable, *sys.path])
    return cache_dir() / f"validate-{hashlib.sha256(which.encode()).hexdigest()[:24]}.json"


class Fingerprint:
    """The digest over the project, the specs, Koppel's code, the installation and KOPPEL_*; and
    the files and folders it covers (real paths), to check what validation touched.

    ``earlier``: the fingerprint taken before validating, whose files' content this one takes for
    each file whose status is as it was then and settled before it (see the module's docstring):
    only the edited files are read and hashed again, not the specs' megabytes."""

    def __init__(self, project_root: Path, earlier: Fingerprint | None = None) -> None:
        import time

        from runtime.paths import specs_dir

        #: when this fingerprint began (the file-system clock's time, ns); a file changed after
        #: it has a change time later than this, less a tick
        self.began_ns = time.time_ns()
        #: each file's status before it was read, and its content's digest
        self.statuses: dict[str, tuple[tuple[int, ...], str]] = {}
        self._earlier = earlier.statuses if earlier is not None else {}
        self._settled_ns = earlier.began_ns - SETTLED_NS if earlier is not None else 0
        self.files: set[str] = set()
        self.dirs: set[str] = set()
        digest = hashlib.sha256()

        def add(*parts: object) -> None:
            for part in parts:
                digest.update(str(part).encode("utf-8", "surrogateescape"))
                digest.update(b"\0")

        add("format", FORMAT, sys.version, sys.executable, *sys.path)
        for name, value in sorted(os.environ.items()):
            if name.startswith("KOPPEL_"):
                add("env", name, value)
        self.metadata: set[str] = set()  # the distributions' metadata folders, fingerprinted below
        self._real_dirs: dict[str, str] = {}  # _realpath's folders resolved
        for entry in sys.path:
            add("site", entry)
            self._installed(entry, add)
        specs = specs_dir(project_root)
        add("specs", specs, specs.is_dir())
        #: an absent specs folder is part of the fingerprint: nothing under it can exist unseen
        self.absent_specs = None if specs.is_dir() else os.path.realpath(specs)
        self.cache_dir = os.path.realpath(cache_file(project_root).parent)  # its own writes change nothing
        for top in dict.fromkeys([project_root, specs, *_code_dirs()]):  # in order, once each
            add("tree", top)
            self._tree(os.path.realpath(top), add)
        #: None when there were too many files to fingerprint: then nothing is kept or looked up
        self.key: str | None = digest.hexdigest() if len(self.files) <= MAX_FILES else None

    def _installed(self, entry: str, add: Any) -> None:
        """The distributions in one sys.path folder: names (a .dist-info's carries the version) and
        times, and the files that say what they register (entry points) or are (an .egg-info)."""
        try:
            with os.scandir(entry or ".") as listing:
                found = sorted((e.name, e.path, e.stat().st_mtime_ns) for e in listing if e.name.endswith(_DISTRIBUTIONS))
        except OSError:
            return
        for name, path, mtime in found:
            add(name, mtime)
            if os.path.isdir(path):
                self.metadata.add(self._realpath(path))  # some 100 in one site-packages folder
                wanted = sorted(os.listdir(path)) if name.endswith(".egg-info") else ["entry_points.txt"]
            else:
                path, wanted = os.path.dirname(path), [name]  # a .pth file: its lines extend sys.path
            for file in wanted:
                add(file, self._file_content(os.path.join(path, file)))

    def _tree(self, top: str, add: Any) -> None:
        if top in self.dirs or not os.path.isdir(top):
            return
        for folder, dirs, files in os.walk(top):
            if folder in self.dirs:  # a folder inside another tree already fingerprinted
                dirs[:] = []
                continue
            self.dirs.add(folder)
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and os.path.join(folder, d) != self.cache_dir)
            add("dir", folder, *dirs)
            if len(self.files) > MAX_FILES:
                return
            for name in sorted(files):
                path = os.path.join(folder, name)
                add("file", path, self._file_content(path))
                self.files.add(path)

    def _file_content(self, path: str) -> str:
        """``_content(path)``, or the earlier fingerprint's when the file has not changed since."""
        try:
            info = os.stat(path)  # before reading: a write after this changes the change time
        except OSError:
            return _content(path)
        status = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        earlier = self._earlier.get(path)
        if earlier is not None and earlier[0] == status and info.st_ctime_ns < self._settled_ns:
            content = earlier[1]
        else:
            content = _content(path)
        self.statuses[path] = (status, content)
        return content

    def covers(self, seen: Seen) -> bool:
        """Whether every file and folder validation used, or looked for, is in this fingerprint."""
        allowed = _installation()
        self._real_dirs = {}
        return all(self._covered(path, allowed) for path in seen.used)

    def _realpath(self, path: str) -> str:
        """``os.path.realpath``, each folder resolved once: validation uses some 700 paths in a
        few dozen folders, and resolving each component of each costs more than the rest of covers()."""
        folder, name = os.path.split(path)
        if not name or name in (".", "..") or not os.path.isabs(path):
            return os.path.realpath(path)
        real_folder = self._real_dirs.get(folder)
        if real_folder is None:
            real_folder = self._real_dirs[folder] = os.path.realpath(folder)
        joined = os.path.join(real_folder, name)
        return os.path.realpath(joined) if os.path.islink(joined) else joined

    def _covered(self, used: str, allowed: list[str]) -> bool:
        if used in sys.path:  # importlib looking through sys.path, which is in the fingerprint
            return True
        real = self._realpath(used)
        if real in self.files or real in self.dirs or _under(real, allowed) or real in self.metadata:
            return True
        if _under(real, [self.cache_dir]):  # the per-file artifacts: each keyed by the bytes it stands for
            return True
        folder, name = os.path.split(real)
        if folder in self.metadata:  # METADATA, RECORD...: the version is in the folder's name
            return True
        if name.endswith(".pyc") and os.path.basename(folder) == "__pycache__":
            # a module's bytecode stands for its source (the import system reads one or the other)
            return self._covered(os.path.join(os.path.dirname(folder), name.split(".")[0] + ".py"), allowed)
        prefix = os.path.realpath(sys.pycache_prefix) if sys.pycache_prefix else None
        if prefix and name.endswith(".pyc") and _under(real, [prefix]):
            # the same with PYTHONPYCACHEPREFIX: the bytecode's folder mirrors the source's
            source_dir = os.sep + os.path.relpath(folder, prefix) if folder != prefix else os.sep
            return self._covered(os.path.join(source_dir, name.split(".")[0] + ".py"), allowed)
        if os.path.lexists(real):
            return False
        if self.absent_specs and _under(real, [self.absent_specs]):
            return True
        while folder and not os.path.lexists(folder):  # absent: then its folder must be fingerprinted
            folder = os.path.dirname(folder)
        return folder in self.dirs


def _content(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return "unreadable"


def _code_dirs() -> list[Path]:
    """The folders of Koppel's packages (runtime, and the built-in plugins), found without importing them."""
    import importlib.util

    import runtime

    out = [Path(p) for p in runtime.__path__ if os.path.isdir(p)]
    spec = importlib.util.find_spec("plugins")
    out += [Path(p) for p in (spec.submodule_search_locations or []) if os.path.isdir(p)] if spec else []
    return out


def _installation() -> list[str]:
    """Where Python's own files and the time-zone database live: what validation may read besides
    the fingerprinted trees (their versions are in the fingerprint)."""
    import zoneinfo

    places = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *zoneinfo.TZPATH}
    return sorted(os.path.realpath(p) for p in places if p)


def _under(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


class Seen:
    """What one validation opened, listed or looked for (paths as given, made absolute)."""

    def __init__(self) -> None:
        self.used: set[str] = set()


_current: list[Seen] = []
_hooked: list[bool] = []


def _audit(event: str, args: tuple) -> None:
    if _current and event in _WATCHED_EVENTS and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        _current[-1].used.add(path if path in sys.path else os.path.abspath(path))


@contextmanager
def recording() -> Iterator[Seen]:
    """Record what the validation inside the block opens, lists and looks for."""
    from runtime import paths

    if not _hooked:  # an audit hook cannot be removed: one per process, idle outside this block
        sys.addaudithook(_audit)
        _hooked.append(True)
    seen = Seen()

    def pointed(path: Path) -> None:
        seen.used.add(os.path.abspath(path))

    _current.append(seen)
    paths.watchers.append(pointed)
    try:
        yield seen
    finally:
        paths.watchers.remove(pointed)
        _current.remove(seen)


def load(project_root: Path, fingerprint: Fingerprint) -> dict | None:
    """The stored verdict for this fingerprint, or None."""
    if fingerprint.key is None:
        return None
    try:
        stored = json.loads(cache_file(project_root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("key") != fingerprint.key or stored.get("root") != str(project_root):
        return None
    result = stored.get("result")
    return result if isinstance(result, dict) and result.keys() >= _VERDICT_KEYS else None


def store(project_root: Path, before: Fingerprint, seen: Seen, result: dict) -> bool:
    """Keep ``result`` if the fingerprint covers what validation used and nothing changed meanwhile."""
    if before.key is None or not before.covers(seen) or not _plugins_are_koppels() \
            or Fingerprint(project_root, earlier=before).key != before.key:
        return False
    target = cache_file(project_root)
    text = json.dumps({"key": before.key, "root": str(project_root), "result": result}, ensure_ascii=False)
    if not write_atomically(target, text):
        return False  # a read-only home: validate works, only slower next time
    prune(target.parent, "validate-*.json", KEEP)  # each test's scratch project leaves one
    return True


def write_atomically(target: Path, text: str) -> bool:
    """``text`` into ``target`` (its folder made private if missing) by a temporary file and a
    rename: a reader sees the old file or the new one, never half. False when it cannot be written."""
    import tempfile  # here, not at the top: printing a kept verdict writes nothing

    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return False
    return True


def private(info: os.stat_result) -> bool:
    """Whether a file or folder is this user's own and no one else may write it (what is kept there
    is unpickled or imported)."""
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def prune(folder: Path, pattern: str, keep: int) -> None:
    """Keep the ``keep`` most recently written files of ``folder`` matching ``pattern``."""
    try:
        kept = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in kept[keep:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # another process pruned first


def _plugins_are_koppels() -> bool:
    """Every plugin and plugin command comes from Koppel's own packages, whose files are fingerprinted
    (a third-party plugin's check may read what no fingerprint covers)."""
    from importlib.metadata import entry_points

    from runtime.cli import COMMAND_GROUP
    from runtime.registry import GROUP

    every = entry_points()  # each call reads every distribution's entry points: once for both groups
    names: dict[int, str] = {}  # a distribution's name parses its METADATA each time: once per distribution
    for group in (GROUP, COMMAND_GROUP):
        for ep in every.select(group=group):
            dist = getattr(ep, "dist", None)
            if ep.module.split(".")[0] not in ("runtime", "plugins") or dist is None:
                return False
            if id(dist) not in names:
                names[id(dist)] = dist.name
            if names[id(dist)] != "koppel":
                return False
    return True


# -- per-file artifacts ------------------------------------------------------------------------


class Artifacts:
    """What validation makes of one file that depends on nothing but the file's bytes and the code
    that makes it (the parsed YAML with its positions or diagnostics, the schema names of an OpenAPI
    document), kept in the cache folder's ``artifacts/``, so that after an edit only the edited
    file is parsed again.

    A file is named by the SHA-256 of what it stands for: the kind, the producer's version (a hash
    of its own source and of the libraries it uses, ``runtime.yamlsource.artifact_version``) and
    the input's SHA-256. A stale artifact is never read: other bytes or other code give another
    name. Artifacts are pickles, so they are read only from a folder of this user's that no one
    else may write to. At most KEEP_ARTIFACTS are kept; the oldest go first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._usable: bool | None = None
        self._pruned = False

    def _path(self, kind: str, version: str, digest: bytes) -> Path:
        name = hashlib.sha256(b"\0".join([kind.encode(), version.encode(), digest])).hexdigest()
        return self.folder / f"{name}.pickle"

    def usable(self) -> bool:
        """The folder exists (it is made if not) and is this user's own, written by no one else."""
        if self._usable is None:
            try:
                # each made private here: mkdir(parents=True) would make the parent by the umask
                self.folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                self.folder.mkdir(exist_ok=True, mode=0o700)
                self._usable = all(private(os.stat(f)) for f in (self.folder, self.folder.parent))
            except OSError:
                self._usable = False
        return self._usable

    def get(self, kind: str, version: str, digest: bytes) -> Any | None:
        import pickle

        if not self.usable():
            return None
        try:
            with open(self._path(kind, version, digest), "rb") as handle:
                return pickle.load(handle)
        except FileNotFoundError:
            return None
        except Exception:  # noqa: BLE001 - a torn or foreign file: made again, as if absent
            return None

    def put(self, kind: str, version: str, digest: bytes, value: Any) -> None:
        import pickle
        import tempfile

        if not self.usable():
            return
        try:
            fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".artifact-", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self._path(kind, version, digest))
        except OSError:
            return  # a full or read-only disk: validation works, only slower next time
        if not self._pruned:
            self._pruned = True
            self._prune()

    def _prune(self) -> None:
        # counted by name first: the times are needed only when there are too many, and reading
        # them for a full folder (8192 files) took 36 ms of every edited validate, the names 5 ms
        try:
            names = [name for name in os.listdir(self.folder) if name.endswith(".pickle")]
            if len(names) > KEEP_ARTIFACTS:
                paths = [os.path.join(self.folder, name) for name in names]
                found = [(os.stat(path).st_mtime_ns, path) for path in paths]
                for _, path in sorted(found)[: len(found) - KEEP_ARTIFACTS // 2]:
                    os.unlink(path)
        except OSError:
            pass  # another process pruned first


#: artifacts kept in the cache folder: the college's project has ~200 files, so this holds many
#: rounds of edits of several projects
KEEP_ARTIFACTS = 8192


def use_artifacts(project_root: Path) -> Artifacts:
    """Let this process's parsing keep and find per-file artifacts (runtime.yamlsource.artifacts)."""
    from runtime import yamlsource

    store = Artifacts(cache_file(project_root).parent / "artifacts")
    yamlsource.artifacts = store
    return store
