"""The engine: discovery, settings, reading, writing, backup and restore, end to end runs."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from migrate import engine
from migrate.engine import (
    FileError,
    IgnoreFile,
    LoadedFile,
    MigrateError,
    RestoreConflict,
    RunResult,
    Settings,
    SourceFile,
)
from migrate.model import FileResult

DATA = Path(__file__).parent / "data_legacy"


def write(path: Path, text: str = "", data: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if data is not None:
        path.write_bytes(data)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def names(files) -> list[str]:
    return sorted(Path(f.display).as_posix() for f in files)


@pytest.fixture
def legacy(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the legacy sample project, as the current folder."""
    project = tmp_path / "proj"
    shutil.copytree(DATA, project)
    monkeypatch.chdir(project)
    return project


# --------------------------------------------------------------------------------------------
# .gitignore patterns


@pytest.mark.parametrize(
    "pattern, path, is_dir, expected",
    [
        ("*.log", "a.log", False, True),
        ("*.log", "deep/down/a.log", False, True),
        ("*.log", "a.log.txt", False, False),
        ("build/", "build", True, True),
        ("build/", "build", False, False),  # dir-only pattern, a file named build
        ("build/", "src/build", True, True),
        ("/top.py", "top.py", False, True),
        ("/top.py", "sub/top.py", False, False),
        ("docs/*.py", "docs/conf.py", False, True),
        ("docs/*.py", "sub/docs/conf.py", False, False),  # a middle slash anchors
        ("docs/*.py", "docs/api/conf.py", False, False),  # * does not cross /
        ("**/gen", "gen", True, True),
        ("**/gen", "a/b/gen", True, True),
        ("gen/**", "gen/a/b.py", False, True),
        ("gen/**", "gen", True, False),
        ("a/**/z.py", "a/z.py", False, True),
        ("a/**/z.py", "a/b/c/z.py", False, True),
        ("a/**/z.py", "b/a/z.py", False, False),
        ("file?.py", "file1.py", False, True),
        ("file?.py", "file10.py", False, False),
        ("[abc]x.py", "bx.py", False, True),
        ("[!abc]x.py", "bx.py", False, False),
        ("[!abc]x.py", "dx.py", False, True),
        ("\\#lit.py", "#lit.py", False, True),
        ("name\\ ", "name ", False, True),
        ("trailing   ", "trailing", False, True),
    ],
)
def test_ignore_pattern(tmp_path, pattern, path, is_dir, expected):
    layer = IgnoreFile.from_lines([pattern], tmp_path)
    assert engine.is_ignored([layer], tmp_path / path, is_dir) is expected


def test_ignore_comments_blank_and_negation(tmp_path):
    silent = IgnoreFile.from_lines(["# comment", "   "], tmp_path)
    assert silent.check(tmp_path / "# comment", False) is None
    layer = IgnoreFile.from_lines(["*_pb2.py", "!keep_pb2.py"], tmp_path)
    assert engine.is_ignored([layer], tmp_path / "x_pb2.py", False)
    assert not engine.is_ignored([layer], tmp_path / "keep_pb2.py", False)
    assert not engine.is_ignored([layer], tmp_path / "other.py", False)
    # a deeper layer that takes a file back wins over the one above it
    deeper = IgnoreFile.from_lines(["!x_pb2.py"], tmp_path)
    assert not engine.is_ignored([layer, deeper], tmp_path / "x_pb2.py", False)


@pytest.fixture
def git_home(tmp_path: Path, monkeypatch) -> Path:
    """A HOME of its own, with no global git configuration beyond what a test writes."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return home


def test_the_global_excludes_file_counts(tree, git_home):
    # git's default place, ~/.config/git/ignore (XDG_CONFIG_HOME unset)
    write(git_home / ".config" / "git" / "ignore", "main.py\n")
    assert "main.py" not in names(engine.discover(["."], Settings()))
    # core.excludesFile, with ~ expanded; a repository's .gitignore can take a file back
    if shutil.which("git") is None:
        pytest.skip("needs git for core.excludesFile")
    write(git_home / "global-ignore", "deep.py\nx_pb2.py\n")
    write(git_home / ".gitconfig", "[core]\n\texcludesFile = ~/global-ignore\n")
    found = names(engine.discover(["."], Settings()))
    assert "pkg/sub/deep.py" not in found
    assert "main.py" in found  # the default file is not read when core.excludesFile is set
    write(tree / "pkg" / ".gitignore", "local.py\n!deep.py\n")
    assert "pkg/sub/deep.py" in names(engine.discover(["."], Settings()))


# --------------------------------------------------------------------------------------------
# Discovery


@pytest.fixture
def tree(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    write(root / ".gitignore", "# generated code\ngenerated/\n*_pb2.py\n!keep_pb2.py\n/top_only.py\n")
    for rel in [
        "main.py", "top_only.py", "x_pb2.py", "keep_pb2.py", "notes.txt",
        "generated/gen.py",
        "pkg/__init__.py", "pkg/mod.py", "pkg/top_only.py", "pkg/local.py", "pkg/sub/deep.py",
        "env/lib/site.py", ".venv/lib/a.py", "venv/b.py", "lib/site-packages/c.py",
        ".hidden/h.py", "__pycache__/p.py", "node_modules/n.py", "build/b.py", "dist/d.py",
        "thing.egg-info/e.py", "tests/test_main.py", "tests/fixtures/big.py",
    ]:
        write(root / rel, "x = 1\n")
    write(root / "env" / "pyvenv.cfg", "home = /usr/bin\n")
    write(root / "pkg" / ".gitignore", "local.py\n")
    monkeypatch.chdir(root)
    return root


def test_walk_respects_gitignore_and_skips_environments(tree):
    found = engine.discover(["."], Settings())
    assert names(found) == [
        "keep_pb2.py", "main.py", "pkg/__init__.py", "pkg/mod.py", "pkg/sub/deep.py",
        "pkg/top_only.py", "tests/fixtures/big.py", "tests/test_main.py",
    ]


def test_gitignore_of_the_folders_above_a_scan_root_counts(tree):
    write(tree / ".gitignore", "mod.py\n")
    found = engine.discover(["pkg"], Settings())
    assert names(found) == ["pkg/__init__.py", "pkg/sub/deep.py", "pkg/top_only.py"]


def test_a_folder_named_on_the_command_line_is_walked_even_when_ignored(tree):
    # the .gitignore above says generated/: naming the folder itself still scans it
    assert names(engine.discover(["generated"], Settings())) == ["generated/gen.py"]


def test_git_info_exclude_counts(tree):
    write(tree / ".git" / "info" / "exclude", "deep.py\n")
    assert "pkg/sub/deep.py" not in names(engine.discover(["."], Settings()))


def test_exclude_option_and_explicit_files(tree):
    settings = engine.load_settings(["."], exclude=["tests/fixtures", "deep.py"])
    found = names(engine.discover(["."], settings))
    assert "tests/fixtures/big.py" not in found and "pkg/sub/deep.py" not in found
    assert "tests/test_main.py" in found
    # A file named on the command line is read even when .gitignore ignores it...
    assert names(engine.discover(["x_pb2.py"], Settings())) == ["x_pb2.py"]
    # ...but --exclude applies to it, directly or through its folder.
    assert engine.discover(["pkg/sub/deep.py"], settings) == []
    assert engine.discover(["tests/fixtures/big.py"], settings) == []


def test_missing_path_is_a_usage_error(tree):
    with pytest.raises(MigrateError, match="path not found: nope.py"):
        engine.discover(["main.py", "nope.py"], Settings())


def test_scan_root_may_be_a_hidden_folder(tree):
    assert names(engine.discover([".hidden"], Settings())) == [".hidden/h.py"]


def test_symlinked_folders_are_not_followed(tree):
    (tree / "pkg" / "loop").symlink_to(tree, target_is_directory=True)
    found = names(engine.discover(["."], Settings()))
    assert not any("loop" in f for f in found) and "main.py" in found


def test_duplicates_are_read_once(tree):
    found = engine.discover(["main.py", "./main.py", "."], Settings())
    assert names(found).count("main.py") == 1


def test_module_names(tmp_path):
    write(tmp_path / "src" / "app" / "__init__.py")
    mod = write(tmp_path / "src" / "app" / "jobs" / "etl.py")
    write(tmp_path / "src" / "app" / "jobs" / "__init__.py")
    assert engine.module_name(mod) == "app.jobs.etl"
    assert engine.module_name(tmp_path / "src" / "app" / "__init__.py") == "app"
    script = write(tmp_path / "scripts" / "tasks.py")
    assert engine.module_name(script) == "tasks"
    assert engine.module_name(write(tmp_path / "my-script.py")) is None


# --------------------------------------------------------------------------------------------
# Settings


def test_settings_from_pyproject_and_cli_overrides(tmp_path, monkeypatch):
    write(tmp_path / "pyproject.toml", """
[tool.queuack.migrate]
select = ["QM001", "QM002"]
ignore = "QM002"
exclude = ["legacy/"]
extend-exclude = ["vendor/"]
jobs = 3
""")
    for rel in ["a.py", "legacy/b.py", "vendor/c.py", "sub/d.py"]:
        write(tmp_path / rel, "x = 1\n")
    monkeypatch.chdir(tmp_path / "sub")
    s = engine.load_settings([str(tmp_path)])
    assert s.selection.select == {"QM001", "QM002"} and s.selection.ignore == {"QM002"}
    assert s.jobs == 3
    assert s.config_path == tmp_path / "pyproject.toml"
    assert names(engine.discover([str(tmp_path)], s)) == sorted(
        Path(tmp_path / r).as_posix() for r in ["a.py", "sub/d.py"])
    # Command-line options win; --exclude replaces `exclude`, `extend-exclude` stays.
    s = engine.load_settings([str(tmp_path)], select="QM003", ignore="", exclude=["a.py"],
                             jobs=1)
    assert s.selection.select == {"QM003"} and s.selection.ignore == frozenset()
    assert s.jobs == 1
    assert names(engine.discover([str(tmp_path)], s)) == sorted(
        Path(tmp_path / r).as_posix() for r in ["legacy/b.py", "sub/d.py"])


def test_settings_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pyproject.toml", "[tool.queuack.migrate]\nselekt = ['QM001']\n")
    with pytest.raises(MigrateError, match="unknown key.*selekt.*known keys: select"):
        engine.load_settings(["."])
    write(tmp_path / "pyproject.toml", "[tool.queuack.migrate]\nselect = ['QM999']\n")
    with pytest.raises(MigrateError, match="unknown rule code 'QM999'.*known codes: QM001"):
        engine.load_settings(["."])
    write(tmp_path / "pyproject.toml", "[tool.queuack.migrate]\njobs = 'many'\n")
    with pytest.raises(MigrateError, match="jobs"):
        engine.load_settings(["."])
    write(tmp_path / "pyproject.toml", "[tool.other]\n")
    with pytest.raises(MigrateError, match="unknown rule code 'XX1' in --ignore"):
        engine.load_settings(["."], ignore="XX1")
    assert engine.load_settings(["."], select="qm0,QM001").selection.select == {"QM0", "QM001"}
    assert engine.load_settings(["."], jobs=0).jobs == (os.cpu_count() or 1)


# --------------------------------------------------------------------------------------------
# Reading


def test_decode_keeps_bom_cookie_and_newlines():
    text, enc = engine.decode_source(b"\xef\xbb\xbfx = 1\r\ny = 2\r\n")
    assert (text, enc) == ("x = 1\r\ny = 2\r\n", "utf-8-sig")
    text, enc = engine.decode_source(b"# -*- coding: latin-1 -*-\nname = '\xe9'\n")
    assert enc == "iso-8859-1" and "é" in text
    assert engine.decode_source(b"x = 1\n") == ("x = 1\n", "utf-8")


def test_undecodable_files_are_reported_and_the_others_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "bad_bytes.py", data=b"s = '\xff\xfe'\nq.get_result(pid)\n")
    write(tmp_path / "bad_cookie.py", data=b"# coding: klingon\nq.get_result(pid)\n")
    write(tmp_path / "latin1.py", data=b"import os\n\ns = 'caf\xe9'\nq.get_result(pid)\n")
    write(tmp_path / "good.py", "x = 1\n")
    # Like a file that does not parse, one that does not decode but cannot hold an old
    # pattern (the prefilter says so) is skipped without a word.
    write(tmp_path / "irrelevant.py", data=b"# coding: klingon\nx = '\xff'\n")
    result = engine.run(["."], Settings())
    assert result.n_files == 5
    assert list(result.results) == ["good.py"]
    assert result.files == []  # the text of a file with nothing to do is not kept
    assert sorted(e.path for e in result.errors) == ["bad_bytes.py", "bad_cookie.py", "latin1.py"]
    # what is wrong, where, and what to do
    messages = {e.path: e.message for e in result.errors}
    assert messages["latin1.py"].startswith("cannot read: not valid utf-8: byte 0xe9 at line 3; "
                                            "save it as UTF-8, or declare its encoding")
    assert messages["bad_bytes.py"].startswith("cannot read: invalid or missing encoding "
                                               "declaration; save it as UTF-8")
    assert messages["bad_cookie.py"].startswith("cannot read: unknown encoding: klingon; save it")
    assert "(# -*- coding: latin-1 -*-)" in messages["bad_cookie.py"]


# --------------------------------------------------------------------------------------------
# Writing


def test_atomic_write_keeps_mode_and_leaves_no_temporary_file(tmp_path):
    target = write(tmp_path / "run.py", "old\n")
    target.chmod(0o750)
    engine.atomic_write(target, b"new\n", 0o750)
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert os.listdir(tmp_path) == ["run.py"]


def test_atomic_write_follows_a_symlink(tmp_path):
    real = write(tmp_path / "real.py", "old\n")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    engine.atomic_write(link, b"new\n", None)
    assert link.is_symlink() and real.read_bytes() == b"new\n"


def test_atomic_write_failure_leaves_the_original(tmp_path, monkeypatch):
    target = write(tmp_path / "a.py", "old\n")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(engine.os, "replace", boom)
    with pytest.raises(OSError):
        engine.atomic_write(target, b"new\n", None)
    assert target.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["a.py"]


def _planned_run(path: Path, new_text: str) -> RunResult:
    """A run result whose analysis asked to replace `path`'s text with `new_text`."""
    src = SourceFile(os.path.relpath(path), path, None)
    loaded = engine.load(src)
    result = RunResult(files=[loaded], n_files=1)
    result.results[src.display] = FileResult(src.display, [], new_text)
    return result


def test_write_keeps_bom_crlf_encoding_and_mode(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bom = write(tmp_path / "bom.py", data=b"\xef\xbb\xbfx = 1\r\ny = 2\r\n")
    bom.chmod(0o755)
    result = _planned_run(bom, "x = 1\r\ny = 3\r\n")
    assert engine.write_changes(result).written == ["bom.py"]
    assert bom.read_bytes() == b"\xef\xbb\xbfx = 1\r\ny = 3\r\n"
    assert stat.S_IMODE(bom.stat().st_mode) == 0o755

    latin = write(tmp_path / "latin.py", data=b"# coding: latin-1\ns = '\xe9'\n")
    result = _planned_run(latin, "# coding: latin-1\ns = '\xe9\xe8'\n")
    assert engine.write_changes(result).written == ["latin.py"]
    assert latin.read_bytes() == b"# coding: latin-1\ns = '\xe9\xe8'\n"


def test_a_rewrite_that_does_not_parse_or_compile_is_not_written_nor_what_goes_with_it(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = write(tmp_path / "a.py", "x = 1\n")
    b = write(tmp_path / "b.py", "y = 1\n")
    c = write(tmp_path / "c.py", "z = 1\n")
    for broken in ["def f(:\n", "def f():\n    return\n    yield 1\nreturn 2\n",
                   "def f(a, a):\n    pass\n"]:
        result = _planned_run(a, "x = 2\n")
        for path, text in ((b, broken), (c, "z = 2\n")):
            other = _planned_run(path, text)
            result.files += other.files
            result.results.update(other.results)
        # a and b take part in the rewrite of one task (its definition and its enqueue site)
        result.results["a.py"].tasks = result.results["b.py"].tasks = frozenset({"t.py::f"})
        out = engine.write_changes(result)
        assert out.written == ["c.py"]
        messages = {e.path: e.message for e in out.errors}
        assert messages["b.py"].startswith("cannot be rewritten: the rewritten text does not")
        assert messages["a.py"] == "not written: its rewrite goes with b.py, which cannot be rewritten"
        assert a.read_text() == "x = 1\n" and b.read_text() == "y = 1\n"
        c.write_text("z = 1\n")


def test_a_file_edited_during_the_run_is_not_overwritten(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = write(tmp_path / "a.py", "x = 1\n")
    result = _planned_run(a, "x = 2\n")
    a.write_text("x = 'edited'\n")
    out = engine.write_changes(result)
    assert out.written == [] and "changed on disk" in out.errors[0].message
    assert a.read_text() == "x = 'edited'\n"


def test_unchanged_text_is_not_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = write(tmp_path / "a.py", "x = 1\n")
    before = a.stat().st_mtime_ns
    result = _planned_run(a, "x = 1\n")
    assert result.changed() == []
    assert engine.write_changes(result).written == []
    assert a.stat().st_mtime_ns == before


def test_unified_diff_keeps_line_endings_and_marks_a_missing_final_newline():
    diff = engine.unified_diff("a = 1\r\nb = 2", "a = 1\r\nb = 3", "x.py")
    assert diff.splitlines(keepends=True) == [
        "--- a/x.py\n", "+++ b/x.py\n", "@@ -1,2 +1,2 @@\n", " a = 1\r\n",
        "-b = 2\n", "\\ No newline at end of file\n", "+b = 3\n",
        "\\ No newline at end of file\n",
    ]
    assert engine.unified_diff("same\n", "same\n", "x.py") == ""


# --------------------------------------------------------------------------------------------
# Backup and restore


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "project"
    write(root / "pyproject.toml", "[project]\nname = 'p'\n")
    monkeypatch.chdir(root)
    return root


def _apply(paths_and_texts: dict[Path, str], backup=True):
    result = RunResult()
    for path, new in paths_and_texts.items():
        r = _planned_run(path, new)
        result.files += r.files
        result.results.update(r.results)
    return engine.write_changes(result, backup=backup)


def test_backup_and_restore_are_byte_exact(project):
    a = write(project / "pkg" / "a.py", data=b"\xef\xbb\xbfx = 1\r\n")
    a.chmod(0o640)
    b = write(project / "b.py", "y = 1\n")
    out = _apply({a: "x = 2\r\n", b: "y = 2\n"})
    assert out.backup_dir.parent == project / ".migrate-backup"
    manifest = json.loads((out.backup_dir / "manifest.json").read_text())
    entry = {e["path"]: e for e in manifest["files"]}["pkg/a.py"]
    assert entry["mode"] == 0o640
    assert entry["original_sha256"] == engine.sha256(b"\xef\xbb\xbfx = 1\r\n")
    assert entry["rewritten_sha256"] == engine.sha256(a.read_bytes())
    # The backup folder keeps itself out of git and out of the scans.
    assert (project / ".migrate-backup" / ".gitignore").read_text().strip().endswith("*")
    assert names(engine.discover(["."], Settings())) == ["b.py", "pkg/a.py"]

    a.chmod(0o600)
    restored = engine.restore(["."])
    assert sorted(restored.restored) == ["b.py", os.path.join("pkg", "a.py")]
    assert a.read_bytes() == b"\xef\xbb\xbfx = 1\r\n" and b.read_text() == "y = 1\n"
    assert stat.S_IMODE(a.stat().st_mode) == 0o640
    # The emptied backup is gone; nothing is left to restore.
    assert not (project / ".migrate-backup").exists()
    with pytest.raises(MigrateError, match="no backup holds files"):
        engine.restore(["."])


def test_restore_refuses_files_edited_since_unless_forced(project):
    a = write(project / "a.py", "x = 1\n")
    b = write(project / "b.py", "y = 1\n")
    _apply({a: "x = 2\n", b: "y = 2\n"})
    a.write_text("x = 'my edit'\n")
    with pytest.raises(RestoreConflict) as info:
        engine.restore(["."])
    assert info.value.paths == ["a.py"] and "a.py" in str(info.value)
    assert b.read_text() == "y = 2\n"  # nothing restored at all
    engine.restore(["."], force=True)
    assert a.read_text() == "x = 1\n" and b.read_text() == "y = 1\n"


def test_restore_by_path_and_undo_stack(project):
    a = write(project / "a.py", "x = 1\n")
    b = write(project / "sub" / "b.py", "y = 1\n")
    _apply({a: "x = 2\n", b: "y = 2\n"})
    _apply({a: "x = 3\n"})
    # Only sub/: the newest backup holding files under sub/ is the first one.
    assert engine.restore(["sub"]).restored == [os.path.join("sub", "b.py")]
    assert b.read_text() == "y = 1\n" and a.read_text() == "x = 3\n"
    # Restoring a.py steps back one apply at a time.
    engine.restore(["a.py"])
    assert a.read_text() == "x = 2\n"
    engine.restore(["a.py"])
    assert a.read_text() == "x = 1\n"
    assert not (project / ".migrate-backup").exists()


def test_restore_skips_files_already_original(project):
    a = write(project / "a.py", "x = 1\n")
    _apply({a: "x = 2\n"})
    a.write_text("x = 1\n")
    result = engine.restore(["a.py"])
    assert result.restored == [] and result.unchanged == ["a.py"]


def test_apply_without_changes_leaves_no_backup(project):
    a = write(project / "a.py", "x = 1\n")
    assert _apply({a: "x = 1\n"}).backup_dir is None
    assert not (project / ".migrate-backup").exists()


# --------------------------------------------------------------------------------------------
# Whole runs with the real analysis


def test_run_finds_and_fixes_the_legacy_project(legacy):
    settings = engine.load_settings(["."], jobs=1)
    scan = engine.run(["."], settings)
    assert scan.errors == []
    assert scan.n_files == 4
    by_file = {f.path for f in scan.findings}
    assert {"tasks.py", "single.py"} <= by_file
    assert "clean.py" not in by_file
    assert all(f.rule.startswith("QM") for f in scan.findings)
    assert scan.changed() == []  # a scan asks for no rewrite

    fixed = engine.run(["."], settings, fix=True)
    changed = {loaded.source.display: new for loaded, new in fixed.changed()}
    assert {"tasks.py", "pipeline.py", "single.py"} <= set(changed)
    assert 'context.upstream("extract")' in changed["tasks.py"]
    assert "get_result" not in changed["tasks.py"]
    out = engine.write_changes(fixed)
    assert out.errors == [] and sorted(out.written) == ["pipeline.py", "single.py", "tasks.py"]

    again = engine.run(["."], settings, fix=True)
    assert again.changed() == [] and again.errors == []


def test_parallel_and_serial_runs_agree(legacy):
    for i in range(12):  # enough files to use the process pool
        shutil.copy(legacy / "single.py", legacy / f"single_{i}.py")
    serial = engine.run(["."], engine.load_settings(["."], jobs=1), fix=True)
    parallel = engine.run(["."], engine.load_settings(["."], jobs=2), fix=True)
    assert serial.findings == parallel.findings and serial.findings
    assert [(f.source.display, t) for f, t in serial.changed()] == [
        (f.source.display, t) for f, t in parallel.changed()]


def test_a_file_that_does_not_parse_is_reported_and_the_others_processed(legacy):
    write(legacy / "broken.py", "def transform(parent_id, queue_path:\n    q.get_result(parent_id)\n")
    result = engine.run(["."], engine.load_settings(["."], jobs=1), fix=True)
    assert [e.path for e in result.errors] == ["broken.py"]
    assert {"tasks.py", "single.py"} <= {f.path for f in result.findings}
    assert engine.write_changes(result).errors == []
    assert "context" in (legacy / "tasks.py").read_text()
    assert (legacy / "broken.py").read_text().startswith("def transform(parent_id, queue_path:")


def test_crlf_bom_and_mode_survive_a_real_rewrite(legacy):
    tasks = legacy / "tasks.py"
    raw = tasks.read_bytes().replace(b"\n", b"\r\n")
    tasks.write_bytes(b"\xef\xbb\xbf" + raw)
    tasks.chmod(0o700)
    result = engine.run(["."], engine.load_settings(["."], jobs=1), fix=True)
    assert engine.write_changes(result).errors == []
    new = tasks.read_bytes()
    assert new.startswith(b"\xef\xbb\xbf") and b"context" in new
    assert new.count(b"\n") == new.count(b"\r\n")
    assert stat.S_IMODE(tasks.stat().st_mode) == 0o700


def test_stdin_source(legacy):
    data = (legacy / "single.py").read_bytes()
    result = engine.run(["-"], engine.load_settings(["-"], jobs=1), fix=True, stdin_bytes=data,
                        stdin_filename="single.py")
    assert {f.path for f in result.findings} == {"single.py"}
    ((loaded, new),) = result.changed()
    assert loaded.source.fspath is None and "context" in new
    # Nothing is written for stdin.
    assert engine.write_changes(result).written == []
    assert (legacy / "single.py").read_bytes() == data


def test_clean_files_do_not_import_libcst(legacy):
    code = (
        "import sys\n"
        "from migrate import engine\n"
        "r = engine.run(['clean.py'], engine.load_settings(['clean.py']))\n"
        "assert r.findings == [] and r.errors == []\n"
        "print('libcst' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"

