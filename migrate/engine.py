"""The engine: find files, prefilter, analyse in parallel, write atomically, back up, restore.

This module is the part of `migrate` that touches the file system. It knows nothing about
LibCST: the analysis (`migrate.analysis`) is imported lazily, and only when at least one file
passed the text prefilter, so that `migrate check` on files with nothing to do stays fast.

Decisions worth knowing
-----------------------
* **.gitignore** matching is pathspec's ``GitIgnoreSpec`` (git's wildmatch, as black uses it),
  not a parser of our own. The layers, lowest precedence first, as git orders them: the user's
  global excludes file (``git config core.excludesFile``, else ``$XDG_CONFIG_HOME/git/ignore``;
  relative to the repository root, or to the scan root outside a repository), then
  ``.git/info/exclude``, then the .gitignore files from the repository root (the folder holding
  ``.git``) down, a deeper one winning where both speak. .gitignore applies to directory walks
  only: a file named on the command line is always read.
* Always skipped in directory walks: hidden folders, ``__pycache__``, ``node_modules``, ``build``,
  ``dist``, ``*.egg-info``, ``site-packages`` and virtual environments (``venv``, ``.venv``, or any
  folder holding a ``pyvenv.cfg``). ``--exclude``/``exclude`` patterns use the gitignore syntax
  above, relative to the current folder (command line) or to the pyproject.toml folder (config),
  and also apply to files named on the command line. ``--exclude`` replaces the configured
  ``exclude``; ``extend-exclude`` is always added.
* **Memory** follows the candidates, not the tree: the text of a file the prefilter drops is
  not kept (a file the index later asks about, one that may call a task directly, is read
  again). When both passes run in this process (``-j 1`` or few candidates), pass one's trees
  stay for pass two, so each file is parsed once; the trees of files the index does not name
  are dropped as soon as it is built. With a worker pool each pass parses in its workers.
* **Reading**: bytes are decoded per PEP 263 (BOM, coding cookie, else UTF-8) and newlines are
  kept as they are; a rewrite is encoded back with the same encoding (a BOM stays). A file that
  does not decode or does not parse is reported and skipped when it could hold an old pattern
  (the text prefilter says so); a file that cannot is skipped silently, as it was never parsed.
* **Module names** for the project index come from the file's place: up through folders with an
  ``__init__.py`` (``src/app/jobs/etl.py`` is ``app.jobs.etl``); a file in a plain folder of
  scripts is named by its stem, so ``from tasks import transform`` resolves between scripts.
* **Writing**: a rewrite can span files (a task and its enqueue sites), so a file that fails a
  check below keeps every file linked to it by a task's rewrite unchanged too (its error names
  the file in the way); the files of other tasks are still written, in one transaction. Checked first: every new text parses (LibCST) and compiles (CPython), no file changed
  on disk since it was read, no file is read-only (mode bits, or ``os.access``: root passes that,
  an immutable file does not) unless allowed. Staged next: every new content in a temporary file
  beside its target, fsynced, with the target's mode and owner, so that a read-only folder or a
  full disk fails before any target changes. Then each target is os.replace'd. A failure or a
  SIGINT/SIGTERM from the first stage on rolls back: the replaced files get their original bytes
  (held in memory) again, the staged ones are removed, a backup of this run is dropped; signals
  during the rollback are held back until it is done. A SIGKILL cannot be caught: with
  ``--backup`` the manifest is written before the first replace, so restore still works.
* **Interrupts**: the analysis workers ignore SIGINT (a terminal sends it to the whole group);
  the main process stops them and exits 128 + the signal, without their tracebacks.
* **Unreadable folders** are reported in one line each and skipped; the walk goes on.
* **Backups** go to ``<project root>/.migrate-backup/<UTC timestamp>/`` with a ``manifest.json``;
  the project root is the nearest folder holding pyproject.toml or .git above the first PATH (else
  the current folder). ``restore`` takes the newest backup holding files under the given paths,
  puts those files back byte for byte (and their mode), then deletes them from the backup; a
  backup left empty is removed, so a second ``restore`` steps back to the backup before it, like
  an undo stack. A backup's id is its folder name: ``backup_id`` (a unique start is enough)
  picks an older one. Nothing is restored if any of the files was edited since the apply (its
  content is neither the rewritten nor the original one) unless ``force`` is given.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import os
import re
import stat
import sys
import signal
import tempfile
import threading
import tokenize
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

from migrate import model
from migrate.model import FileResult, Finding, RuleSelection

STDIN = "-"
BACKUP_DIR_NAME = ".migrate-backup"
MANIFEST_NAME = "manifest.json"
CONFIG_KEYS = ("select", "ignore", "exclude", "extend-exclude", "jobs", "allow-direct-calls")

# Folders never entered by a directory walk (hidden folders are skipped too).
SKIP_DIR_NAMES = frozenset(
    {"__pycache__", "node_modules", "build", "dist", "site-packages", "venv", ".venv"}
)
# Below this many candidate files the analysis runs in this process: starting workers costs more.
PARALLEL_MIN_FILES = 8

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class MigrateError(Exception):
    """A usage or input error: the command stops with exit code 2 and this message."""

    exit_code = 2


class RestoreConflict(Exception):
    """restore would overwrite files edited since the apply; nothing was restored."""

    exit_code = 1

    def __init__(self, paths: list[str]):
        self.paths = paths
        names = ", ".join(paths)
        super().__init__(
            f"not restoring: edited since the apply: {names} (use --force to overwrite)"
        )


# --------------------------------------------------------------------------------------------
# Rule codes and settings


def known_codes() -> list[str]:
    from migrate.rules import RULES  # no libcst import

    return sorted(RULES)


def parse_codes(value: str | Iterable[str] | None, origin: str) -> frozenset[str] | None:
    """Split and validate rule codes ("QM001,QM002" or a list). A prefix of known codes is fine."""
    if value is None:
        return None
    if isinstance(value, str):
        items = [value]
    else:
        items = list(value)
    codes: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise MigrateError(f"{origin}: expected rule codes as strings, got {item!r}")
        for part in re.split(r"[,\s]+", item):
            if part:
                codes.add(part.strip().upper())
    known = known_codes()
    for code in sorted(codes):
        if not any(k.startswith(code) for k in known):
            raise MigrateError(
                f"unknown rule code {code!r} in {origin}; known codes: {', '.join(known)}"
            )
    return frozenset(codes)


@dataclass
class Settings:
    """The effective settings of one run: configuration merged with command-line options."""

    selection: RuleSelection = field(default_factory=RuleSelection)
    excludes: list["IgnoreFile"] = field(default_factory=list)
    jobs: int = 1
    config_path: Path | None = None
    allow_direct_calls: bool = False  # rewrite tasks that the scanned code also calls directly


def find_config(start: Path) -> tuple[Path, dict] | None:
    """The nearest pyproject.toml above `start` with a [tool.queuack.migrate] table."""
    import tomllib

    start = start.resolve()
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if os.path.isfile(candidate):
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise MigrateError(f"cannot read {candidate}: {exc}") from None
            table = data.get("tool", {}).get("queuack", {}).get("migrate")
            if table is not None:
                if not isinstance(table, dict):
                    raise MigrateError(f"{candidate}: [tool.queuack.migrate] must be a table")
                return candidate, table
    return None


def _start_folder(paths: list[str]) -> Path:
    for p in paths:
        if p != STDIN:
            path = Path(p)
            return path if os.path.isdir(path) else (path.parent if str(path.parent) else Path("."))
    return Path.cwd()


def _as_list(value, key: str, config: Path) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise MigrateError(f"{config}: '{key}' must be a string or a list of strings")


def load_settings(
    paths: list[str],
    *,
    select: str | Iterable[str] | None = None,
    ignore: str | Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    extend_exclude: Iterable[str] | None = None,
    jobs: int | None = None,
    use_config: bool = True,
    allow_direct_calls: bool | None = None,
) -> Settings:
    """Merge [tool.queuack.migrate] from the nearest pyproject.toml with the command line."""
    cwd = Path.cwd()
    found = find_config(_start_folder(paths)) if use_config else None
    table: dict = {}
    config_path = None
    if found:
        config_path, table = found
        unknown = sorted(set(table) - set(CONFIG_KEYS))
        if unknown:
            raise MigrateError(
                f"{config_path}: unknown key(s) in [tool.queuack.migrate]: {', '.join(unknown)};"
                f" known keys: {', '.join(CONFIG_KEYS)}"
            )
    config_origin = f"{config_path} [tool.queuack.migrate]"

    sel = parse_codes(select, "--select")
    if sel is None and "select" in table:
        sel = parse_codes(_as_list(table["select"], "select", config_path), config_origin)
    ign = parse_codes(ignore, "--ignore")
    if ign is None and "ignore" in table:
        ign = parse_codes(_as_list(table["ignore"], "ignore", config_path), config_origin)

    # --exclude patterns are relative to the current folder, configured ones to pyproject.toml's
    cfg_base = config_path.parent if config_path else cwd
    exclude = list(exclude or [])
    excludes: list[IgnoreFile] = []
    if exclude:
        excludes.append(IgnoreFile.from_lines(exclude, cwd.resolve()))
    elif "exclude" in table:
        excludes.append(IgnoreFile.from_lines(
            _as_list(table["exclude"], "exclude", config_path), cfg_base))
    if "extend-exclude" in table:
        excludes.append(IgnoreFile.from_lines(
            _as_list(table["extend-exclude"], "extend-exclude", config_path), cfg_base))
    if extend_exclude:
        excludes.append(IgnoreFile.from_lines(extend_exclude, cwd.resolve()))

    if jobs is None and "jobs" in table:
        jobs = table["jobs"]
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 0:
            raise MigrateError(f"{config_path}: 'jobs' must be a whole number >= 0")
    if not jobs:  # None or 0: one worker a core
        jobs = os.cpu_count() or 1
    if not allow_direct_calls and "allow-direct-calls" in table:
        allow_direct_calls = table["allow-direct-calls"]
        if not isinstance(allow_direct_calls, bool):
            raise MigrateError(f"{config_path}: 'allow-direct-calls' must be true or false")
    return Settings(
        selection=RuleSelection(select=sel or frozenset(), ignore=ign or frozenset()),
        excludes=excludes,
        jobs=jobs,
        config_path=config_path,
        allow_direct_calls=bool(allow_direct_calls),
    )


# --------------------------------------------------------------------------------------------
# .gitignore


@dataclass(frozen=True)
class IgnoreFile:
    """The patterns of one gitignore-style source (a .gitignore, the global excludes file,
    --exclude), relative to the folder `base`. Matching is pathspec's, which follows git's
    wildmatch."""

    base: Path
    spec: "pathspec.GitIgnoreSpec"

    @classmethod
    def from_lines(cls, lines: Iterable[str], base: Path) -> "IgnoreFile":
        import pathspec

        return cls(base, pathspec.GitIgnoreSpec.from_lines(lines))

    def check(self, path: Path, is_dir: bool) -> bool | None:
        """True when a pattern ignores `path`, False when a ``!pattern`` takes it back, None when
        no pattern speaks about it."""
        try:
            rel = path.relative_to(self.base).as_posix()
        except ValueError:
            # Outside the base folder (an --exclude given elsewhere): a pattern without a slash
            # still matches by name, an anchored one cannot.
            rel = path.as_posix().lstrip("/")
        if rel in ("", "."):
            return None
        result = self.spec.check_file(rel + "/" if is_dir else rel)
        if is_dir and result.index is not None and str(
                self.spec.patterns[result.index].pattern).endswith("/**"):
            # `gen/**` is about what is inside gen, not gen itself: git walks into it, so that a
            # later `!gen/keep.py` can take a file back (pathspec reads "gen/" as inside it)
            return None
        return result.include


def is_ignored(layers: Iterable[IgnoreFile], path: Path, is_dir: bool) -> bool:
    """Git's rule: the layers go from the lowest precedence to the highest (global excludes,
    .git/info/exclude, then .gitignore files from the top down); the last one that speaks wins."""
    ignored = False
    for layer in layers:
        verdict = layer.check(path, is_dir)
        if verdict is not None:
            ignored = verdict
    return ignored


def read_ignore_file(path: Path, base: Path) -> list[IgnoreFile]:
    """The patterns of the file at `path` as one layer (none when it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [IgnoreFile.from_lines(text.splitlines(), base)]


def global_excludes_file() -> Path | None:
    """The user's global excludes file: ``git config core.excludesFile``, else git's default,
    ``$XDG_CONFIG_HOME/git/ignore`` (``~/.config/git/ignore``)."""
    import shutil
    import subprocess

    git = shutil.which("git")
    if git:
        try:
            proc = subprocess.run([git, "config", "--path", "--get", "core.excludesFile"],
                                  capture_output=True, text=True, timeout=10,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            proc = None
        if proc is not None and proc.returncode == 0 and proc.stdout.strip():
            return Path(os.path.expanduser(proc.stdout.strip()))
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(
        os.path.expanduser("~"), ".config")
    return Path(config_home) / "git" / "ignore"


def _repo_root(folder: Path) -> Path | None:
    for candidate in [folder, *folder.parents]:
        if os.path.exists(candidate / ".git"):
            return candidate
    return None


def ancestor_ignore_rules(root: Path) -> list[IgnoreFile]:
    """The layers that apply to `root` from outside it: the global excludes file, then
    .git/info/exclude and the .gitignore files of the folders above `root` up to the repository
    root. Without a repository, the global excludes apply relative to `root`.

    A folder named on the command line is walked even when those layers ignore it (a corpus
    under an ignored .bench/, say): then none of them applies below it, since every path there
    would match through the ignored folder."""
    repo = _repo_root(root)
    layers: list[IgnoreFile] = []
    excludes_file = global_excludes_file()
    if excludes_file is not None:
        layers += read_ignore_file(excludes_file, repo or root)
    if repo is None:
        return layers
    layers += read_ignore_file(repo / ".git" / "info" / "exclude", repo)
    chain = [root, *root.parents]
    chain = chain[: chain.index(repo) + 1]
    for folder in reversed(chain[1:]):  # repo root first; `root` itself is read by the walk
        layers += read_ignore_file(folder / ".gitignore", folder)
    return [] if is_ignored(layers, root, True) else layers


# --------------------------------------------------------------------------------------------
# Discovery


@dataclass
class SourceFile:
    """A file to analyse: how it is shown, where it lives and its module name for the index."""

    display: str
    fspath: Path | None  # None for stdin
    module: str | None


def module_name(path: Path) -> str | None:
    """The dotted name Python would import `path` by: walk up through __init__.py packages.

    A file in a plain folder of scripts is named by its stem, so `from tasks import x` resolves
    between scripts that sit side by side.
    """
    return model.module_name(path.resolve().as_posix(),
                             lambda folder: os.path.isfile(os.path.join(folder, "__init__.py")))


def _is_skipped_dir(entry: os.DirEntry) -> bool:
    name = entry.name
    if name.startswith(".") or name in SKIP_DIR_NAMES or name.endswith(".egg-info"):
        return True
    return os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))


def _walk(root: Path, display_root: str, inherited: list[IgnoreFile], excludes: list[IgnoreFile],
          errors: list["FileError"]) -> Iterator[tuple[str, Path]]:
    """The .py files below `root`; a folder that cannot be read is reported in `errors` and
    skipped, as ruff does, and the walk carries on."""
    stack = [(root, display_root, inherited)]
    while stack:
        folder, shown, rules = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            errors.append(FileError(os.path.normpath(shown),
                                    f"cannot read folder: {_describe(exc)}; skipped"))
            continue
        own = folder / ".gitignore"
        if os.path.isfile(own):
            rules = rules + read_ignore_file(own, folder)
        subdirs = []
        for entry in entries:
            path = folder / entry.name
            try:  # symlinked folders are not followed (no loops, no escaping the tree)
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if _is_skipped_dir(entry) or is_ignored(rules, path, True) or is_ignored(
                    excludes, path, True
                ):
                    continue
                subdirs.append((path, os.path.join(shown, entry.name), rules))
            elif entry.name.endswith(".py"):
                if is_ignored(rules, path, False) or is_ignored(excludes, path, False):
                    continue
                yield os.path.normpath(os.path.join(shown, entry.name)), path
        stack.extend(reversed(subdirs))


def _excluded_explicitly(excludes: list[IgnoreFile], path: Path) -> bool:
    if is_ignored(excludes, path, False):
        return True
    # A file inside an excluded folder is excluded as well.
    return any(is_ignored(excludes, parent, True) for parent in path.parents)


def discover(paths: list[str], settings: Settings, stdin_filename: str | None = None,
             errors: list["FileError"] | None = None) -> list[SourceFile]:
    """The files named by PATH...: files as given, folders walked, `-` for stdin.

    Folders that cannot be read are reported in `errors` (when given) and skipped."""
    errors = [] if errors is None else errors
    if not paths:
        raise MigrateError("no PATH given")
    missing = [p for p in paths if p != STDIN and not os.path.exists(p)]
    if missing:
        raise MigrateError("path not found: " + ", ".join(missing))
    if paths.count(STDIN) > 1:
        raise MigrateError("'-' (stdin) can be given only once")
    found: list[SourceFile] = []
    seen: set[Path] = set()
    for p in paths:
        if p == STDIN:
            module = None
            if stdin_filename:
                module = (
                    module_name(Path(stdin_filename))
                    if os.path.exists(stdin_filename)
                    else (Path(stdin_filename).stem or None)
                )
            found.append(SourceFile(stdin_filename or STDIN, None, module))
            continue
        path = Path(p).absolute()
        if os.path.isdir(path):
            resolved = path.resolve()
            inherited = ancestor_ignore_rules(resolved)
            for shown, file_path in _walk(resolved, p, inherited, settings.excludes, errors):
                real = file_path.resolve()
                if real not in seen:
                    seen.add(real)
                    found.append(SourceFile(shown, file_path, module_name(real)))
        else:
            real = path.resolve()
            if real in seen or _excluded_explicitly(settings.excludes, real):
                continue
            seen.add(real)
            found.append(SourceFile(os.path.normpath(p), path, module_name(real)))
    return found


# --------------------------------------------------------------------------------------------
# Reading


@dataclass
class LoadedFile:
    source: SourceFile
    raw: bytes
    text: str
    encoding: str
    mode: int | None


def decode_source(raw: bytes) -> tuple[str, str]:
    """Decode per PEP 263 (BOM, coding cookie, else UTF-8); newlines are kept as they are."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    return raw.decode(encoding), encoding


def load(source: SourceFile, stdin_bytes: bytes | None = None) -> LoadedFile:
    """Read and decode one file. Raises OSError, SyntaxError (bad cookie) or UnicodeDecodeError."""
    if source.fspath is None:
        raw = stdin_bytes if stdin_bytes is not None else sys.stdin.buffer.read()
        mode = None
    else:
        with open(source.fspath, "rb") as fh:
            st = os.fstat(fh.fileno())
            raw = fh.read()
        mode = stat.S_IMODE(st.st_mode)
    text, encoding = decode_source(raw)
    return LoadedFile(source, raw, text, encoding, mode)


# --------------------------------------------------------------------------------------------
# Analysis


@dataclass
class FileError:
    path: str
    message: str


@dataclass
class RunResult:
    """What one run found: a result per analysed file, and the files that could not be read."""

    files: list[LoadedFile] = field(default_factory=list)
    results: dict[str, FileResult] = field(default_factory=dict)
    errors: list[FileError] = field(default_factory=list)
    n_files: int = 0
    n_candidates: int = 0

    @property
    def findings(self) -> list[Finding]:
        return sorted(f for r in self.results.values() for f in r.findings)

    def changed(self) -> list[tuple[LoadedFile, str]]:
        """(file, new text) for each file a rule really changed."""
        out = []
        for loaded in self.files:
            res = self.results.get(loaded.source.display)
            if res and res.new_source is not None and res.new_source != loaded.text:
                out.append((loaded, res.new_source))
        return out


def _summarize(item: tuple[str, str, str | None, bool]):
    from migrate import analysis

    return analysis.summarize(*item)


_WORKER_STATE: dict = {}


def _init_fix_worker(index, selection, fix) -> None:
    _WORKER_STATE.update(index=index, selection=selection, fix=fix)


def _fix(item: tuple[str, str]) -> FileResult:
    from migrate import analysis

    path, source = item
    s = _WORKER_STATE
    return analysis.fix_file(path, source, s["index"], s["selection"], s["fix"])


def _mp_context():
    import multiprocessing

    # Fork shares the already imported libcst with the workers: no second import per worker.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _in_process(jobs: int, total: int) -> bool:
    """Whether `_map` works in this process (few items, or one job) or in a pool."""
    return jobs <= 1 or total < PARALLEL_MIN_FILES


def _init_pool_worker(initializer, initargs) -> None:
    # A Ctrl-C in the terminal reaches the whole process group: the workers leave it to the
    # main process, which stops them (SIGTERM, the default action) without a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if initializer:
        initializer(*initargs)


def _call(func, item):
    """func(item), or the exception it raised: one file's failure must not stop the others."""
    try:
        return func(item)
    except Exception as exc:  # a bug or a RecursionError on one file
        return exc


def _indexed_call(job):
    func, i, item = job
    return i, _call(func, item)


def _map(func, items: list, jobs: int, stage: str, progress: Progress | None,
         initializer=None, initargs=()) -> list:
    """Apply func to items, in a process pool when it pays; an exception becomes the result."""
    total = len(items)
    results: list = [None] * total
    if progress:
        progress(stage, 0, total)
    if _in_process(jobs, total):
        if initializer:
            initializer(*initargs)
        for i, item in enumerate(items):
            results[i] = _call(func, item)
            if progress:
                progress(stage, i + 1, total)
        return results
    pool = _mp_context().Pool(min(jobs, total), initializer=_init_pool_worker,
                              initargs=(initializer, initargs))
    try:
        jobs_iter = ((func, i, item) for i, item in enumerate(items))
        for done, (i, res) in enumerate(pool.imap_unordered(_indexed_call, jobs_iter), 1):
            results[i] = res
            if progress:
                progress(stage, done, total)
        pool.close()
    finally:
        pool.terminate()  # at once on an interrupt; a no-op for workers that already finished
        pool.join()
    return results


def run(
    paths: list[str],
    settings: Settings,
    *,
    fix: bool = False,
    stdin_bytes: bytes | None = None,
    stdin_filename: str | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Discover, read, prefilter and analyse. Nothing is written here."""
    with _no_cyclic_gc():
        return _run(paths, settings, fix, stdin_bytes, stdin_filename, progress)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The analysis makes millions of small objects, nearly none in a cycle, and keeps trees
    alive between its passes; CPython's cyclic collector would walk all of them again and again
    (a fifth of a scan of 1,000 legacy modules). Reference counting frees them just the same;
    the collector is back on afterwards (and in forked workers it stays off too)."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run(paths, settings, fix, stdin_bytes, stdin_filename, progress) -> RunResult:
    from migrate.prefilter import might_need_migration  # pure text, no libcst

    result = RunResult()
    sources = discover(paths, settings, stdin_filename, result.errors)
    result.n_files = len(sources)
    candidates: list[LoadedFile] = []
    # Memory follows the candidates, not the tree: the text of a file the prefilter drops is not
    # kept (it is read again only if the index asks for it, see `related` below).
    passed_over: list[SourceFile] = []
    for src in sources:
        try:
            loaded = load(src, stdin_bytes)
        except OSError as exc:
            result.errors.append(FileError(src.display, f"cannot read: {_describe(exc)}"))
            continue
        except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
            # Like a file that does not parse, a file that does not decode matters only when
            # it could hold an old pattern: a latin-1 reading (which never fails) tells.
            if _could_matter_undecoded(src, stdin_bytes, might_need_migration):
                result.errors.append(FileError(src.display, _undecodable(exc)))
            continue
        result.results[src.display] = FileResult(src.display)
        if might_need_migration(loaded.text):
            candidates.append(loaded)
            result.files.append(loaded)
        elif src.fspath is None:
            result.files.append(loaded)  # stdin cannot be read again; `apply -` echoes it
        else:
            passed_over.append(src)
    result.n_candidates = len(candidates)
    if not candidates:
        return result

    from migrate import analysis  # imports libcst: only now that some file may need it

    # When both passes run in this process, pass one's trees serve pass two: one parse a file.
    keep = _in_process(settings.jobs, len(candidates))
    summaries = _map(
        _summarize,
        [(c.source.display, c.text, c.source.module, keep) for c in candidates],
        settings.jobs, "Indexing", progress,
    )
    good = []
    for loaded, summary in zip(candidates, summaries):
        if isinstance(summary, Exception):
            result.errors.append(
                FileError(loaded.source.display, f"cannot analyse: {_describe(summary)}"))
        elif getattr(summary, "error", None):
            result.errors.append(FileError(loaded.source.display, str(summary.error)))
        else:
            good.append(summary)
    index = analysis.build_index(good, settings.allow_direct_calls)
    by_path = {c.source.display: c for c in candidates}
    related = analysis.related_pattern(index)
    if related is not None:  # files that may call a task directly or import DuckQueue from it
        others = [f for f in _reload(passed_over) if related.search(f.text)]
        result.files += others
        more = _map(_summarize, [(f.source.display, f.text, f.source.module, keep)
                                 for f in others], settings.jobs, "Indexing", progress)
        more = [m for m in more if not isinstance(m, Exception) and m.error is None]
        if more:
            by_path.update((f.source.display, f) for f in others)
            index = analysis.build_index(good + more, settings.allow_direct_calls)
    wanted = index.files_to_fix()
    analysis.keep_only(wanted)
    todo = [(p, by_path[p].text) for p in sorted(wanted) if p in by_path]
    fixed = _map(_fix, todo, settings.jobs, "Analysing", progress,
                 initializer=_init_fix_worker, initargs=(index, settings.selection, fix))
    for (path, _), res in zip(todo, fixed):
        if isinstance(res, Exception):
            result.errors.append(FileError(path, f"cannot analyse: {_describe(res)}"))
            continue
        if res.error:
            result.errors.append(FileError(path, str(res.error)))
            res = FileResult(path, findings=list(res.findings), tasks=res.tasks)
        result.results[path] = res
    analysis.keep_only(frozenset())
    return result


def _reload(sources: list[SourceFile]) -> Iterator[LoadedFile]:
    """The files again, one at a time; those that can no longer be read are left out."""
    for src in sources:
        try:
            yield load(src)
        except (OSError, SyntaxError, UnicodeDecodeError, LookupError):
            continue


def _could_matter_undecoded(src: SourceFile, stdin_bytes: bytes | None, prefilter) -> bool:
    try:
        raw = stdin_bytes if src.fspath is None else src.fspath.read_bytes()
    except OSError:
        return True
    return prefilter((raw or b"").decode("latin-1"))


def _undecodable(exc: SyntaxError | UnicodeDecodeError | LookupError) -> str:
    """What is wrong with a file that does not decode, and what to do about it."""
    fix = ("save it as UTF-8, or declare its encoding on the first or second line "
           "(# -*- coding: latin-1 -*-)")
    if isinstance(exc, UnicodeDecodeError):
        line = exc.object.count(b"\n", 0, exc.start) + 1
        return (f"cannot read: not valid {exc.encoding}: byte 0x{exc.object[exc.start]:02x} "
                f"at line {line}; {fix}")
    why = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    return f"cannot read: {why}; {fix}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f"{exc.msg} (line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, OSError) else (
        exc.strerror or str(exc))


# --------------------------------------------------------------------------------------------
# Atomic file replacement


def _stage(path: Path, data: bytes, mode: int | None) -> str:
    """Write `data` to a new temporary file beside `path`, fsync it, give it the mode and owner
    of `path` (or `mode`); return its name. Nothing at `path` changes yet."""
    folder = path.parent
    try:
        before = os.stat(path)
    except OSError:
        before = None
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".migrate-tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is None and before is not None:
            mode = stat.S_IMODE(before.st_mode)
        if mode is not None:
            os.chmod(tmp, mode)
        if before is not None and hasattr(os, "chown"):
            st = os.stat(tmp)
            if (st.st_uid, st.st_gid) != (before.st_uid, before.st_gid):
                try:
                    os.chown(tmp, before.st_uid, before.st_gid)
                except OSError:
                    pass
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    """Make the renames in `folder` durable (where the platform allows it)."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def atomic_write(path: Path, data: bytes, mode: int | None) -> None:
    """Write a temporary file beside `path`, fsync it, give it `mode`, then os.replace.

    A symlink is followed (the file it points to is replaced, the link stays), and the owner
    of an existing file is kept where the permissions allow it.
    """
    path = Path(os.path.realpath(path))
    tmp = _stage(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _fsync_dir(path.parent)


# --------------------------------------------------------------------------------------------
# Interrupts


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; the command stops with exit code 128 + the signal number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _signal_handlers(handler) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread can set handlers; the signals go there anyway
        return
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def interrupts_raise():
    """While active, SIGINT and SIGTERM raise Interrupted (SIGTERM would otherwise kill the
    process wherever it is, a write phase included)."""

    def handler(signum, frame):
        raise Interrupted(signum)

    return _signal_handlers(handler)


@contextmanager
def _interrupts_deferred() -> Iterator[list[int]]:
    """While active, SIGINT and SIGTERM are only noted: a rollback must run to its end."""
    arrived: list[int] = []
    with _signal_handlers(lambda signum, frame: arrived.append(signum)):
        yield arrived


# --------------------------------------------------------------------------------------------
# Writing


def verify(new_source: str, path: str, parse: bool = True) -> None:
    """Compile the new text and (unless ``parse`` is false) parse it with LibCST; raises
    ValueError when either fails. The LibCST parse, which keeps the file open to the next run,
    costs as much as the analysis' own parse: ``apply --dry-run`` writes nothing and skips it."""
    try:
        compile(new_source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        raise ValueError(f"the rewritten text does not compile: {_describe(exc)}") from None
    if not parse:
        return
    import libcst

    try:
        libcst.parse_module(new_source)
    except Exception as exc:  # libcst.ParserSyntaxError and friends
        raise ValueError(f"the rewritten text does not parse: {exc}") from None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def project_root(paths: list[str]) -> Path:
    """The nearest folder holding pyproject.toml or .git above the first path, else the cwd."""
    start = _start_folder([p for p in paths if p != STDIN] or [STDIN]).resolve()
    for folder in [start, *start.parents]:
        if os.path.exists(folder / "pyproject.toml") or os.path.exists(folder / ".git"):
            return folder
    return Path.cwd().resolve()


@dataclass
class ApplyResult:
    written: list[str] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    backup_dir: Path | None = None
    # The write phase failed or was interrupted after some files were replaced: these were put
    # back to their original bytes, and these could not be (they hold the rewritten text).
    rolled_back: list[str] = field(default_factory=list)
    not_rolled_back: list[FileError] = field(default_factory=list)
    aborted: bool = False  # the write phase started and failed: see rolled_back
    interrupted: Interrupted | None = None


def _rel_for_manifest(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def encode_source(text: str, encoding: str) -> bytes:
    return text.encode(encoding)


@dataclass
class _Change:
    """One file of the write phase: its original, its new bytes, and how far it got."""

    loaded: LoadedFile
    data: bytes
    target: Path  # symlinks followed: the file that is really replaced
    tmp: str | None = None  # the staged new content, beside the target
    replaced: bool = False

    @property
    def shown(self) -> str:
        return self.loaded.source.display


def _read_only_reason(loaded: LoadedFile) -> str | None:
    """Why a file must not be rewritten without --allow-read-only, or None."""
    if loaded.mode is not None and not loaded.mode & 0o222:
        return f"the file is read-only (mode {loaded.mode:04o}); make it writable, or pass --allow-read-only"
    if not os.access(loaded.source.fspath, os.W_OK):
        # the mode allows writing (an immutable file, an ACL, another owner): the flag would only
        # move the failure to the write, where the whole run is put back
        return "permission denied (or the file is immutable); make it writable"
    return None


def plan_changes(run_result: RunResult, allow_read_only: bool, out: ApplyResult,
                 parse: bool = True) -> list[_Change]:
    """Check every rewrite before anything is written: it parses and compiles, its file was not
    edited during the run and may be written. The refusals go to ``out.errors``; ``apply
    --dry-run`` runs the same checks, so that it shows what ``apply`` would really do."""
    planned: list[_Change] = []
    for loaded, new_text in run_result.changed():
        if loaded.source.fspath is None:
            continue  # stdin: the caller prints the new text
        shown = loaded.source.display
        try:
            verify(new_text, shown, parse)
            data = encode_source(new_text, loaded.encoding)
        except (ValueError, UnicodeEncodeError) as exc:
            out.errors.append(FileError(shown, f"cannot be rewritten: {exc}"))
            continue
        if not _unchanged_on_disk(loaded):
            out.errors.append(FileError(shown, "changed on disk during the run"))
            continue
        reason = None if allow_read_only else _read_only_reason(loaded)
        if reason:
            out.errors.append(FileError(shown, f"not rewritten: {reason}"))
            continue
        planned.append(_Change(loaded, data, Path(os.path.realpath(loaded.source.fspath))))
    return _without_linked(planned, run_result, out)


def _without_linked(planned: list[_Change], run_result: RunResult, out: ApplyResult
                    ) -> list[_Change]:
    """``planned`` less the files that share a task's rewrite with a file that cannot be
    written or analysed: a task and the sites that enqueue it change together or not at all,
    while the files of other tasks are still written."""
    def tasks_of(path: str) -> frozenset[str]:
        res = run_result.results.get(path)
        return res.tasks if res is not None else frozenset()

    blocked_by: dict[str, str] = {}  # task key -> the file that keeps its rewrite from happening
    for error in [*run_result.errors, *out.errors]:
        for task in tasks_of(error.path):
            blocked_by.setdefault(task, error.path)
    changed = True
    while changed:
        changed = False
        for change in list(planned):
            hit = next((t for t in sorted(tasks_of(change.shown)) if t in blocked_by), None)
            if hit is None:
                continue
            planned.remove(change)
            out.errors.append(FileError(change.shown, f"not written: its rewrite goes with "
                                                      f"{blocked_by[hit]}, which cannot be rewritten"))
            for task in tasks_of(change.shown):
                blocked_by.setdefault(task, blocked_by[hit])
            changed = True
    return planned


def write_changes(run_result: RunResult, *, backup: bool = False, root: Path | None = None,
                  allow_read_only: bool = False) -> ApplyResult:
    """Write every changed file that passes the checks, all or nothing.

    First every rewrite is checked (it parses and compiles, the file did not change during the
    run, it is not read-only). A file that fails is reported and left alone, and so is every
    file that shares a task's rewrite with it (a task in one module, its enqueue sites in
    another), while the rewrites of other tasks go on. The rest is one transaction: the new contents are staged as temporary
    files beside their targets (a read-only folder or a full disk fails here, before any file
    changes); then the originals are backed up when asked; then each target is replaced. When
    anything fails, or SIGINT/SIGTERM arrives, the files already replaced get their original
    bytes back, the staged files are removed, and the result says so.
    """
    out = ApplyResult()
    planned = plan_changes(run_result, allow_read_only, out)
    if not planned:
        return out
    backup_dir: Path | None = None
    try:
        with interrupts_raise():
            for change in planned:
                try:
                    change.tmp = _stage(change.target, change.data, change.loaded.mode)
                except OSError as exc:
                    raise _WriteFailed(change, exc) from None
            if backup:
                root = (root or project_root([planned[0].shown])).resolve()
                backup_dir = _write_backup(planned, root)
            for change in planned:
                if not _unchanged_on_disk(change.loaded):
                    raise _WriteFailed(change, None)
                try:
                    os.replace(change.tmp, change.target)
                except OSError as exc:
                    raise _WriteFailed(change, exc) from None
                change.tmp = None
                change.replaced = True
    except (_WriteFailed, Interrupted) as exc:
        out.aborted = True
        with _interrupts_deferred():
            _roll_back(planned, out)
            if backup_dir is not None and not out.not_rolled_back:
                _remove_tree(backup_dir)
                _remove_if_empty(backup_dir.parent)
            elif backup_dir is not None:
                out.backup_dir = backup_dir
        if isinstance(exc, Interrupted):
            out.interrupted = exc
        else:
            why = f"not written: {_describe(exc.error)}" if exc.error else (
                "not written: changed on disk during the run")
            out.errors.append(FileError(exc.change.shown, why))
        return out
    for folder in {change.target.parent for change in planned}:
        _fsync_dir(folder)
    out.written = [change.shown for change in planned]
    out.backup_dir = backup_dir
    return out


class _WriteFailed(Exception):
    def __init__(self, change: _Change, error: OSError | None):
        super().__init__(change.shown)
        self.change = change
        self.error = error


def _roll_back(planned: list[_Change], out: ApplyResult) -> None:
    """Put back the original bytes of every file already replaced; remove the staged files."""
    for change in planned:
        if change.tmp is not None:
            _unlink_quietly(change.tmp)
            change.tmp = None
        if not change.replaced:
            continue
        try:
            atomic_write(change.target, change.loaded.raw, change.loaded.mode)
        except OSError as exc:
            out.not_rolled_back.append(FileError(change.shown, _describe(exc)))
            continue
        out.rolled_back.append(change.shown)


def _write_backup(planned: list[_Change], root: Path) -> Path:
    """Copy the originals and write the manifest, before any file is replaced: even a crash
    half way through the replacing leaves a way back (restore sees which file holds what)."""
    backup_dir = _new_backup_dir(root)
    files = []
    for change in planned:
        rel = _rel_for_manifest(change.loaded.source.fspath.resolve(), root)
        copy_name = ("files/" + rel if not os.path.isabs(rel)
                     else f"outside/{len(files)}/{change.target.name}")
        copy = backup_dir / copy_name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(change.loaded.raw)
        files.append({
            "path": rel,
            "copy": copy_name,
            "original_sha256": sha256(change.loaded.raw),
            "rewritten_sha256": sha256(change.data),
            "mode": change.loaded.mode,
        })
    _write_manifest(backup_dir, _manifest(backup_dir, root, files))
    return backup_dir


def _manifest(backup_dir: Path, root: Path, files: list[dict]) -> dict:
    return {"version": 1, "root": str(root), "created": backup_dir.name, "files": files}


def _unchanged_on_disk(loaded: LoadedFile) -> bool:
    try:
        with open(loaded.source.fspath, "rb") as fh:
            return fh.read() == loaded.raw
    except OSError:
        return False


def _new_backup_dir(root: Path) -> Path:
    base = root / BACKUP_DIR_NAME
    base.mkdir(exist_ok=True)
    ignore = base / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# migrate backups: not for version control\n*\n", encoding="utf-8")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = base / stamp
    n = 1
    while folder.exists():
        folder = base / f"{stamp}-{n}"
        n += 1
    folder.mkdir()
    return folder


def _write_manifest(folder: Path, manifest: dict) -> None:
    atomic_write(folder / MANIFEST_NAME,
                 (json.dumps(manifest, indent=2) + "\n").encode("utf-8"), None)


def _remove_tree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _remove_if_empty(folder: Path) -> None:
    try:
        entries = [e for e in os.listdir(folder) if e != ".gitignore"]
        if not entries:
            ignore = folder / ".gitignore"
            if ignore.exists():
                ignore.unlink()
            folder.rmdir()
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# Restore


@dataclass
class RestoreResult:
    restored: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already held the original bytes
    backup_dir: Path | None = None
    backup_removed: bool = False  # every file of that backup is back: the backup was deleted


def _under(path: Path, targets: list[Path]) -> bool:
    return any(path == t or t in path.parents for t in targets)


def list_backups(root: Path) -> list[Path]:
    base = root / BACKUP_DIR_NAME
    if not base.is_dir():
        return []
    return sorted(
        (d for d in base.iterdir() if (d / MANIFEST_NAME).is_file()), key=lambda d: d.name,
        reverse=True,
    )


def read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MigrateError(f"cannot read backup manifest {folder / MANIFEST_NAME}: {exc}")


@dataclass
class BackupInfo:
    """One backup made by `apply --backup`: its id (the folder name) and the files it holds."""

    id: str
    folder: Path
    files: list[Path]  # the files it would put back, absolute


def backups(root: Path) -> list[BackupInfo]:
    """The backups of the project at `root`, newest first."""
    return [BackupInfo(folder.name, folder,
                       [_entry_path(e, root) for e in read_manifest(folder).get("files", [])])
            for folder in list_backups(root)]


def find_backup(root: Path, backup_id: str) -> Path:
    """The backup folder named `backup_id`, or the only one whose name starts with it."""
    found = list_backups(root)
    exact = [f for f in found if f.name == backup_id]
    matches = exact or [f for f in found if f.name.startswith(backup_id)]
    if len(matches) == 1:
        return matches[0]
    where = root / BACKUP_DIR_NAME
    if not matches:
        known = ", ".join(f.name for f in found) or "none"
        raise MigrateError(f"no backup {backup_id!r} in {where} (backups: {known}; "
                           "`migrate restore --list` shows them)")
    raise MigrateError(f"backup id {backup_id!r} is ambiguous: "
                       f"{', '.join(f.name for f in matches)}")


def restore(paths: list[str], *, force: bool = False, root: Path | None = None,
            backup_id: str | None = None) -> RestoreResult:
    """Put back, byte for byte, what a backup changed under `paths`: the backup `backup_id`,
    else the newest backup holding files under them. With `backup_id` and no paths, every file
    of that backup."""
    if STDIN in paths or not (paths or backup_id):
        raise MigrateError("restore needs file or folder paths (or --backup-id)")
    root = (root or project_root(paths or ["."])).resolve()
    targets = [Path(p).absolute().resolve() for p in paths] or [root]
    if backup_id is not None:
        candidates = [find_backup(root, backup_id)]
    else:
        candidates = list_backups(root)
    chosen = None
    for folder in candidates:
        manifest = read_manifest(folder)
        entries = [e for e in manifest.get("files", [])
                   if _under(_entry_path(e, root), targets)]
        if entries:
            chosen = (folder, manifest, entries)
            break
    if chosen is None and backup_id is not None:
        raise MigrateError(f"backup {candidates[0].name} holds no files under {', '.join(paths)}")
    if chosen is None:
        raise MigrateError(
            f"no backup holds files under {', '.join(paths)} (looked in {root / BACKUP_DIR_NAME};"
            " backups are made by `migrate apply --backup`)")
    folder, manifest, entries = chosen

    plan = []
    conflicts = []
    for e in entries:
        target = _entry_path(e, root)
        shown = _shown(target)
        original = (folder / e["copy"]).read_bytes()
        if sha256(original) != e["original_sha256"]:
            raise MigrateError(f"the backup copy of {shown} is damaged (sha256 differs); "
                               f"left everything as it is")
        try:
            current = target.read_bytes()
        except FileNotFoundError:
            current = None
        if current is not None and sha256(current) == e["original_sha256"]:
            plan.append((e, target, shown, None))  # nothing to write
        elif current is not None and sha256(current) == e["rewritten_sha256"] or force:
            plan.append((e, target, shown, original))
        else:
            conflicts.append(shown if current is not None else f"{shown} (deleted)")
    if conflicts:
        raise RestoreConflict(conflicts)

    out = RestoreResult(backup_dir=folder)
    for e, target, shown, original in plan:
        if original is None:
            out.unchanged.append(shown)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, original, e.get("mode"))
            out.restored.append(shown)
    # The restored entries leave the backup; an emptied backup is removed.
    done = {id(e) for e in entries}
    remaining = [e for e in manifest["files"] if id(e) not in done]
    if remaining:
        manifest["files"] = remaining
        _write_manifest(folder, manifest)
        for e in entries:
            try:
                (folder / e["copy"]).unlink()
            except OSError:
                pass
    else:
        _remove_tree(folder)
        _remove_if_empty(folder.parent)
        out.backup_removed = True
    return out


def _entry_path(entry: dict, root: Path) -> Path:
    p = Path(entry["path"])
    return p if p.is_absolute() else root / p


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Diffs


def _split_lines(text: str) -> list[str]:
    """Lines with their endings, split only where Python source lines end (not at form feeds)."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", text)


def unified_diff(old: str, new: str, path: str) -> str:
    """A unified diff of two texts; a missing final newline is marked like diff(1) does."""
    lines = []
    for line in difflib.unified_diff(
        _split_lines(old), _split_lines(new),
        fromfile=f"a/{path}", tofile=f"b/{path}",
    ):
        if not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"
        lines.append(line)
    return "".join(lines)
