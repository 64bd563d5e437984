"""The project-wide index: which task is enqueued where, with what, and what follows from it.

Everything here is plain data (picklable, no libcst): the engine summarises files in worker
processes, sends the summaries back, and builds the index in the parent. The index then decides,
for every manually wired task, whether all of its enqueue sites agree on who its parents are
(the task and its sites are rewritten together) or not (they are reported and left alone).

An argument expression seen at an enqueue site is kept as a small tuple, an ``ArgExpr``:

``("name", "e")``                 a variable
``("jobs", "dag", "extract")``    ``dag.jobs["extract"]``
``("str", "extract")``            a string literal
``("none",)``                     ``None``
``("other", "<source text>")``    anything else
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

ArgExpr = tuple

#: Codes a suppression comment may name; "*" stands for a bare ``# noqa`` or ``# migrate: ignore``.
ALL = "*"


def is_suppressed(code: str, codes: frozenset[str] | set[str]) -> bool:
    """Whether a suppression comment's ``codes`` cover ``code`` (a prefix such as QM0 covers it)."""
    return any(c == ALL or code.startswith(c) for c in codes)


@dataclass(frozen=True)
class ParamInfo:
    name: str
    kind: str  # "posonly", "pos", "kwonly", "star", "starstar"
    has_default: bool


@dataclass
class TaskInfo:
    """A module-level function (or a static or class method of a module-level class, named
    ``Class.method``) that reads ``get_result()`` from a ``DuckQueue`` it opens itself.

    It is a task only when the scanned code enqueues it: one that is enqueued nowhere (a web
    handler, a poller, a driver script reading a result after the run) is never reported.
    """

    name: str
    params: tuple[ParamInfo, ...]
    id_params: tuple[str, ...]  # parameters read through get_result(), in order of first read
    list_params: tuple[str, ...]  # lists of ids read in [q.get_result(x) for x in ids]
    path_params: tuple[str, ...]  # parameters passed to DuckQueue(...)
    queue_vars: tuple[str, ...]  # variables bound to the DuckQueue it opens
    ctx_name: str | None  # the parameter name the rewrite would add
    problem: str | None = None  # why the body cannot be rewritten
    problem_hint: str | None = None
    suppressed: frozenset[str] = frozenset()  # codes suppressed on its def line or read lines
    bound: bool = False  # a class method: its first parameter (cls) is not passed at enqueue
    annotation: str | None = None  # annotated task: the name to annotate its context with

    def positional(self) -> list[str]:
        """The parameters that ``args=`` fills, in order."""
        names = [p.name for p in self.params if p.kind in ("posonly", "pos")]
        return names[1:] if self.bound else names

    def param(self, name: str) -> ParamInfo | None:
        for p in self.params:
            if p.name == name:
                return p
        return None


@dataclass
class SiteInfo:
    """One call of ``add_job``, ``add_node`` or ``enqueue``."""

    ordinal: int  # position among the file's enqueue calls, in source order
    method: str
    receiver: str  # source text of what the method is called on ("dag", "q")
    is_dag: bool
    scope: str  # "" for the module, else the dotted name of the enclosing function or class
    func_ref: str | None  # dotted reference to the enqueued function ("transform", "t.transform")
    node_name: ArgExpr | None
    args_state: str  # "absent", "seq" or "dynamic"
    args: tuple[ArgExpr, ...] = ()
    kwargs_state: str = "absent"  # "absent", "dict" or "dynamic"
    kwargs: tuple[tuple[str, ArgExpr], ...] = ()
    depends_state: str = "absent"  # "absent", "none", "items" or "dynamic"
    depends: tuple[ArgExpr, ...] = ()
    seq: int = 0  # order among the file's bindings and sites
    block: tuple[int, ...] = ()  # the conditional blocks the call sits in
    loops: tuple[int, ...] = ()  # the loops the call sits in
    extra_positional: bool = False
    layout: tuple[str, ...] = ("func", "args", "kwargs")  # what each positional argument means
    quote: str = '"'
    suppressed: frozenset[str] = frozenset()


@dataclass
class CallInfo:
    """A direct call of a name the module defines or imports (``dedupe(jid, path)``)."""

    ordinal: int  # position among the file's recorded calls, in source order
    caller: str | None  # the module-level function the call sits in, None elsewhere
    ref: str  # dotted reference to what is called
    passed: tuple[str, ...] = ()  # the caller's parameters passed on as they are, and "queue:<var>"
    suppressed: frozenset[str] = frozenset()


@dataclass
class FileSummary:
    path: str
    module: str | None
    is_package: bool = False
    imports: dict[str, str] = field(default_factory=dict)  # local name -> dotted target
    functions: frozenset[str] = frozenset()  # module-level function names
    readers: frozenset[str] = frozenset()  # functions that call .get_result() on a parameter
    tasks: dict[str, TaskInfo] = field(default_factory=dict)
    sites: list[SiteInfo] = field(default_factory=list)
    calls: list[CallInfo] = field(default_factory=list)
    # (scope, name) -> every assignment: (site ordinal or -1, seq, blocks, loops)
    bindings: dict[tuple[str, str], tuple[tuple, ...]] = field(default_factory=dict)
    error: str | None = None

    @property
    def key(self) -> str:
        return self.module if self.module else self.path


@dataclass(frozen=True)
class TaskPlan:
    """The decision about one task definition."""

    path: str
    name: str
    qualname: str  # the task's key in the index: "path::function"
    fixable: bool
    parents: tuple[tuple[str, str], ...] = ()  # (id parameter, parent node name)
    remove_params: tuple[str, ...] = ()
    ctx_name: str = "context"
    queue_vars: tuple[str, ...] = ()
    quote: str = '"'
    reason: str | None = None
    hint: str | None = None
    blocked: frozenset[str] = frozenset()  # suppression codes on any line the rewrite touches
    module: str | None = None  # the dotted module name the task is defined in
    annotation: str | None = None  # "TaskContext" (or its local alias) when the task is annotated

    def parent_of(self, param: str) -> str | None:
        return dict(self.parents).get(param)


@dataclass(frozen=True)
class SitePlan:
    """The decision about one enqueue site of a manually wired task."""

    path: str
    ordinal: int
    task: str  # the task's key in the index
    task_name: str
    fixable: bool
    parents: tuple[str, ...] = ()
    remove_params: tuple[str, ...] = ()
    remove_pos: tuple[int, ...] = ()
    remove_kw: tuple[str, ...] = ()
    add_deps: tuple[str, ...] = ()
    passed: tuple[str, ...] = ()  # the wiring parameters this call passes
    passes_path: bool = False  # one of them is the queue path
    layout: tuple[str, ...] = ("func", "args", "kwargs")
    quote: str = '"'
    reason: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class CallPlan:
    """A direct call of a manually wired task: it passes the wiring the rewrite removes."""

    path: str
    ordinal: int
    task_name: str
    reason: str
    hint: str


@dataclass
class ProjectIndex:
    tasks: dict[tuple[str, str], TaskPlan] = field(default_factory=dict)  # (path, function) -> plan
    sites: dict[tuple[str, int], SitePlan] = field(default_factory=dict)  # (path, ordinal) -> plan
    calls: dict[tuple[str, int], CallPlan] = field(default_factory=dict)  # (path, ordinal) -> plan
    imported: frozenset[str] = frozenset()  # every dotted name some scanned module imports

    def files_to_fix(self) -> set[str]:
        """Paths whose text a rule may change or report on: only these get a second pass."""
        return set(self._by_path())

    def has_file(self, path: str) -> bool:
        return path in self._by_path()

    def _by_path(self) -> dict[str, tuple[list[TaskPlan], list[SitePlan], list[CallPlan]]]:
        grouped = self.__dict__.get("_grouped")
        if grouped is None:
            grouped = {}
            for kind, plans in enumerate((self.tasks, self.sites, self.calls)):
                for (p, _), plan in plans.items():
                    grouped.setdefault(p, ([], [], []))[kind].append(plan)
            self.__dict__["_grouped"] = grouped
        return grouped

    def task_by_qualname(self) -> dict[str, TaskPlan]:
        """The plans by the task's dotted name, built once (every file's second pass asks)."""
        found = self.__dict__.get("_by_qualname")
        if found is None:
            found = self.__dict__["_by_qualname"] = {p.qualname: p for p in self.tasks.values()}
        return found

    def tasks_in(self, path: str) -> list[TaskPlan]:
        return list(self._by_path().get(path, ((), (), ()))[0])

    def sites_in(self, path: str) -> list[SitePlan]:
        return list(self._by_path().get(path, ((), (), ()))[1])

    def calls_in(self, path: str) -> list[CallPlan]:
        return list(self._by_path().get(path, ((), (), ()))[2])


# --------------------------------------------------------------------------------------------
# building the index


def _task_key(summary: FileSummary, name: str) -> str:
    """A task's key in the index: its file and name (module names may repeat across projects)."""
    return f"{summary.path}::{name}"


def _import_root(summary: FileSummary) -> str:
    """The folder a file is imported from: its path without the parts its module name covers."""
    parts = summary.path.replace("\\", "/").split("/")
    depth = len(summary.module.split(".")) if summary.module else 1
    if summary.is_package:
        depth += 1  # pkg/__init__.py is "pkg"
    return "/".join(parts[: max(len(parts) - depth, 0)])


def _shadowed(importer: FileSummary, module: str) -> bool:
    """Whether ``module`` exists as a file next to ``importer`` (in its import root), on disk.

    Files without old patterns never reach the index, so a module name that the index knows only
    from another project may still be the importer's own file: then it is not our task.
    """
    if importer.path in ("-", "<stdin>") or not module:
        return False
    base = os.path.join(_import_root(importer) or ".", *module.split("."))
    return os.path.isfile(base + ".py") or os.path.isfile(os.path.join(base, "__init__.py"))


def _init_reexports(init: str, package: str, submodule: str, name: str) -> bool:
    """Whether the ``__init__.py`` at ``init`` imports ``name`` (unrenamed, or by ``*``) from
    ``package.submodule``."""
    import ast

    try:
        with open(init, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        source = (node.module or "") if node.level == 1 else None if node.level else node.module
        if node.level == 0 and node.module == f"{package}.{submodule}":
            source = submodule
        if source != submodule:
            continue
        if any(a.name == "*" or (a.name == name and a.asname in (None, name)) for a in node.names):
            return True
    return False


class _Resolver:
    """Finds the function a dotted reference names: ``resolve()`` gives its key ("path::name")."""

    def __init__(self, summaries: list[FileSummary]):
        self.by_module: dict[str, list[FileSummary]] = {}
        self.by_path: dict[str, FileSummary] = {}
        self.tasks: dict[str, tuple[FileSummary, TaskInfo]] = {}
        # the functions that matter (tasks and helpers that read results), for the slower searches
        self.known: dict[str, tuple[FileSummary, str]] = {}
        for s in summaries:
            self.by_path[s.path] = s
            if s.module:
                self.by_module.setdefault(s.module, []).append(s)
            for t in s.tasks.values():
                self.tasks[_task_key(s, t.name)] = (s, t)
            for name in s.readers | set(s.tasks):
                self.known[_task_key(s, name)] = (s, name)

    def function(self, key: str) -> tuple[FileSummary, str]:
        path, _, name = key.rpartition("::")
        return self.by_path[path], name

    def _module(self, module: str, importer: FileSummary) -> FileSummary | None:
        found = self.by_module.get(module, [])
        if len(found) == 1:
            if _import_root(found[0]) != _import_root(importer) and _shadowed(importer, module):
                return None  # the importer's own folder holds that module (a file not indexed)
            return found[0]
        # one module name in several projects under the scan root: the importer's own project
        root = _import_root(importer)
        near = [c for c in found if _import_root(c) == root]
        return near[0] if len(near) == 1 else None

    def _reexported(self, full: str) -> str | None:
        package, _, attr = full.rpartition(".")
        if not package or package in self.by_module:
            return None
        found = []
        for key, (s, name) in self.known.items():
            if name != attr or not s.module or not s.module.startswith(package + "."):
                continue
            below = s.module[len(package) + 1 :].split(".")
            parts = s.path.replace("\\", "/").split("/")
            init = "/".join(parts[: len(parts) - len(below)] + ["__init__.py"])
            if _init_reexports(init, package, ".".join(below), attr):
                found.append(key)
        return found[0] if len(found) == 1 else None

    def resolve(self, ref: str | None, summary: FileSummary) -> str | None:
        """The key of the function a dotted reference in ``summary`` names, if it is one we know."""
        if not ref:
            return None
        head, _, rest = ref.partition(".")
        if ref in summary.functions:  # a function, or Class.method, of this module
            return _task_key(summary, ref)
        if head in summary.imports:
            full = summary.imports[head] + ("." + rest if rest else "")
        else:
            full = ref
            if not rest:  # a bare name may have come in through "from module import *"
                for target in summary.imports.values():
                    if target.endswith(".*"):
                        found = self.resolve(f"{target[:-2]}.{ref}", summary)
                        if found is not None:
                            return found
        importer = summary
        for _ in range(8):  # follow re-exports a few hops
            mod, _, attr = full.rpartition(".")
            target = self._module(mod, importer) if mod else None
            if target is None:
                # module.Class.method: a static or class method
                owner, _, cls = mod.rpartition(".")
                target = self._module(owner, importer) if owner else None
                if target is not None and f"{cls}.{attr}" in target.functions:
                    return _task_key(target, f"{cls}.{attr}")
                break
            if attr in target.functions:
                return _task_key(target, attr)
            if attr in target.imports:
                full = target.imports[attr]
            else:
                stars = [t[:-2] for t in target.imports.values() if t.endswith(".*")]
                if len(stars) != 1:
                    return None  # nothing we know (or several star imports: ambiguous)
                full = f"{stars[0]}.{attr}"
            importer = target
        # "from pkg import transform" where pkg/__init__.py re-exports it: an __init__.py without
        # old patterns never reaches the index, so look at the file itself
        reexported = self._reexported(full)
        if reexported is not None:
            return reexported
        # the scan root may differ from the import root: match on a dotted suffix
        if "." in full and not full.startswith("."):
            found = [
                k
                for k, (s, name) in self.known.items()
                if s.module and (f"{s.module}.{name}".endswith("." + full) or full.endswith(f".{s.module}.{name}"))
            ]
            if found and _shadowed(summary, full.rpartition(".")[0]):
                return None
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                # several projects under one scan root: prefer the task nearest to the importer
                here = summary.path.replace("\\", "/").split("/")[:-1]

                def shared(key: str) -> int:
                    there = self.known[key][0].path.replace("\\", "/").split("/")[:-1]
                    n = 0
                    for a, b in zip(here, there):
                        if a != b:
                            break
                        n += 1
                    return n

                ranked = sorted(found, key=shared, reverse=True)
                if shared(ranked[0]) > shared(ranked[1]):
                    return ranked[0]
        return None


NAMED_HINT = (
    'enqueue the parent in the same DAG with a literal name= (e = dag.add_job(extract, name="extract")) '
    "and pass that variable"
)


def _binding(summary: FileSummary, site: SiteInfo, name: str, what: str) -> tuple | None:
    """The assignment of ``name`` that reaches ``site``: (value, seq, blocks, loops), or None when
    the file binds ``name`` nowhere in scope. Raise _SiteProblem when it cannot be known.

    In the site's own scope the assignment that reaches the call is the last one before it, when
    that one is not inside a branch the call is outside of, and no later assignment in a loop
    around the call can carry over into the next turn. From an enclosing scope (a module-level
    variable read in a function) only a name assigned exactly once is followed. ``what`` names
    the variable in the messages ("the parent id `e`").
    """
    binds = summary.bindings.get((site.scope, name))
    if binds:
        if any(b[1] > site.seq and set(b[3]) & set(site.loops) for b in binds):
            raise _SiteProblem(f"{what} changes from one turn of the loop to the next", NAMED_HINT)
        before = [b for b in binds if b[1] < site.seq]
        if not before:
            raise _SiteProblem(f"{what} is not assigned before the call", NAMED_HINT)
        latest = max(before, key=lambda b: b[1])
        if tuple(latest[2]) != tuple(site.block[: len(latest[2])]):
            raise _SiteProblem(f"{what} is assigned in a branch the call is not in", NAMED_HINT)
        return latest
    parts = site.scope.split(".") if site.scope else []
    while parts:
        parts.pop()
        binds = summary.bindings.get((".".join(parts), name))
        if binds:
            if len(binds) > 1:
                raise _SiteProblem(f"{what} is assigned more than once", NAMED_HINT)
            return binds[0]
    return None


def _reaching(summary: FileSummary, site: SiteInfo, name: str) -> int:
    """The enqueue ordinal whose result ``name`` holds at ``site``; raise _SiteProblem if unknown."""
    what = f"the parent id `{name}`"
    found = _binding(summary, site, name, what)
    if found is None or found[0] < 0:
        raise _SiteProblem(f"{what} is computed at run time", NAMED_HINT)
    return found[0]


def _same_dag(summary: FileSummary, parent: SiteInfo, site: SiteInfo, shown: str) -> None:
    """Raise _SiteProblem unless ``parent`` and ``site`` enqueue on the same DAG object.

    The same receiver text is not enough: two ``with DAG(...) as dag:`` blocks bind two DAGs to
    one name. When the receiver is a variable, both calls must see the same assignment of it.
    """
    if parent.receiver != site.receiver:
        raise _SiteProblem(
            f"the parent `{shown}` is enqueued on `{parent.receiver}`, the task on `{site.receiver}`",
            "enqueue parent and child in the same DAG",
        )
    if not site.receiver.isidentifier():
        return  # `self.dag`, `pipeline.dag`: the text is all there is to compare
    other_dag = (
        f"the parent `{shown}` comes from another DAG: `{site.receiver}` is bound to a new DAG "
        "between the parent's enqueue and this one",
        "a task reads through its context only the parents of its own DAG; pass the other DAG's "
        "result some other way, or migrate the task by hand",
    )
    what = f"the DAG `{site.receiver}`"
    try:
        mine = _binding(summary, site, site.receiver, what)
        theirs = _binding(summary, parent, site.receiver, what)
    except _SiteProblem as problem:
        raise _SiteProblem(
            f"cannot tell whether the parent `{shown}` is in the same DAG: {problem.reason}", other_dag[1]
        ) from None
    if mine != theirs:
        raise _SiteProblem(*other_dag)


def _show(expr: ArgExpr) -> str:
    kind = expr[0]
    if kind == "name":
        return expr[1]
    if kind == "jobs":
        return f'{expr[1]}.jobs["{expr[2]}"]'
    if kind == "str":
        return repr(expr[1])
    if kind == "none":
        return "None"
    if kind == "seq":
        return "[" + ", ".join(_show(x) for x in expr[1]) + "]"
    return expr[1]


class _SiteProblem(Exception):
    def __init__(self, reason: str, hint: str):
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def _parent_name(summary: FileSummary, site: SiteInfo, expr: ArgExpr) -> str:
    """The node name of the parent whose id ``expr`` is, or raise _SiteProblem."""
    kind = expr[0]
    if kind == "jobs":
        if expr[1] != site.receiver:
            raise _SiteProblem(
                f"the parent id {_show(expr)} belongs to another DAG than `{site.receiver}`", NAMED_HINT
            )
        return expr[2]
    if kind != "name":
        what = "a literal id" if kind == "str" else "computed at run time"
        raise _SiteProblem(f"the parent id `{_show(expr)}` is {what}", NAMED_HINT)
    parent = summary.sites[_reaching(summary, site, expr[1])]
    if not parent.is_dag:
        raise _SiteProblem(
            f"the parent `{expr[1]}` comes from `{parent.receiver}.{parent.method}(...)`, outside any DAG",
            "build parent and child in one DAG (with DAG(...) as dag, or q.dag(...)) so that the child can "
            "read the parent through its context",
        )
    _same_dag(summary, parent, site, expr[1])
    if not parent.node_name or parent.node_name[0] != "str":
        raise _SiteProblem(f"the parent `{expr[1]}` has no literal name=", NAMED_HINT)
    return parent.node_name[1]


def _plan_site(summary: FileSummary, site: SiteInfo, task: TaskInfo) -> dict:
    """Work out what one site passes; raise _SiteProblem when it cannot be rewritten safely."""
    if not site.is_dag:
        raise _SiteProblem(
            f"`{task.name}` is enqueued with `{site.receiver}.{site.method}(...)` outside a DAG; "
            "context.upstream() needs a DAG run",
            "enqueue the task and its parent in a DAG (with DAG(...) as dag: dag.add_job(...)) first, "
            "or keep the id and read it with context.get_parent_result(parent_id) by hand",
        )
    if site.extra_positional:
        raise _SiteProblem(
            f"the call passes more positional arguments than {site.method}() takes",
            "pass args=, kwargs=, name= and depends_on= by keyword",
        )
    if site.args_state == "dynamic":
        raise _SiteProblem(
            "args= is built at run time, so the wiring arguments cannot be found",
            "write args= as a tuple or list literal",
        )
    if site.kwargs_state == "dynamic":
        raise _SiteProblem(
            "kwargs= is built at run time, so the wiring arguments cannot be found",
            "write kwargs= as a dict literal with string keys",
        )
    if site.depends_state == "dynamic":
        raise _SiteProblem(
            "depends_on= is computed at run time", "write depends_on= as a name or a list of names"
        )
    positional = task.positional()
    kw = dict(site.kwargs)
    reads = list(task.id_params) + list(task.list_params)
    wiring = reads + [p for p in task.path_params if p not in reads]
    remove_pos: list[int] = []
    remove_kw: list[str] = []
    found: dict[str, ArgExpr] = {}
    for p in wiring:
        info = task.param(p)
        if info is None:
            raise _SiteProblem(f"`{p}` is not a parameter of `{task.name}`", "")
        i = positional.index(p) if p in positional else -1
        if site.args_state == "seq" and 0 <= i < len(site.args):
            found[p] = site.args[i]
            remove_pos.append(i)
        elif p in kw and info.kind != "posonly":
            found[p] = kw[p]
            remove_kw.append(p)
    parents: list[str] = []
    by_param: list[tuple[str, object]] = []
    for p in task.list_params:
        if p not in found:
            raise _SiteProblem(
                f"the call does not pass the list of parent ids `{p}` that `{task.name}` reads",
                f"pass it through args= or kwargs=, or migrate `{task.name}` by hand",
            )
        expr = found[p]
        if expr[0] != "seq":
            raise _SiteProblem(
                f"the list of parent ids `{_show(expr)}` is built at run time",
                "write it as a list of variables bound to named nodes, or migrate the task by hand",
            )
        names = tuple(_parent_name(summary, site, item) for item in expr[1])
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise _SiteProblem(
                f"the list of parent ids `{_show(expr)}` holds {', '.join(map(repr, repeated))} more than once: "
                "context.get_parent_results() returns each parent once, so the list would be shorter",
                "pass each parent once, or migrate the task by hand (context.upstream(name) for each item)",
            )
        parents.extend(names)
        by_param.append((p, names))
    for p in task.id_params:
        if p not in found:
            raise _SiteProblem(
                f"the call does not pass the parent id `{p}` that `{task.name}` reads",
                f"pass it through args= or kwargs=, or migrate `{task.name}` by hand",
            )
        name = _parent_name(summary, site, found[p])
        by_param.append((p, name))
        if name not in parents:
            parents.append(name)
    covered: set[str] = set()
    declared: list[str] = []
    if site.depends_state == "items":
        for item in site.depends:
            if item[0] == "str":
                covered.add(item[1])
                declared.append(item[1])
            elif item[0] in ("name", "jobs"):
                try:
                    covered.add(_parent_name(summary, site, item))
                    declared.append(_parent_name(summary, site, item))
                except _SiteProblem:
                    raise _SiteProblem(
                        f"depends_on= holds `{_show(item)}`, which cannot be traced to a named node",
                        "write depends_on= as node names",
                    ) from None
            else:
                raise _SiteProblem(
                    f"depends_on= holds `{_show(item)}`, which cannot be traced to a named node",
                    "write depends_on= as node names",
                )
    if task.list_params and declared and declared != parents:
        raise _SiteProblem(
            f"depends_on= declares {', '.join(map(repr, declared))}, but the list of ids holds "
            f"{', '.join(map(repr, parents))}: "
            "context.get_parent_results() would not return the same list",
            "make depends_on= list exactly those parents in the same order, or migrate the task by hand",
        )
    return {
        "parents": tuple(parents),
        "by_param": tuple(by_param),
        "remove_params": tuple(wiring),
        "remove_pos": tuple(sorted(remove_pos)),
        "remove_kw": tuple(remove_kw),
        "add_deps": tuple(n for n in parents if n not in covered),
        "passed": tuple(p for p in wiring if p in found),
        "passes_path": any(p in found for p in task.path_params),
    }


def _follow_calls(summaries: list[FileSummary], resolver: _Resolver):
    """The direct calls of each task, and the helpers each function reads results through.

    A helper reads a result for its caller: it opens the queue from what the caller passes
    (``_read_parent(parent_id, queue_path)``, shaped like a task itself), or it reads
    ``.get_result()`` on a parameter to which the caller passes the queue it opened
    (``_result(q, parent_id)``).
    """
    wanted = {key.rpartition("::")[2].rpartition(".")[2] for key in resolver.known}
    calls_of: dict[str, list[tuple[FileSummary, CallInfo]]] = {}
    helpers_of: dict[str, list[str]] = {}
    for s in summaries:
        for call in s.calls:
            if call.ref.rpartition(".")[2] not in wanted:
                continue
            key = resolver.resolve(call.ref, s)
            if key is None or key not in resolver.known:
                continue
            caller = _task_key(s, call.caller) if call.caller else None
            if key == caller:
                continue  # recursion
            if key in resolver.tasks:
                calls_of.setdefault(key, []).append((s, call))
            target, name = resolver.known[key]
            queue = any(p.startswith("queue:") for p in call.passed)
            params = any(not p.startswith("queue:") for p in call.passed)
            reads = (name in target.tasks and params) or (name in target.readers and queue)
            if caller and reads and key not in helpers_of.get(caller, ()):
                helpers_of.setdefault(caller, []).append(key)
    return calls_of, helpers_of


def _through_helpers(summary: FileSummary, helpers: list[str], resolver: _Resolver) -> tuple[str, str]:
    """The reason and hint for a task that reads its parent through helper functions."""
    shown = []
    for key in helpers:
        where, name = resolver.function(key)
        shown.append(f"`{name}`" + (f" ({where.path})" if where.path != summary.path else ""))
    which = "the helper " + shown[0] if len(shown) == 1 else "the helpers " + ", ".join(shown)
    return (
        f"it reads its parent through {which}, which the rewrite does not follow",
        'read the parent in the task itself (q.get_result(parent_id)) and run migrate again, or migrate '
        'it by hand: add a context parameter and use context.upstream("<parent name>") instead of the helper',
    )


def _direct_call_plans(
    index: ProjectIndex, task: TaskInfo, calls: list[tuple[FileSummary, CallInfo]], allowed: bool, ctx_name: str
) -> tuple[str, str] | None:
    """Record the direct calls of a task that could be rewritten; the reason it may not, if any."""
    wiring = ", ".join(dict.fromkeys((*task.id_params, *task.list_params, *task.path_params)))
    if allowed:
        reason = (
            f'direct call of task "{task.name}": the rewrite removes the parameters ({wiring}) this call '
            f"passes, and the task then takes a {ctx_name} from its DAG run"
        )
        hint = "update this call by hand: run the task in a DAG, or call what it does some other way"
    else:
        reason = (
            f'direct call of task "{task.name}" blocks its migration: the rewrite would remove the '
            f"parameters ({wiring}) this call passes"
        )
        hint = "run the task in a DAG here, or pass --allow-direct-calls and update this call by hand"
    for s, call in calls:
        index.calls[(s.path, call.ordinal)] = CallPlan(s.path, call.ordinal, task.name, reason, hint)
    if allowed:
        return None
    paths = sorted({s.path for s, _ in calls})
    where = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more files" if len(paths) > 3 else "")
    return (
        f"it is called directly ({where}), and such a call would break: the rewrite removes the "
        f"parameters ({wiring}) it passes",
        "call it only through a DAG, or pass --allow-direct-calls to rewrite it anyway and update those "
        "calls by hand",
    )


def related_pattern(index: ProjectIndex) -> re.Pattern | None:
    """What makes a file the text prefilter skipped worth a summary after all, or None.

    Rewriting a task can break files that neither read results nor enqueue jobs: a test that calls
    the task directly, a module that imports ``DuckQueue`` from the task's module (or a package
    ``__init__.py`` that passes it on with ``import *``). Such a file names the task or
    ``DuckQueue``, or imports ``*``; the engine summarises the ones that do and indexes again.
    """
    names = {plan.name.rpartition(".")[2] for plan in index.tasks.values() if plan.fixable}
    if not names:
        return None
    return re.compile(r"\b(?:" + _alternation({"DuckQueue", *names}) + r")\b|\bimport\s*\*")


def _alternation(words: set[str]) -> str:
    """A regex for any of `words`, shaped as a trie (``clean_(?:1|2)``): Python's re tries every
    branch of a flat alternation at every position, which for the hundreds of task names of a
    big project costs 15 ms a 10 KB file."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        if len(branches) == 1 and "" not in node:
            return branches[0]
        return "(?:" + "|".join(branches) + ")" + ("?" if "" in node else "")

    return build(trie)


def build_index(summaries: list[FileSummary], allow_direct_calls: bool = False) -> ProjectIndex:
    """Resolve every enqueue site to the task it enqueues and decide, task by task, what to do.

    A task that the scanned code also calls directly is not rewritten (the call would break),
    unless ``allow_direct_calls``; either way the calls are reported.
    """
    summaries = [s for s in summaries if s.error is None]
    resolver = _Resolver(summaries)
    sites_of: dict[str, list[tuple[FileSummary, SiteInfo]]] = {}
    for s in summaries:
        for site in s.sites:
            q = resolver.resolve(site.func_ref, s)
            if q is not None:
                sites_of.setdefault(q, []).append((s, site))
    calls_of, helpers_of = _follow_calls(summaries, resolver)

    index = ProjectIndex(imported=frozenset(t for s in summaries for t in s.imports.values()))
    for qual, helpers in helpers_of.items():
        if qual in sites_of and qual not in resolver.tasks:  # enqueued, reads only through helpers
            summary, name = resolver.function(qual)
            reason, hint = _through_helpers(summary, helpers, resolver)
            index.tasks[(summary.path, name)] = TaskPlan(
                summary.path, name, qual, False, reason=reason, hint=hint, module=summary.module
            )
    for qual, (summary, task) in resolver.tasks.items():
        sites = sites_of.get(qual)
        if not sites:
            continue  # never enqueued, so no task: a web handler, a poller, a driver script
        blocked = set(task.suppressed)
        for _, site in sites:
            blocked |= site.suppressed

        def unresolved(reason: str, hint: str) -> None:
            index.tasks[(summary.path, task.name)] = TaskPlan(
                summary.path,
                task.name,
                qual,
                False,
                reason=reason,
                hint=hint,
                blocked=frozenset(blocked),
                module=summary.module,
            )

        if qual in helpers_of:
            unresolved(*_through_helpers(summary, helpers_of[qual], resolver))
            continue
        if task.problem:
            unresolved(task.problem, task.problem_hint or "")
            continue
        plans: list[tuple[FileSummary, SiteInfo, dict | None, _SiteProblem | None]] = []
        for s, site in sites:
            try:
                plans.append((s, site, _plan_site(s, site, task), None))
            except _SiteProblem as problem:
                plans.append((s, site, None, problem))
        bad = [p for p in plans if p[3] is not None]
        mappings = {p[2]["by_param"] for p in plans if p[2] is not None}
        if bad:
            first = bad[0][3]
            unresolved(
                f"an enqueue site cannot be resolved: {first.reason}",
                first.hint or "fix the enqueue sites reported with it, or migrate the task by hand",
            )
            for s, site, _, problem in bad:
                index.sites[(s.path, site.ordinal)] = SitePlan(
                    s.path, site.ordinal, qual, task.name, False, reason=problem.reason, hint=problem.hint
                )
            continue
        if len(mappings) > 1:
            shown = " vs ".join(
                sorted("(" + ", ".join(f"{p}={n}" for p, n in m) + ")" for m in mappings)
            )
            unresolved(
                f"its enqueue sites disagree on its parents: {shown}",
                "give every site the same parent node names, or migrate the task by hand",
            )
            for s, site, plan, _ in plans:
                names = ", ".join(f'"{n}"' for n in plan["parents"])
                index.sites[(s.path, site.ordinal)] = SitePlan(
                    s.path,
                    site.ordinal,
                    qual,
                    task.name,
                    False,
                    reason=f"this site makes {names} the parent of `{task.name}`, other sites disagree",
                    hint="give every site the same parent node names",
                )
            continue
        by_param = next(iter(mappings))
        reads = tuple(task.id_params) + tuple(task.list_params)
        remove = reads + tuple(p for p in task.path_params if p not in reads)
        calls = [(s, c) for s, c in calls_of.get(qual, ()) if not is_suppressed("QM003", c.suppressed)]
        if calls:
            blocking = _direct_call_plans(index, task, calls, allow_direct_calls, task.ctx_name or "context")
            if blocking is not None:
                unresolved(*blocking)
                continue
        index.tasks[(summary.path, task.name)] = TaskPlan(
            summary.path,
            task.name,
            qual,
            True,
            parents=by_param,
            remove_params=remove,
            ctx_name=task.ctx_name or "context",
            queue_vars=task.queue_vars,
            quote=plans[0][1].quote,
            blocked=frozenset(blocked),
            module=summary.module,
            annotation=task.annotation,
        )
        for s, site, plan, _ in plans:
            index.sites[(s.path, site.ordinal)] = SitePlan(
                s.path,
                site.ordinal,
                qual,
                task.name,
                True,
                parents=plan["parents"],
                remove_params=plan["remove_params"],
                remove_pos=plan["remove_pos"],
                remove_kw=plan["remove_kw"],
                add_deps=plan["add_deps"],
                passed=plan["passed"],
                passes_path=plan["passes_path"],
                layout=site.layout,
                quote=site.quote,
            )
    return index
