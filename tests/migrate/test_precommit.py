"""The pre-commit hook, run by the real pre-commit framework.

The hook source is a copy of this repository's working tree (what git tracks plus the files it
does not ignore), committed into a temporary git repository: that tests the code as it is now,
uncommitted changes included, without touching this repository's index, stash or objects.
pre-commit then pip-installs that copy into its own environment (PRE_COMMIT_HOME is inside the
temporary folder, so nothing leaks into the user's cache).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data_legacy"
REPO = Path(__file__).resolve().parents[2]
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


def git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd),
    }
    out = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                         text=True)
    return out.stdout.strip()


def copy_working_tree(dest: Path) -> str:
    """Copy the files of this repository that git would see into `dest`, commit, return the sha."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file() and not rel.startswith("tests/"):
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    git("init", "-q", "-b", "main", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "-m", "hook source", cwd=dest)
    return git("rev-parse", "HEAD", cwd=dest)


def test_pre_commit_hook_fails_on_legacy_code_and_passes_after_apply(tmp_path):
    hook_repo = tmp_path / "hook-repo"
    hook_repo.mkdir()
    rev = copy_working_tree(hook_repo)
    assert (hook_repo / ".pre-commit-hooks.yaml").is_file()

    user = tmp_path / "user-project"
    shutil.copytree(DATA, user)
    (user / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {hook_repo}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: queuack-migrate\n"
    )
    git("init", "-q", "-b", "main", cwd=user)
    git("add", "-A", cwd=user)

    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "HOME": str(tmp_path),
        "PRE_COMMIT_COLOR": "never",
    }
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)

    def pre_commit() -> subprocess.CompletedProcess:
        return subprocess.run([*PRE_COMMIT, "run", "--all-files"], cwd=user, env=env,
                              capture_output=True, text=True, timeout=900)

    first = pre_commit()
    assert first.returncode == 1, first.stdout + first.stderr
    assert "queuack migrate" in first.stdout and "Failed" in first.stdout
    assert re.search(r"^tasks\.py:\d+:\d+: QM\d{3} ", first.stdout, re.M)  # the findings
    assert "error:" not in first.stdout and "Traceback" not in first.stdout + first.stderr

    applied = subprocess.run(
        [sys.executable, "-m", "migrate", "apply", "."], cwd=user, capture_output=True,
        text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    git("add", "-A", cwd=user)

    second = pre_commit()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Passed" in second.stdout
