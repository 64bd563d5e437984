"""The project index: summaries are plain data, sites resolve to tasks across modules."""

from __future__ import annotations

import pickle
import textwrap

from migrate.analysis import analyze_sources, build_index, module_name_for, summarize

TASKS = textwrap.dedent(
    """
    from queuack import DuckQueue

    def extract():
        return [1, 2]

    def transform(parent_id, queue_path):
        q = DuckQueue(queue_path)
        try:
            return q.get_result(parent_id)
        finally:
            q.close()
    """
)


def pipeline(import_line: str, ref: str) -> str:
    return textwrap.dedent(
        f"""
        from queuack import DAG, DuckQueue
        {import_line}

        def build(path):
            with DAG("etl", queue=DuckQueue(path)) as dag:
                e = dag.add_job(len, name="extract")
                dag.add_job({ref}, name="transform", args=(e, path))
            return dag
        """
    )


def index_of(files: dict[str, str]):
    return build_index([summarize(p, s, module_name_for(p)) for p, s in files.items()])


def test_module_names():
    assert module_name_for("tasks.py") == "tasks"
    assert module_name_for("pkg/sub/tasks.py") == "pkg.sub.tasks"
    assert module_name_for("pkg/__init__.py") == "pkg"


def test_summary_is_picklable_and_plain():
    s = summarize("tasks.py", TASKS, "tasks")
    again = pickle.loads(pickle.dumps(s))
    assert again == s
    assert set(again.tasks) == {"transform"}
    t = again.tasks["transform"]
    assert t.id_params == ("parent_id",) and t.path_params == ("queue_path",)
    assert t.queue_vars == ("q",) and t.problem is None


def test_syntax_error_summary_has_a_line():
    s = summarize("bad.py", "def f(:\n    pass\n", "bad")
    assert s.error and "line 1" in s.error
    assert pickle.loads(pickle.dumps(s)).error == s.error


def test_index_is_picklable():
    idx = index_of({"tasks.py": TASKS, "pipeline.py": pipeline("from tasks import transform", "transform")})
    assert pickle.loads(pickle.dumps(idx)) == idx


def _resolved(files):
    idx = index_of(files)
    plan = idx.tasks.get(("tasks.py", "transform")) or idx.tasks.get(("pkg/tasks.py", "transform"))
    return idx, plan


def test_from_import_with_alias():
    idx, plan = _resolved({"tasks.py": TASKS, "pipeline.py": pipeline("from tasks import transform as tr", "tr")})
    assert plan.fixable and plan.parents == (("parent_id", "extract"),)
    assert idx.files_to_fix() == {"tasks.py", "pipeline.py"}
    site = idx.sites_in("pipeline.py")[0]
    assert site.remove_pos == (0, 1) and site.add_deps == ("extract",)


def test_import_module_as():
    _, plan = _resolved({"tasks.py": TASKS, "pipeline.py": pipeline("import tasks as t", "t.transform")})
    assert plan.fixable


def test_import_dotted_module():
    files = {
        "pkg/__init__.py": "",
        "pkg/tasks.py": TASKS,
        "main.py": pipeline("import pkg.tasks", "pkg.tasks.transform"),
    }
    _, plan = _resolved(files)
    assert plan.fixable


def test_relative_import_and_reexport_through_package():
    files = {
        "pkg/__init__.py": "from .tasks import transform\n",
        "pkg/tasks.py": TASKS,
        "pkg/flow.py": pipeline("from . import tasks", "tasks.transform"),
        "main.py": pipeline("from pkg import transform", "transform"),
    }
    idx, plan = _resolved(files)
    assert plan.fixable
    assert {s.path for s in idx.sites.values()} == {"pkg/flow.py", "main.py"}


def test_scan_root_above_the_import_root():
    # scanned from a parent folder: the module is "app.tasks" but the code says "from tasks import"
    files = {"app/tasks.py": TASKS, "app/pipeline.py": pipeline("from tasks import transform", "transform")}
    idx = index_of(files)
    assert idx.tasks[("app/tasks.py", "transform")].fixable


def test_same_name_elsewhere_is_not_confused():
    other = "def transform(rows):\n    return rows\n"
    files = {
        "tasks.py": TASKS,
        "other.py": other,
        "pipeline.py": pipeline("from other import transform", "transform"),
    }
    idx = index_of(files)
    assert idx.tasks == {} and idx.sites == {}  # tasks.transform is enqueued nowhere: no task


def test_sites_in_two_modules_that_disagree():
    a = pipeline("from tasks import transform", "transform")
    b = a.replace('name="extract"', 'name="backfill"')
    idx = index_of({"tasks.py": TASKS, "a.py": a, "b.py": b})
    plan = idx.tasks[("tasks.py", "transform")]
    assert not plan.fixable and "disagree" in plan.reason
    assert {(s.path, s.fixable) for s in idx.sites.values()} == {("a.py", False), ("b.py", False)}


def test_binding_in_function_shadows_module():
    src = TASKS + textwrap.dedent(
        """
        from queuack import DAG
        e = "not an id"

        def build(path):
            with DAG("etl") as dag:
                e = dag.add_job(extract, name="extract")
                dag.add_job(transform, args=(e, path))
        """
    )
    idx = index_of({"tasks.py": src})
    assert idx.tasks[("tasks.py", "transform")].fixable


def test_parameter_named_like_the_parent_is_run_time():
    src = TASKS + textwrap.dedent(
        """
        def build(dag, e, path):
            dag.add_job(transform, args=(e, path))
        """
    )
    idx = index_of({"tasks.py": src})
    plan = idx.tasks[("tasks.py", "transform")]
    assert not plan.fixable and "computed at run time" in plan.reason


def test_parent_from_another_dag():
    src = TASKS + textwrap.dedent(
        """
        from queuack import DAG

        def build(path):
            with DAG("a") as first:
                e = first.add_job(extract, name="extract")
            with DAG("b") as second:
                second.add_job(transform, args=(e, path))
        """
    )
    idx = index_of({"tasks.py": src})
    plan = idx.tasks[("tasks.py", "transform")]
    assert not plan.fixable
    assert "enqueued on `first`, the task on `second`" in plan.reason
    assert plan.hint == "enqueue parent and child in the same DAG"


def test_untouched_files_are_not_in_files_to_fix():
    files = {
        "tasks.py": TASKS,
        "pipeline.py": pipeline("from tasks import transform", "transform"),
        "other.py": "def f(q):\n    q.enqueue(print)\n",
    }
    assert index_of(files).files_to_fix() == {"tasks.py", "pipeline.py"}


def test_web_handler_is_not_indexed():
    src = textwrap.dedent(
        """
        from queuack import DuckQueue

        @app.get("/jobs/{job_id}")
        def show(job_id, db_path):
            return DuckQueue(db_path).get_result(job_id)
        """
    )
    assert index_of({"web.py": src}).files_to_fix() == set()


def test_noqa_on_a_site_in_another_file_blocks_the_whole_rewrite():
    p = pipeline("from tasks import transform", "transform").replace(
        "args=(e, path))", "args=(e, path))  # noqa: QM002"
    )
    results = analyze_sources({"tasks.py": TASKS, "pipeline.py": p}, fix=True)
    assert results["tasks.py"].new_source is None
    assert results["pipeline.py"].new_source is None
    # the task's own findings are still reported; the suppressed line's are not
    assert {f.rule for f in results["tasks.py"].findings} == {"QM001", "QM002"}
    assert results["pipeline.py"].findings == []


def test_two_files_with_one_module_name_stay_apart():
    site = SINGLE
    idx = build_index([summarize("a/tasks.py", site, "tasks"), summarize("b/tasks.py", site, "tasks")])
    assert {k for k in idx.tasks} == {("a/tasks.py", "transform"), ("b/tasks.py", "transform")}
    assert all(p.fixable for p in idx.tasks.values())
    assert len(idx.sites) == 2


def test_imported_names_are_recorded_for_reexport_checks():
    idx = index_of({"tasks.py": TASKS, "flow.py": "from tasks import *\nfrom queuack import DAG\n"})
    assert "tasks.*" in idx.imported and "queuack.DAG" in idx.imported


def test_stdin_without_a_module_name():
    from migrate.analysis import fix_file
    from migrate.model import RuleSelection

    src = pipeline("", "transform").replace(
        "from queuack import DAG, DuckQueue", "from queuack import DAG, DuckQueue\n" + TASKS
    )
    idx = build_index([summarize("-", src, None)])
    assert idx.files_to_fix() == {"-"}
    res = fix_file("-", src, idx, RuleSelection(), True)
    assert res.new_source is not None and 'context.upstream("extract")' in res.new_source


def _findings(src: str, fix: bool = True):
    res = analyze_sources({"m.py": src}, fix=fix)["m.py"]
    return res, sorted((f.line, f.rule) for f in res.findings)


SINGLE = pipeline("", "transform").replace(
    "from queuack import DAG, DuckQueue", "from queuack import DAG, DuckQueue\n" + TASKS
)


def test_suppression_comments():
    base, found = _findings(SINGLE)
    assert base.new_source is not None
    read_line = next(line for line, rule in found if rule == "QM001")
    lines = SINGLE.splitlines()
    for comment, gone in [
        ("  # noqa", {"QM001"}),
        ("  # noqa: QM001", {"QM001"}),
        ("  # noqa: E501, QM001", {"QM001"}),
        ("  # NOQA:qm001", {"QM001"}),
        ("  # migrate: ignore", {"QM001"}),
        ("  # noqa: QM", {"QM001"}),
    ]:
        edited = lines.copy()
        edited[read_line - 1] += comment
        res, now = _findings("\n".join(edited) + "\n")
        assert {r for line, r in found if line == read_line} - {r for line, r in now if line == read_line} == gone
        assert res.new_source is None, comment  # a suppressed finding's rewrite is not applied
    # a comment naming another code changes nothing
    edited = lines.copy()
    edited[read_line - 1] += "  # noqa: E501"
    res, now = _findings("\n".join(edited) + "\n")
    assert now == found and res.new_source is not None


def test_enqueue_is_a_dags_only_when_bound_to_one():
    def site_of(body: str):
        src = TASKS + textwrap.dedent(body)
        return index_of({"tasks.py": src}).tasks[("tasks.py", "transform")]

    builder = site_of(
        """
        def build(q, path):
            with q.dag("etl") as builder:
                e = builder.enqueue(extract, name="extract")
                builder.enqueue(transform, args=(e, path))
        """
    )
    assert builder.fixable
    queue_named_like_a_dag = site_of(
        """
        def build(self, path):
            e = self.dag_queue.enqueue(extract, name="extract")
            self.dag_queue.enqueue(transform, args=(e, path))
        """
    )
    assert not queue_named_like_a_dag.fixable and "outside a DAG" in queue_named_like_a_dag.reason


def test_two_projects_under_one_scan_root():
    files = {}
    for project in ("one", "two"):
        files[f"{project}/tasks.py"] = TASKS
        files[f"{project}/pipeline.py"] = pipeline("from tasks import transform", "transform")
    # module names relative to the scan root ("one.tasks") ...
    idx = index_of(files)
    assert idx.tasks[("one/tasks.py", "transform")].fixable
    # ... or as Python imports them, the engine's way: two modules called "tasks"
    idx = build_index([summarize(p, s, p.rsplit("/", 1)[1][:-3]) for p, s in files.items()])
    assert idx.tasks[("one/tasks.py", "transform")].fixable
    assert idx.tasks[("two/tasks.py", "transform")].fixable
    assert {(s.path, s.task) for s in idx.sites.values()} == {
        ("one/pipeline.py", "one/tasks.py::transform"),
        ("two/pipeline.py", "two/tasks.py::transform"),
    }


def test_a_module_of_another_project_does_not_capture_the_importers_own(tmp_path):
    # project a: legacy task; project b: its own (modern) tasks.py, which the prefilter skips
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "tasks.py").write_text(TASKS)
    (b / "tasks.py").write_text("def transform(rows, factor):\n    return rows * factor\n")
    b_pipeline = pipeline("from tasks import transform", "transform")
    (b / "pipeline.py").write_text(b_pipeline)
    summaries = [
        summarize(str(a / "tasks.py"), TASKS, "tasks"),
        summarize(str(b / "pipeline.py"), b_pipeline, "pipeline"),
    ]
    idx = build_index(summaries)
    assert idx.sites == {}
    assert str(b / "pipeline.py") not in idx.files_to_fix()


def test_star_import():
    files = {"tasks.py": TASKS, "pipeline.py": pipeline("from tasks import *", "transform")}
    assert index_of(files).tasks[("tasks.py", "transform")].fixable


def test_reexport_through_a_star_import_in_a_package():
    files = {
        "pkg/__init__.py": "from .tasks import *\n",
        "pkg/tasks.py": TASKS,
        "main.py": pipeline("from pkg import transform", "transform"),
    }
    assert index_of(files).tasks[("pkg/tasks.py", "transform")].fixable


def test_reexport_through_an_init_the_prefilter_skipped(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .tasks import extract, transform\n")
    (pkg / "tasks.py").write_text(TASKS)
    main = pipeline("from pkg import transform", "transform")
    summaries = [
        summarize(str(pkg / "tasks.py"), TASKS, "pkg.tasks"),
        summarize(str(tmp_path / "main.py"), main, "main"),
    ]
    assert build_index(summaries).tasks[(str(pkg / "tasks.py"), "transform")].fixable
    # an __init__.py that does not bring the name in: not followed
    (pkg / "__init__.py").write_text("from .other import transform as something_else\n")
    assert (str(pkg / "tasks.py"), "transform") not in build_index(summaries).tasks


def test_init_reexport_check(tmp_path):
    from migrate.index import _init_reexports

    init = tmp_path / "__init__.py"
    for text, expected in [
        ("from .tasks import extract, transform\n", True),
        ("from .tasks import (\n    extract,\n    transform,\n)\n", True),
        ("from .tasks import *\n", True),
        ("from pkg.tasks import transform\n", True),
        ("from .tasks import transform as t2\n", False),
        ("from .other import transform\nimport tasks\n", False),
        ("from ..tasks import transform\n", False),
    ]:
        init.write_text(text)
        assert _init_reexports(str(init), "pkg", "tasks", "transform") is expected, text


def test_a_helper_in_another_module_is_named():
    helpers = textwrap.dedent(
        """
        from queuack import DuckQueue

        def read_parent(job_id, queue_path):
            with DuckQueue(queue_path) as q:
                return q.get_result(job_id)
        """
    )
    tasks = "from helpers import read_parent\n\ndef transform(parent_id, queue_path):\n" \
            "    return read_parent(parent_id, queue_path)\n"
    files = {"helpers.py": helpers, "tasks.py": tasks, "pipeline.py": pipeline("from tasks import transform", "transform")}
    idx = index_of(files)
    plan = idx.tasks[("tasks.py", "transform")]
    assert not plan.fixable and "helper `read_parent` (helpers.py)" in plan.reason
    assert ("helpers.py", "read_parent") not in idx.tasks  # the helper itself is no task


def test_a_direct_call_blocks_the_fix_unless_allowed():
    script = "import tasks\n\nprint(tasks.transform('job-1', 'jobs.duckdb'))\n"
    files = {"tasks.py": TASKS, "pipeline.py": pipeline("from tasks import transform", "transform"),
             "script.py": script}
    summaries = [summarize(p, s, module_name_for(p)) for p, s in files.items()]
    idx = build_index(summaries)
    plan = idx.tasks[("tasks.py", "transform")]
    assert not plan.fixable and "called directly (script.py)" in plan.reason
    assert [c.task_name for c in idx.calls_in("script.py")] == ["transform"]
    allowed = build_index(summaries, allow_direct_calls=True)
    assert allowed.tasks[("tasks.py", "transform")].fixable
    assert "update this call by hand" in allowed.calls_in("script.py")[0].hint


def test_a_direct_call_in_a_file_the_prefilter_skips_is_seen():
    test = "from tasks import transform\n\ndef test_it(jid, path):\n    assert transform(jid, path)\n"
    files = {"tasks.py": TASKS, "pipeline.py": pipeline("from tasks import transform", "transform"),
             "test_tasks.py": test}
    results = analyze_sources(files, fix=True)
    assert results["tasks.py"].new_source is None
    assert [f.line for f in results["test_tasks.py"].findings] == [4]
    results = analyze_sources(files, fix=True, allow_direct_calls=True)
    assert "context" in results["tasks.py"].new_source


def test_static_method_imported_from_another_module():
    tasks = textwrap.dedent(
        """
        from queuack import DuckQueue

        class Steps:
            @staticmethod
            def transform(parent_id, queue_path):
                with DuckQueue(queue_path) as q:
                    return q.get_result(parent_id)
        """
    )
    files = {"tasks.py": tasks, "pipeline.py": pipeline("from tasks import Steps", "Steps.transform")}
    plan = index_of(files).tasks[("tasks.py", "Steps.transform")]
    assert plan.fixable and plan.parents == (("parent_id", "extract"),)


def test_a_file_nested_deeper_than_the_recursion_limit_is_analysed():
    sql = "SQL = (\n" + "".join(f'    "select {i} "\n' for i in range(1500)) + ")\n"
    files = {"tasks.py": TASKS + sql, "pipeline.py": pipeline("from tasks import transform", "transform")}
    results = analyze_sources(files, fix=True)
    assert results["tasks.py"].error is None
    assert {f.rule for f in results["tasks.py"].findings} == {"QM001", "QM002"}
    assert "def transform(context)" in results["tasks.py"].new_source


def test_an_annotated_task_without_a_from_queuack_import_gets_one():
    tasks = textwrap.dedent(
        '''
        """Tasks."""
        import queuack as qk

        def transform(parent_id: str, queue_path: str):
            with qk.DuckQueue(queue_path) as q:
                return q.get_result(parent_id)
        '''
    )
    files = {"tasks.py": tasks, "pipeline.py": pipeline("from tasks import transform", "transform")}
    new = analyze_sources(files, fix=True)["tasks.py"].new_source
    assert new.splitlines()[1:4] == ['"""Tasks."""', "import queuack as qk", "from queuack import TaskContext"]
    assert "def transform(context: TaskContext):" in new
    compile(new, "tasks.py", "exec")


def test_a_helper_that_reads_some_other_get_result_is_no_parent_read():
    tasks = textwrap.dedent(
        """
        def lookup(order_id):
            return CACHE.get_result(order_id)

        def ship(order_id):
            return lookup(order_id)

        def build(dag):
            dag.add_job(ship, name="ship", args=("A-17",))
        """
    )
    assert index_of({"tasks.py": tasks}).tasks == {}


def test_the_pattern_of_related_files_is_a_trie_that_matches_whole_words():
    import re

    from migrate.index import _alternation

    words = {"clean_1", "clean_12", "load", "loader", "DuckQueue"}
    trie = re.compile(r"\b(?:" + _alternation(words) + r")\b")
    flat = re.compile(r"\b(?:" + "|".join(sorted(words)) + r")\b")
    for text in ["clean_1(x)", "clean_12 = 1", "clean_123", "xclean_1", "load", "loaders",
                 "loader()", "from a import DuckQueue", "clean_ load_ Duck"]:
        assert [m.group() for m in trie.finditer(text)] == [m.group() for m in flat.finditer(text)]
    assert _alternation({"clean_1", "clean_2"}) == "clean_(?:1|2)"
