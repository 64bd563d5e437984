"""The write phase of `migrate apply` is one transaction over real files, and interrupts are clean.

These tests run real `migrate` processes on real files. The test suite runs as root here, where
permission bits do not stop a write, so each test uses a failure that is real for root as well:
- `chattr +i` (an immutable file: even root cannot replace it), where the file system allows it;
- running `migrate` as the unprivileged user `nobody` (setpriv), where permission bits apply;
- real signals (SIGINT, SIGTERM) sent to a real `migrate` process. To land a signal inside the
  write phase, the process runs with `os.replace` slowed down by a sleep (a slow disk): the
  replacing, the signal and the rollback are all real, only the disk's latency is simulated.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from benchmarks.legacy_tree import generate

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data_legacy"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def migrate_cmd(*args: str, slow_replace: float = 0.0) -> list[str]:
    """`python -m migrate ARGS`, optionally with every os.replace taking `slow_replace` s longer."""
    prelude = ""
    if slow_replace:
        prelude = ("import os, time; _r = os.replace\n"
                   f"def _slow(*a, **k):\n    time.sleep({slow_replace}); return _r(*a, **k)\n"
                   "os.replace = _slow\n")
    code = prelude + "import sys; from migrate.cli import main; sys.argv[0] = 'migrate'; main()"
    return [sys.executable, "-c", code, *args]


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("FORCE_COLOR", None)
    return e


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*.migrate-tmp")]


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    shutil.copytree(DATA, project)
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    return project


def run(args, cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(migrate_cmd(*args), cwd=cwd, env=env(), capture_output=True,
                          text=True, timeout=120, **kw)


# --------------------------------------------------------------------------------------------
# read-only files and failures part way


def test_a_read_only_file_is_refused_with_the_files_its_rewrite_spans(legacy):
    before = snapshot(legacy)
    (legacy / "tasks.py").chmod(0o444)
    r = run(["apply", ".", "-j", "1"], legacy)
    assert r.returncode == 2
    assert "tasks.py: error: not rewritten: the file is read-only (mode 0444)" in r.stderr
    assert "--allow-read-only" in r.stderr
    # the enqueue site of tasks.transform in pipeline.py stays as well, with the reason
    assert ("pipeline.py: error: not written: its rewrite goes with tasks.py, which cannot be "
            "rewritten") in r.stderr
    after = snapshot(legacy)
    assert {k for k in before if after[k] != before[k]} == {"single.py"}  # another task's file
    assert "Rewrote single.py" in r.stdout and "context" in after["single.py"].decode()

    r = run(["apply", ".", "-j", "1", "--allow-read-only"], legacy)
    assert r.returncode == 0, r.stderr
    assert "context" in (legacy / "tasks.py").read_text()
    assert (legacy / "tasks.py").stat().st_mode & 0o777 == 0o444


def test_dry_run_reports_what_apply_would_refuse(legacy):
    # --dry-run previews apply: a file apply would refuse is named with the reason, and no diff
    # promises a rewrite that apply would not make (nor one of the files that go with it)
    (legacy / "tasks.py").chmod(0o444)
    before = snapshot(legacy)
    r = run(["apply", ".", "-j", "1", "--dry-run"], legacy)
    assert r.returncode == 2, r.stderr
    assert "tasks.py: error: not rewritten: the file is read-only (mode 0444)" in r.stderr
    assert "pipeline.py: error: not written: its rewrite goes with tasks.py" in r.stderr
    assert "1 file would be rewritten; 2 files would be left alone" in r.stderr
    assert "+++ b/tasks.py" not in r.stdout and "+++ b/pipeline.py" not in r.stdout
    assert "+++ b/single.py" in r.stdout
    assert snapshot(legacy) == before

    r = run(["apply", ".", "-j", "1", "--dry-run", "--allow-read-only"], legacy)
    assert r.returncode == 1, r.stderr
    assert "+++ b/tasks.py" in r.stdout and "would be rewritten" in r.stderr


def _chattr(path: Path, flag: str) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr")
def test_a_failure_while_replacing_puts_back_what_was_written(legacy):
    # tasks.py is immutable: the files before it are replaced, then its replace fails (EPERM,
    # even for root), and the files already replaced must get their original bytes back.
    before = snapshot(legacy)
    target = legacy / "tasks.py"
    if not _chattr(target, "+i"):
        pytest.skip("the file system does not support the immutable attribute")
    try:
        # --allow-read-only skips the check before the writes: the replace itself must fail
        r = run(["apply", ".", "-j", "1", "--backup", "--allow-read-only"], legacy)
    finally:
        _chattr(target, "-i")
    assert r.returncode == 2, r.stderr
    assert "tasks.py: error: not written: Operation not permitted" in r.stderr
    assert "Writing failed: put back the 2 files already rewritten; no file was changed." in r.stderr
    assert snapshot(legacy) == before  # no temporary file, no backup of a run that did not happen
    assert not (legacy / ".migrate-backup").exists()


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr")
def test_an_immutable_file_is_refused_before_any_write(legacy):
    before = snapshot(legacy)
    if not _chattr(legacy / "tasks.py", "+i"):
        pytest.skip("the file system does not support the immutable attribute")
    try:
        r = run(["apply", ".", "-j", "1"], legacy)
    finally:
        _chattr(legacy / "tasks.py", "-i")
    assert r.returncode == 2
    assert "tasks.py: error: not rewritten: permission denied (or the file is immutable); make it writable\n" in r.stderr
    assert "--allow-read-only" not in r.stderr  # it would not help
    after = snapshot(legacy)
    # its enqueue site in pipeline.py stays as it was; single.py, another task's, is rewritten
    assert {k for k in before if after[k] != before[k]} == {"single.py"}


# --------------------------------------------------------------------------------------------
# as an unprivileged user: permission bits apply


@pytest.fixture
def shared_tmp():
    """A folder that the user `nobody` can enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="migrate-perm-"))
    folder.chmod(0o755)
    yield folder
    for root, dirs, _files in os.walk(folder):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
    shutil.rmtree(folder, ignore_errors=True)


def run_unprivileged(args, cwd: Path) -> subprocess.CompletedProcess:
    cmd = migrate_cmd(*args)
    if IS_ROOT:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot drop the privileges")
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd]
    return subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=120)


def _give_to_nobody(folder: Path) -> None:
    if IS_ROOT:
        for root, dirs, files in os.walk(folder):
            for name in [*dirs, *files]:
                shutil.chown(os.path.join(root, name), "nobody", "nogroup")
        shutil.chown(folder, "nobody", "nogroup")


def test_a_read_only_folder_fails_before_the_first_write(shared_tmp):
    project = shared_tmp / "proj"
    (project / "jobs").mkdir(parents=True)
    shutil.copy(DATA / "pipeline.py", project / "pipeline.py")
    shutil.copy(DATA / "tasks.py", project / "jobs" / "tasks.py")  # still module `tasks`
    _give_to_nobody(project)
    (project / "jobs").chmod(0o555)  # the task's folder cannot take the temporary file
    before = snapshot(project)
    r = run_unprivileged(["apply", ".", "-j", "1"], project)
    assert r.returncode == 2, r.stderr
    assert "jobs/tasks.py: error: not written: Permission denied" in r.stderr
    assert "no file was changed" in r.stderr
    assert snapshot(project) == before
    assert leftovers(project) == []


def test_an_unreadable_folder_is_reported_in_one_line_and_the_rest_is_scanned(shared_tmp):
    project = shared_tmp / "proj"
    shutil.copytree(DATA, project)
    (project / "private").mkdir()
    (project / "private" / "secret.py").write_text("x = 1\n")
    _give_to_nobody(project)
    (project / "private").chmod(0o000)
    for command in (["scan", "."], ["apply", ".", "--dry-run"]):
        r = run_unprivileged([*command, "-j", "1"], project)
        assert "Traceback" not in r.stderr
        assert "private: error: cannot read folder: Permission denied; skipped" in (
            r.stdout + r.stderr)
        assert "context.upstream" in r.stdout or "QM001" in r.stdout  # the rest was analysed
        assert r.returncode == 2


# --------------------------------------------------------------------------------------------
# signals


@pytest.fixture
def big_legacy(tmp_path: Path) -> Path:
    project = generate(tmp_path / "big", 40)
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    return project


def _wait_until_rewritten(folder: Path, before: dict[str, bytes], proc) -> None:
    while proc.poll() is None:
        if any(p.read_bytes() != data for name, data in before.items()
               if (p := folder / name).exists() and name.endswith(".py")):
            return
        time.sleep(0.01)
    pytest.fail(f"migrate ended before writing anything: {proc.communicate()}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_write_phase_puts_everything_back(big_legacy, signum):
    before = snapshot(big_legacy)
    proc = subprocess.Popen(migrate_cmd("apply", ".", "-j", "1", "--no-progress",
                                        slow_replace=0.05),
                            cwd=big_legacy, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_until_rewritten(big_legacy, before, proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    name = signal.Signals(signum).name
    assert f"Interrupted ({name}) while writing: put back the " in err
    assert "no file was changed" in err
    assert "Traceback" not in err and "Aborted" not in err
    assert snapshot(big_legacy) == before


def test_ctrl_c_during_the_analysis_stops_the_workers_without_tracebacks(tmp_path):
    project = generate(tmp_path / "big", 300)
    before = snapshot(project)
    # like a terminal: the signal goes to the whole process group, workers included
    proc = subprocess.Popen(migrate_cmd("apply", ".", "-j", "2", "--no-progress"),
                            cwd=project, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(1.5)  # well inside the analysis of 300 files
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Interrupted (SIGINT) during the analysis: nothing was written." in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert snapshot(project) == before
    with pytest.raises(ProcessLookupError):  # no worker left behind
        for _ in range(100):
            os.killpg(proc.pid, 0)
            time.sleep(0.05)
