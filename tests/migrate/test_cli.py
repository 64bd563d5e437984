"""The `migrate` command line, through click's CliRunner and a few real processes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from migrate.cli import cli

DATA = Path(__file__).parent / "data_legacy"
REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<rule>QM\d{3}) (?P<msg>.+)$")


@pytest.fixture
def legacy(tmp_path: Path, monkeypatch) -> Path:
    project = tmp_path / "proj"
    shutil.copytree(DATA, project)
    monkeypatch.chdir(project)
    return project


def invoke(*args: str, input: bytes | str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------
# scan


def test_scan_text(legacy):
    r = invoke("scan", ".", "--jobs", "1")
    assert r.exit_code == 1, r.output
    lines = [line for line in r.stdout.splitlines() if not line.startswith("    hint: ")]
    findings, summary = lines[:-1], lines[-1]
    assert "    hint: " in r.stdout
    assert findings and all(LINE.match(line) for line in findings)
    keys = [(m["path"], int(m["line"]), int(m["col"]), m["rule"])
            for m in map(LINE.match, findings)]
    assert keys == sorted(keys)
    assert {"tasks.py", "single.py"} <= {k[0] for k in keys}
    fixable = re.fullmatch(r"Found (\d+) findings? \((\d+) fixable\) in 4 files\.", summary)
    assert fixable and int(fixable[1]) == len(findings)


def test_scan_all_clear(legacy):
    r = invoke("scan", "clean.py")
    assert r.exit_code == 0
    assert r.stdout == "All clear: no legacy wiring found in 1 file.\n"


def test_scan_json(legacy):
    r = invoke("scan", ".", "--format", "json", "--jobs", "1")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["findings"]
    for f in data["findings"]:
        assert {"path", "line", "col", "rule", "message", "fixable"} <= set(f)
    assert data["summary"]["files_scanned"] == 4
    assert data["summary"]["findings"] == len(data["findings"])


def test_scan_sarif(legacy):
    r = invoke("scan", ".", "--format", "sarif")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert {"QM001", "QM002", "QM003"} <= set(rule_ids)
    assert all(rule["help"]["text"] for rule in run["tool"]["driver"]["rules"])
    assert run["results"]
    for res in run["results"]:
        assert res["ruleId"] in rule_ids
        region = res["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_scan_output_file(legacy):
    r = invoke("scan", ".", "--format", "sarif", "--output-file", "out/report.sarif")
    assert r.exit_code == 1 and r.stdout == ""
    assert json.loads((legacy / "out" / "report.sarif").read_text())["version"] == "2.1.0"
    (legacy / "blocker").write_text("a file where a folder should be\n")
    r = invoke("scan", ".", "-o", "blocker/report.json", "--format", "json")
    assert r.exit_code == 2 and "cannot write blocker/report.json" in r.stderr


def test_scan_github(legacy):
    r = invoke("scan", ".", "--format", "github")
    assert r.exit_code == 1
    assert r.stdout.splitlines()
    for line in r.stdout.splitlines():
        assert re.match(r"^::warning file=[^,]+,line=\d+,col=\d+,title=QM\d{3}::.+$", line)


def test_select_and_ignore(legacy):
    every = json.loads(invoke("scan", ".", "--format", "json").stdout)["findings"]
    rules = {f["rule"] for f in every}
    one = sorted(rules)[0]
    r = invoke("scan", ".", "--format", "json", "--select", one)
    assert {f["rule"] for f in json.loads(r.stdout)["findings"]} == {one}
    r = invoke("scan", ".", "--format", "json", "--ignore", one)
    assert one not in {f["rule"] for f in json.loads(r.stdout)["findings"]}
    r = invoke("scan", ".", "--ignore", "QM")
    assert r.exit_code == 0 and r.stdout.startswith("All clear")


def test_unknown_rule_code_is_a_usage_error(legacy):
    r = invoke("scan", ".", "--select", "QM001,QM999")
    assert r.exit_code == 2
    assert "unknown rule code 'QM999'" in r.stderr and "QM001" in r.stderr


def test_missing_path_is_a_usage_error(legacy):
    r = invoke("scan", "clean.py", "nope/")
    assert r.exit_code == 2
    assert "path not found: nope/" in r.stderr
    assert invoke("scan").exit_code == 2  # no PATH at all


def test_noqa_and_migrate_ignore_comments(legacy):
    findings = json.loads(invoke("scan", "single.py", "--format", "json").stdout)["findings"]
    assert findings
    lines = (legacy / "single.py").read_text().splitlines()
    codes: dict[int, set[str]] = {}
    for f in findings:
        codes.setdefault(f["line"], set()).add(f["rule"])
    for number, rules in codes.items():
        lines[number - 1] += "  # noqa: " + ",".join(sorted(rules))
    (legacy / "single.py").write_text("\n".join(lines) + "\n")
    r = invoke("scan", "single.py")
    assert r.exit_code == 0, r.stdout

    lines = (DATA / "single.py").read_text().splitlines()
    for number in codes:
        lines[number - 1] += "  # migrate: ignore"
    (legacy / "single.py").write_text("\n".join(lines) + "\n")
    assert invoke("scan", "single.py").exit_code == 0


def test_a_file_that_does_not_parse_gives_exit_2_and_the_others_are_reported(legacy):
    (legacy / "broken.py").write_text("def f(parent_id, queue_path:\n    return q.get_result(x)\n")
    r = invoke("scan", ".")
    assert r.exit_code == 2
    assert "broken.py: error:" in r.stdout
    assert any(line.startswith("tasks.py:") for line in r.stdout.splitlines())


def test_config_from_pyproject(legacy):
    (legacy / "pyproject.toml").write_text('[tool.queuack.migrate]\nignore = ["QM"]\n')
    assert invoke("scan", ".").exit_code == 0
    assert invoke("scan", ".", "--ignore", "").exit_code == 1  # the command line wins
    assert invoke("scan", ".", "--isolated").exit_code == 1  # the configuration is not read
    (legacy / "pyproject.toml").write_text('[tool.queuack.migrate]\nexclude = ["single.py", "tasks.py"]\n')
    r = invoke("scan", ".", "--format", "json")
    assert {f["path"] for f in json.loads(r.stdout)["findings"]} <= {"pipeline.py"}
    (legacy / "pyproject.toml").write_text('[tool.queuack.migrate]\nselect = ["XX"]\n')
    r = invoke("scan", ".")
    assert r.exit_code == 2 and "unknown rule code 'XX'" in r.stderr
    assert "QM001" in r.stderr


def test_a_direct_call_blocks_apply_unless_allowed(legacy):
    (legacy / "check_transform.py").write_text(
        "from tasks import transform\n\n\ndef test_transform(jid, path):\n"
        "    assert transform(jid, path) == [2, 4, 6]\n")
    before = snapshot(legacy)
    r = invoke("apply", ".")
    assert r.exit_code == 1
    assert 'check_transform.py:5:12: QM003 direct call of task "transform" blocks its migration' in r.stdout
    assert "hint: run the task in a DAG here, or pass --allow-direct-calls" in r.stdout
    assert (legacy / "tasks.py").read_bytes() == before["tasks.py"]
    r = invoke("apply", ".", "--allow-direct-calls")
    assert r.exit_code == 1 and "def transform(context)" in (legacy / "tasks.py").read_text()
    assert "check_transform.py:5:12: QM003 direct call of task" in r.stdout
    assert (legacy / "check_transform.py").read_bytes() == before["check_transform.py"]


def test_allow_direct_calls_in_pyproject(legacy):
    (legacy / "check_transform.py").write_text("import tasks\n\ntasks.transform('j', 'p')\n")
    assert "def transform(parent_id" in (legacy / "tasks.py").read_text()
    (legacy / "pyproject.toml").write_text("[tool.queuack.migrate]\nallow-direct-calls = true\n")
    invoke("apply", ".")
    assert "def transform(context)" in (legacy / "tasks.py").read_text()
    (legacy / "pyproject.toml").write_text('[tool.queuack.migrate]\nallow-direct-calls = "yes"\n')
    r = invoke("scan", ".")
    assert r.exit_code == 2 and "'allow-direct-calls' must be true or false" in r.stderr


def test_exclude_option(legacy):
    r = invoke("scan", ".", "--format", "json", "--exclude", "single.py", "--exclude", "tasks.py")
    paths = {f["path"] for f in json.loads(r.stdout)["findings"]}
    assert "single.py" not in paths and "tasks.py" not in paths
    assert json.loads(r.stdout)["summary"]["files_scanned"] == 2


def test_gitignored_and_virtualenv_files_are_not_scanned(legacy):
    (legacy / ".gitignore").write_text("old/\n")
    for folder in ["old", ".venv/lib", "env", "node_modules"]:
        (legacy / folder).mkdir(parents=True)
        shutil.copy(legacy / "single.py", legacy / folder / "single.py")
    (legacy / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    r = invoke("scan", ".", "--format", "json")
    data = json.loads(r.stdout)
    assert data["summary"]["files_scanned"] == 4
    assert all("/" not in f["path"] for f in data["findings"])


# --------------------------------------------------------------------------------------------
# apply, restore


def test_dry_run_prints_diffs_and_writes_nothing(legacy):
    before = snapshot(legacy)
    r = invoke("apply", ".", "--dry-run")
    assert r.exit_code == 1
    assert "--- a/tasks.py\n+++ b/tasks.py\n" in r.stdout
    assert '+    return [x * 2 for x in context.upstream("extract")]' in r.stdout or (
        'context.upstream("extract")' in r.stdout)
    assert "\x1b[" not in r.stdout  # no colour when stdout is not a terminal
    assert "would be rewritten" in r.stderr
    assert snapshot(legacy) == before
    assert invoke("apply", "clean.py", "--dry-run").exit_code == 0


def test_apply_rewrites_and_a_second_apply_changes_nothing(legacy):
    r = invoke("apply", ".")
    assert r.exit_code == 0, r.output
    assert "Rewrote tasks.py" in r.stdout and "Rewrote pipeline.py" in r.stdout
    assert "no findings remain" in r.stdout
    tasks = (legacy / "tasks.py").read_text()
    assert 'context.upstream("extract")' in tasks and "DuckQueue(" not in tasks
    pipeline = (legacy / "pipeline.py").read_text()
    assert "args=(e, path)" not in pipeline
    after = snapshot(legacy)
    r = invoke("apply", ".")
    assert r.exit_code == 0 and "Nothing rewritten" in r.stdout
    assert snapshot(legacy) == after
    assert invoke("scan", ".").exit_code == 0
    assert invoke("apply", ".", "--dry-run").exit_code == 0


UNRESOLVABLE = """\
from queuack import DuckQueue


def transform(parent_id, queue_path):
    q = DuckQueue(queue_path)
    data = q.get_result(parent_id)
    q.close()
    return data


def build(dag, ids, path):
    dag.add_job(transform, name="transform", args=(ids[0], path), depends_on="extract")
"""


def test_apply_reports_what_it_cannot_fix_and_exits_1(legacy):
    (legacy / "runtime_ids.py").write_text(UNRESOLVABLE)
    r = invoke("apply", ".")
    assert r.exit_code == 1
    assert "Rewrote tasks.py" in r.stdout  # the rest is still migrated
    left = [line for line in r.stdout.splitlines() if line.startswith("runtime_ids.py:")]
    assert left and all(LINE.match(line) for line in left)
    assert "    hint: " in r.stdout
    assert re.search(r"\d+ findings? remains? \(not fixable\)\.$", r.stdout.strip())
    assert (legacy / "runtime_ids.py").read_text() == UNRESOLVABLE


def test_tasks_enqueued_from_another_module_of_a_package(tmp_path, monkeypatch):
    pkg = tmp_path / "src" / "etl"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    shutil.copy(DATA / "tasks.py", pkg / "tasks.py")
    (pkg / "pipeline.py").write_text(
        "from queuack import DAG, DuckQueue\n\n"
        "from etl import tasks as t\n"
        "from .tasks import extract\n\n\n"
        "def build(path):\n"
        "    with DAG(\"etl\", queue=DuckQueue(path)) as dag:\n"
        "        e = dag.add_job(extract, name=\"extract\")\n"
        "        dag.add_job(t.transform, name=\"transform\", args=(e, path), depends_on=\"extract\")\n"
        "    return dag\n"
    )
    monkeypatch.chdir(tmp_path)
    r = invoke("apply", "src")
    assert r.exit_code == 0, r.output
    assert 'context.upstream("extract")' in (pkg / "tasks.py").read_text()
    assert "args=" not in (pkg / "pipeline.py").read_text()


def test_apply_diff_shows_what_was_written(legacy):
    r = invoke("apply", "single.py", "--diff")
    assert r.exit_code == 0
    assert r.stdout.startswith("--- a/single.py\n+++ b/single.py\n")
    assert "context" in (legacy / "single.py").read_text()


def test_backup_and_restore(legacy):
    before = snapshot(legacy)
    r = invoke("apply", ".", "--backup")
    assert r.exit_code == 0
    assert "Originals kept in" in r.stdout
    assert snapshot(legacy) != before
    r = invoke("restore", ".")
    assert r.exit_code == 0
    assert "Restored tasks.py" in r.stdout and "used up and removed" in r.stdout
    assert snapshot(legacy) == before  # byte for byte, and the backup is gone
    r = invoke("restore", ".")
    assert r.exit_code == 2 and "no backup" in r.stderr


def test_restore_lists_backups_and_restores_an_older_one_by_id(legacy):
    r = invoke("restore", "--list")
    assert r.exit_code == 0 and "No backups in .migrate-backup" in r.stdout
    before = snapshot(legacy)
    assert invoke("apply", "single.py", "--backup", "-j", "1").exit_code == 0
    older = snapshot(legacy)
    assert invoke("apply", ".", "--backup", "-j", "1").exit_code == 0
    r = invoke("restore", "--list")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    newest, oldest = lines[0].split()[0], lines[1].split()[0]
    assert newest > oldest
    assert lines[0].endswith("2 files: pipeline.py, tasks.py")
    assert lines[1].endswith("1 file: single.py")
    assert lines[2].startswith("2 backups in .migrate-backup, newest first")

    r = invoke("restore", "--backup-id", oldest[:4])  # a start shared by both
    assert r.exit_code == 2 and "ambiguous" in r.stderr
    r = invoke("restore", "--backup-id", "nope")
    assert r.exit_code == 2 and "no backup 'nope'" in r.stderr
    # the older backup, without touching the newer one's files
    r = invoke("restore", "--backup-id", oldest)
    assert r.exit_code == 0, r.output
    assert "Restored single.py" in r.stdout
    assert (legacy / "single.py").read_bytes() == before["single.py"]
    assert (legacy / "tasks.py").read_bytes() != older["tasks.py"]
    r = invoke("restore", ".", "--backup-id", newest)
    assert r.exit_code == 0 and snapshot(legacy) == before
    assert invoke("restore").exit_code == 2  # neither PATH nor --backup-id


def test_restore_refuses_an_edited_file_unless_forced(legacy):
    original = (legacy / "tasks.py").read_bytes()
    assert invoke("apply", ".", "--backup").exit_code == 0
    with open(legacy / "tasks.py", "a") as fh:
        fh.write("# my edit\n")
    r = invoke("restore", ".")
    assert r.exit_code == 1
    assert "tasks.py" in r.stderr and "--force" in r.stderr
    assert b"# my edit" in (legacy / "tasks.py").read_bytes()
    r = invoke("restore", ".", "--force")
    assert r.exit_code == 0
    assert (legacy / "tasks.py").read_bytes() == original


def test_apply_leaves_unparsable_files_and_exits_2(legacy):
    broken = "def f(parent_id, queue_path:\n    return DuckQueue(queue_path).get_result(parent_id)\n"
    (legacy / "broken.py").write_text(broken)
    r = invoke("apply", ".")
    assert r.exit_code == 2
    assert "broken.py: error:" in r.stderr
    assert (legacy / "broken.py").read_text() == broken
    assert "context" in (legacy / "tasks.py").read_text()


# --------------------------------------------------------------------------------------------
# stdin


def test_scan_and_apply_from_stdin(legacy):
    source = (legacy / "single.py").read_text()
    r = invoke("scan", "-", input=source)
    assert r.exit_code == 1
    assert all(line.startswith(("-:", "    hint: ")) for line in r.stdout.splitlines()[:-1])
    r = invoke("scan", "-", "--stdin-filename", "jobs/single.py", input=source)
    assert r.stdout.startswith("jobs/single.py:")
    r = invoke("apply", "-", input=source)
    assert r.exit_code == 0
    assert "context" in r.stdout and "get_result" not in r.stdout
    assert r.stdout == r.stdout.strip("\n") + "\n"
    assert "Rewrote" not in r.stdout
    assert "Rewrote 1 file (3 fixes); no findings remain." in r.stderr
    r = invoke("apply", "-", input="x = 1\n")
    assert r.exit_code == 0 and r.stdout == "x = 1\n"
    assert (legacy / "single.py").read_text() == source


# --------------------------------------------------------------------------------------------
# check, rules, explain, version


def test_check(legacy):
    before = snapshot(legacy)
    r = invoke("check", "clean.py")
    assert r.exit_code == 0 and r.output == ""
    r = invoke("check", "clean.py", "single.py")
    assert r.exit_code == 1
    assert any(LINE.match(line) for line in r.stdout.splitlines())
    assert "migrate apply" in r.stdout
    assert snapshot(legacy) == before
    assert invoke("check").exit_code == 0


def test_rules_and_explain():
    r = invoke("rules")
    assert r.exit_code == 0
    codes = [line.split()[0] for line in r.stdout.splitlines()]
    assert {"QM001", "QM002", "QM003"} <= set(codes)
    listed = json.loads(invoke("rules", "--format", "json").stdout)
    assert [x["code"] for x in listed] == sorted(codes)
    md = invoke("rules", "--format", "markdown").stdout
    assert all(code in md for code in codes) and "#" in md
    r = invoke("explain", "qm001")
    assert r.exit_code == 0 and r.stdout.startswith("QM001 (")
    r = invoke("explain", "QM999")
    assert r.exit_code == 2
    assert "unknown rule code 'QM999'" in r.stderr and "QM002" in r.stderr


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and re.match(r"migrate, version \d+\.\d+", r.stdout)


def test_diff_colour_only_when_asked(capsys):
    from migrate import cli as cli_module

    cli_module._print_diff("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", color=True)
    out = capsys.readouterr().out
    assert "\x1b[31m-a" in out and "\x1b[32m+b" in out
    cli_module._print_diff("-a\n", color=False)
    assert capsys.readouterr().out == "-a\n"


# --------------------------------------------------------------------------------------------
# Real processes


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_real_process_scan_and_apply(legacy):
    cmd = [sys.executable, "-m", "migrate"]
    out = subprocess.run([*cmd, "scan", ".", "--format", "json"], capture_output=True,
                         text=True, env=_env())
    assert out.returncode == 1 and json.loads(out.stdout)["findings"]
    assert out.stderr == ""  # no progress bar or anything else in json output
    out = subprocess.run([*cmd, "apply", "."], capture_output=True, text=True, env=_env())
    assert out.returncode == 0, out.stderr
    out = subprocess.run([*cmd, "check", "tasks.py", "pipeline.py", "single.py"],
                         capture_output=True, text=True, env=_env())
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")


def _run_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run migrate with stderr on a pseudo terminal; return (exit code, stdout, stderr)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "migrate", *args], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO once the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    stdout = proc.stdout.read().decode()
    proc.wait()
    os.close(master)
    return proc.returncode, stdout, b"".join(chunks).decode(errors="replace")


def test_progress_bar_on_a_terminal_for_text_only(tmp_path):
    tiny = ("def t(parent_id, queue_path):\n    return DuckQueue(queue_path).get_result(parent_id)\n"
            "dag.add_job(t, args=(parent, 'jobs.duckdb'))\n")
    for i in range(55):
        (tmp_path / f"t{i}.py").write_text(tiny)
    code, out, err = _run_on_a_terminal(["scan", ".", "--format", "json", "--jobs", "2"],
                                        tmp_path)
    assert code == 1 and json.loads(out)["summary"]["files_scanned"] == 55
    assert err == ""
    code, out, err = _run_on_a_terminal(["scan", ".", "--jobs", "2"], tmp_path)
    assert code == 1 and "100%" in err
    code, out, err = _run_on_a_terminal(["scan", ".", "--no-progress", "--jobs", "2"], tmp_path)
    assert err == ""


def test_check_on_a_clean_file_does_not_import_libcst(legacy):
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "migrate", "check", "clean.py"],
        capture_output=True, text=True, env=_env(),
    )
    assert out.returncode == 0 and out.stdout == ""
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()}
    assert "click" in imported  # the measurement did see the imports
    assert not any(name.split(".")[0] == "libcst" for name in imported)


# --------------------------------------------------------------------------------------------
# output polish


def test_color_follows_the_option_then_no_color_then_force_color(legacy, monkeypatch):
    esc = "\x1b["
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert esc not in invoke("scan", ".").stdout  # not a terminal
    assert esc in invoke("scan", ".", "--color", "always").stdout
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert esc in invoke("scan", ".").stdout
    assert esc not in invoke("scan", ".", "--color", "never").stdout
    monkeypatch.setenv("NO_COLOR", "1")
    assert esc not in invoke("scan", ".").stdout
    assert esc in invoke("scan", ".", "--color", "always").stdout
    assert esc not in invoke("scan", ".", "--format", "json").stdout
    diff = invoke("apply", ".", "--dry-run", "--color", "always").stdout
    assert esc in diff and esc not in invoke("apply", ".", "--dry-run").stdout


def test_an_empty_folder_has_no_python_files(legacy):
    (legacy / "empty").mkdir()
    r = invoke("scan", "empty")
    assert (r.exit_code, r.stdout) == (0, "No Python files found.\n")
    r = invoke("apply", "empty")
    assert r.exit_code == 0 and "warning: no Python files found under empty" in r.stderr


def test_a_nul_byte_is_reported_with_its_line(legacy):
    (legacy / "nul.py").write_bytes(b"x = 1\ny = 2\0\nq.get_result(x)\n")
    r = invoke("scan", "nul.py")
    assert r.exit_code == 2
    assert "nul.py: error: line 2, column 6: a NUL byte, which Python source cannot contain" in r.stdout
    assert "None" not in r.stdout and "All clear" not in r.stdout
    r = invoke("apply", "nul.py")
    assert r.exit_code == 2 and "no findings remain." not in r.stdout
    assert r.stdout.endswith("but 1 file could not be (see the errors above).\n")


def test_check_does_not_advise_apply_when_nothing_is_fixable(legacy):
    (legacy / "stuck.py").write_text(
        "from queuack import DAG, DuckQueue\n\n\ndef t(parent_id, queue_path):\n"
        "    return DuckQueue(queue_path).get_result(parent_id)\n\n\n"
        "with DAG('x') as dag:\n    dag.add_job(t, args=(ids[0], 'p'))\n")
    r = invoke("check", "stuck.py")
    assert r.exit_code == 1 and "migrate apply" not in r.stdout
    assert r.stdout.splitlines()[-1].startswith("Found 2 findings, none fixable")
    assert "    hint: " in r.stdout


def test_scan_and_apply_agree_on_what_is_fixable_under_select(legacy):
    for selected in (["--select", "QM001"], ["--select", "QM002"], ["--ignore", "QM002"], []):
        scanned = json.loads(invoke("scan", ".", "--format", "json", *selected).stdout)
        fixable = {f["path"] for f in scanned["findings"] if f["fixable"]}
        applied = invoke("apply", ".", "--dry-run", *selected).stdout
        rewritten = set(re.findall(r"^\+\+\+ b/(\S+)", applied, re.M))
        assert fixable == rewritten, selected
        assert bool(rewritten) == (selected == [])
