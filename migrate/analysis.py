"""The LibCST side of ``migrate``: summarise files, then report and rewrite them from the index.

Two passes, as the engine drives them:

1. ``summarize(path, source, module)`` parses a file once and walks it once. It records the
   module-level functions that read a parent through ``DuckQueue(...).get_result(...)``, every
   enqueue site (``add_job``, ``add_node``, ``enqueue``) with what it passes, the imports and the
   variables bound to enqueue results. The summary is plain data and crosses process boundaries.
2. ``build_index(summaries)`` (in :mod:`migrate.index`) links sites to tasks across the project.
3. ``fix_file(path, source, index, selection, fix)`` parses a file that the index names again and
   lets every rule report on it and, when asked, rewrite it.

No ScopeProvider is used, and no PositionProvider but where ``migrate.positions`` cannot match a
reported node to its ``ast`` twin. In one process, pass two reuses pass one's tree and walk.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import libcst as cst


from migrate.index import (
    ALL,
    CallInfo,
    CallPlan,
    FileSummary,
    ParamInfo,
    ProjectIndex,
    SiteInfo,
    SitePlan,
    TaskInfo,
    TaskPlan,
    build_index,
    is_suppressed,
    related_pattern,
)
from migrate.model import Finding, FileResult, RuleSelection, Violation
from migrate.model import module_name as model_module_name
from migrate.positions import Positions
from migrate.rules._edit import NODE_TYPES, child_fields as _child_fields, dotted, hooks
from migrate.splice import code as print_node, splice

__all__ = ["summarize", "build_index", "fix_file", "FileSummary", "ProjectIndex", "suppressions"]

ENQUEUE_METHODS = frozenset({"add_job", "add_node", "enqueue"})
QUEUE_PATH_KEYWORDS = ("path", "db_path", "database", "queue_path")



def call_layout(method: str, is_dag: bool) -> tuple[str, ...]:
    """What the positional arguments of an enqueue call mean.

    ``DAG.add_job(func, name, depends_on, args, kwargs)`` (``add_node`` is the same);
    the ``q.dag()`` builder's ``enqueue(func, args, kwargs, name, depends_on)``;
    ``DuckQueue.enqueue(func, args, kwargs)``.
    """
    if method in ("add_job", "add_node"):
        return ("func", "name", "depends_on", "args", "kwargs")
    if is_dag:
        return ("func", "args", "kwargs", "name", "depends_on")
    return ("func", "args", "kwargs")


# --------------------------------------------------------------------------------------------
# suppression comments

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]*(?:\s*,\s*[A-Z]+[0-9]*)*))?", re.IGNORECASE)
_IGNORE = re.compile(r"#\s*migrate:\s*ignore\b", re.IGNORECASE)


def suppressions(source: str) -> dict[int, frozenset[str]]:
    """1-based line -> codes suppressed there (``"*"`` for all)."""
    lowered = source.lower()
    if "noqa" not in lowered and "migrate:" not in lowered:
        return {}
    out: dict[int, frozenset[str]] = {}
    for number, line in enumerate(source.splitlines(), 1):
        if "#" not in line:
            continue
        codes: set[str] = set()
        if _IGNORE.search(line):
            codes.add(ALL)
        for m in _NOQA.finditer(line):
            if m.group("codes"):
                codes.update(c.strip().upper() for c in m.group("codes").split(","))
            else:
                codes.add(ALL)
        if codes:
            out[number] = frozenset(codes)
    return out


# --------------------------------------------------------------------------------------------
# small helpers on nodes


def string_value(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        # as written unless escapes or a CR need Python's reading (literal_eval compiles: slow)
        if not node.prefix and "\\" not in node.value and "\r" not in node.value:
            return node.raw_value
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def is_call_to(node: cst.BaseExpression, names: set[str] | frozenset[str], attr: str) -> bool:
    """``node`` is ``Name(...)`` with Name in ``names`` or ``x.attr(...)``."""
    if not isinstance(node, cst.Call):
        return False
    func = node.func
    if isinstance(func, cst.Name):
        return func.value in names
    return isinstance(func, cst.Attribute) and func.attr.value == attr


def queue_path_arg(call: cst.Call) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is None and not arg.star:
            return arg.value
        if arg.keyword is not None and arg.keyword.value in QUEUE_PATH_KEYWORDS:
            return arg.value
    return None


def _names_in(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        out: list[str] = []
        for el in target.elements:
            out.extend(_names_in(el.value))
        return out
    if isinstance(target, cst.StarredElement):
        return _names_in(target.value)
    return []


class _FuncState:
    def __init__(self, node: cst.FunctionDef, qualname: str, bound: bool = False, instance: bool = False):
        self.node = node
        self.qualname = qualname  # "transform", or "Newsletter.render" for a method
        self.bound = bound  # a class or instance method: cls or self is not passed by the caller
        self.instance = instance  # an instance method, enqueued as obj.method
        self.params: list[ParamInfo] = []
        p = node.params
        for param in p.posonly_params:
            self.params.append(ParamInfo(param.name.value, "posonly", param.default is not None))
        for param in p.params:
            self.params.append(ParamInfo(param.name.value, "pos", param.default is not None))
        if isinstance(p.star_arg, cst.Param):
            self.params.append(ParamInfo(p.star_arg.name.value, "star", False))
        for param in p.kwonly_params:
            self.params.append(ParamInfo(param.name.value, "kwonly", param.default is not None))
        if p.star_kwarg is not None:
            self.params.append(ParamInfo(p.star_kwarg.name.value, "starstar", False))
        self.param_names = {x.name for x in self.params}
        self.annotated_context = any(
            param.annotation is not None
            and (dotted(param.annotation.annotation) or "").endswith("TaskContext")
            for param in (*p.posonly_params, *p.params, *p.kwonly_params)
        )
        # a task written with annotations gets an annotated context parameter too
        self.annotated = node.returns is not None or any(
            param.annotation is not None
            for param in (*p.posonly_params, *p.params, *p.kwonly_params, p.star_arg, p.star_kwarg)
            if isinstance(param, cst.Param)
        )
        self.queue_vars: Counter[str] = Counter()
        self.reads: list[tuple[str | None, str, cst.Call]] = []
        self.list_reads: list[tuple[str, cst.ListComp]] = []  # [q.get_result(x) for x in <param>]
        self.in_list_read: set[int] = set()
        self.path_params: list[str] = []
        self.opens: list[cst.Call] = []
        self.open_ok: set[int] = set()
        self.accounted: set[int] = set()
        self.uses: Counter[str] = Counter()
        self.names: set[str] = set()
        self.module_queue: str | None = None  # a module-level queue it reads get_result() from

    def add_path(self, call: cst.Call) -> None:
        self.open_ok.add(id(call))
        arg = queue_path_arg(call)
        if isinstance(arg, cst.Name) and arg.value in self.param_names:
            self.accounted.add(id(arg))
            if arg.value not in self.path_params:
                self.path_params.append(arg.value)


class Collector(cst.CSTVisitor):
    """One walk over a module that collects tasks, enqueue sites, imports and bindings.

    The same walk runs in ``fix_file`` to find the nodes again (``task_nodes``, ``read_nodes``,
    ``site_nodes``), so ordinals in the summary and in the second pass agree.
    """

    def __init__(self, module: cst.Module, module_name: str | None = None, is_package: bool = False):
        self.module = module
        self.module_name = module_name
        self.is_package = is_package
        self.scope: list[str] = []
        self.imports: dict[str, str] = {}
        self.functions: set[str] = set()
        self.function_nodes: dict[str, cst.FunctionDef] = {}
        self.classes: set[str] = set()
        self.readers: set[str] = set()  # functions that call .get_result() on a parameter
        self.tasks: dict[str, TaskInfo] = {}
        self.task_nodes: dict[str, cst.FunctionDef] = {}
        # calls of names this module defines or imports, kept by finish() (ordinals for the fix pass)
        self._calls: list[tuple[str | None, str, tuple[str, ...], cst.Call]] = []
        self.calls: list[CallInfo] = []
        self.call_nodes: list[cst.Call] = []
        self.read_nodes: dict[str, list[cst.Call]] = {}
        self.read_params: dict[str, list[tuple[str, cst.Call]]] = {}
        self.sites: list[SiteInfo] = []
        self.site_nodes: list[cst.Call] = []
        self.bindings: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.dag_vars: set[tuple[str, str]] = set()
        self.dq_names = {"DuckQueue"}
        self.module_queues: set[str] = set()  # module-level names bound to DuckQueue(...)
        # (scope, name) -> the dotted class of ``name = SomeClass(...)``, its only assignment there
        self.instances: dict[tuple[str, str], str] = {}
        self.dag_names = {"DAG"}
        self.func: _FuncState | None = None
        self._skip: set[int] = set()
        self._pending: dict[int, tuple[str, str]] = {}
        # where bindings and sites sit, so that the index can tell which assignment reaches a call
        self._seq = 0
        self._blocks: list[int] = []  # the conditional blocks around the current statement
        self._block_pushed: list[bool] = []
        self._loops: list[int] = []
        self._transparent: set[int] = set()  # blocks that always run once: with bodies
        self._counter = 0

    # -- the walk ------------------------------------------------------------------------------
    def run(self, node: cst.CSTNode) -> None:
        """Walk ``node`` calling the visit_/leave_ hooks, without rebuilding any node.

        ``node.visit(visitor)`` rebuilds every node on the way (and costs as much as the parse);
        this walk reads the dataclass fields instead, in the same order, and keeps node identity.
        """
        cls = type(node)
        visit, leave = hooks(type(self), cls)
        if visit is None or visit(self, node) is not False:
            for field in _child_fields(cls):
                value = getattr(node, field)
                if type(value) in NODE_TYPES:
                    self.run(value)
                elif type(value) in (list, tuple):
                    for item in value:
                        if type(item) in NODE_TYPES:
                            self.run(item)
        if leave is not None:
            leave(self, node)

    # -- scopes and bindings -------------------------------------------------------------------
    @property
    def scope_name(self) -> str:
        return ".".join(self.scope)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def bind(self, name: str, value: int = -1, seq: int | None = None) -> None:
        """Record that ``name`` gets a value here: an enqueue site's ordinal, or -1 for anything else."""
        where = (value, seq if seq is not None else self._next(), tuple(self._blocks), tuple(self._loops))
        self.bindings[(self.scope_name, name)].append(where)
        self.instances.pop((self.scope_name, name), None)  # rebound: no longer known to be an instance

    # -- blocks and loops, for the reaching assignment ----------------------------------------
    def _push_block(self, node) -> None:
        pushed = id(node) not in self._transparent
        if pushed:
            self._counter += 1
            self._blocks.append(self._counter)
        self._block_pushed.append(pushed)

    def _pop_block(self) -> None:
        if self._block_pushed.pop():
            self._blocks.pop()

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._push_block(node)

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self._pop_block()

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._push_block(node)

    def leave_SimpleStatementSuite(self, original_node: cst.SimpleStatementSuite) -> None:
        self._pop_block()

    def visit_With(self, node: cst.With) -> None:
        self._transparent.add(id(node.body))

    def _enter_loop(self) -> None:
        self._counter += 1
        self._loops.append(self._counter)

    def visit_While(self, node: cst.While) -> None:
        self._enter_loop()

    def leave_While(self, original_node: cst.While) -> None:
        self._loops.pop()

    def leave_For(self, original_node: cst.For) -> None:
        self._loops.pop()

    def code(self, node: cst.CSTNode) -> str:
        return print_node(self.module, node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._skip.add(id(node.name))
        self.bind(node.name.value)
        if not self.scope:
            self._track(node, node.name.value)
        elif len(self.scope) == 1 and self.func is None and self.scope[0] in self.classes:
            kinds = {dotted(d.decorator) for d in node.decorators}
            has_first = bool(node.params.params or node.params.posonly_params)
            if kinds & {"staticmethod", "classmethod"}:  # enqueued as Class.method: a task too
                self._track(node, f"{self.scope[0]}.{node.name.value}", "classmethod" in kinds and has_first)
            elif not kinds and has_first:  # enqueued as obj.method, obj = Class(...): reported only
                self._track(node, f"{self.scope[0]}.{node.name.value}", True, instance=True)
        self.scope.append(node.name.value)
        p = node.params
        for param in (*p.posonly_params, *p.params, *p.kwonly_params):
            self.bind(param.name.value)
        for param in (p.star_arg, p.star_kwarg):
            if isinstance(param, cst.Param):
                self.bind(param.name.value)

    def _track(self, node: cst.FunctionDef, qualname: str, bound: bool = False, instance: bool = False) -> None:
        """Follow a function that can be a task: module level, or a method of a module-level class."""
        self.functions.add(qualname)
        self.function_nodes[qualname] = node
        self.func = _FuncState(node, qualname, bound, instance)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scope.pop()
        if self.func is not None and self.func.node is original_node:
            self._finish_function(self.func)
            self.func = None

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._skip.add(id(node.name))
        if not self.scope:
            self.classes.add(node.name.value)
        self.bind(node.name.value)
        self.scope.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.scope.pop()

    def visit_Param(self, node: cst.Param) -> None:
        self._skip.add(id(node.name))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._skip.add(id(node.attr))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._skip.add(id(node.keyword))

    def visit_Name(self, node: cst.Name) -> None:
        f = self.func
        if f is not None and id(node) not in self._skip:
            f.names.add(node.value)
            if id(node) not in f.accounted:
                f.uses[node.value] += 1

    # -- imports -------------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            name = dotted(alias.name)
            if not name:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.imports[alias.asname.name.value] = name
                self.bind(alias.asname.name.value)
            else:
                head = name.split(".")[0]
                self.imports[head] = head
                self.bind(head)
        return False

    def _base_module(self, node: cst.ImportFrom) -> str:
        mod = dotted(node.module) if node.module is not None else ""
        level = len(node.relative)
        if not level:
            return mod or ""
        if not self.module_name:
            return "." * level + (mod or "")
        parts = self.module_name.split(".")
        if not self.is_package:
            parts = parts[:-1]
        if level > 1:
            parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
        return ".".join(parts + ([mod] if mod else []))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        base = self._base_module(node)
        if isinstance(node.names, cst.ImportStar):
            self.imports[f"*{len(self.imports)}"] = base + ".*"
            return False
        for alias in node.names:
            name = dotted(alias.name) or ""
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.imports[local] = f"{base}.{name}" if base and not base.endswith(".") else base + name
            self.bind(local)
            if base == "queuack" or base.startswith("queuack."):
                if name == "DuckQueue":
                    self.dq_names.add(local)
                elif name == "DAG":
                    self.dag_names.add(local)
        return False

    # -- assignments ----------------------------------------------------------------------------
    def _is_site_call(self, node: cst.BaseExpression) -> bool:
        return (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in ENQUEUE_METHODS
        )

    def _is_dag_ctor(self, node: cst.BaseExpression) -> bool:
        return is_call_to(node, self.dag_names, "dag") or is_call_to(node, self.dag_names, "DAG")

    def _assign_target(self, target: cst.BaseExpression, value: cst.BaseExpression | None, single: bool) -> None:
        if isinstance(target, cst.Name):
            name = target.value
            if value is not None and single and self._is_site_call(value):
                self._pending[id(value)] = (self.scope_name, name)
                return
            if value is not None and self._is_dag_ctor(value):
                self.dag_vars.add((self.scope_name, name))
            f = self.func
            if f is None and not self.scope and value is not None and single and is_call_to(
                    value, self.dq_names, "DuckQueue"):
                self.module_queues.add(name)
            if (
                f is not None
                and value is not None
                and single
                and is_call_to(value, self.dq_names, "DuckQueue")
            ):
                f.queue_vars[name] += 1
                f.accounted.add(id(target))
                f.add_path(value)
            self.bind(name)
            cls = dotted(value.func) if single and isinstance(value, cst.Call) else None
            if cls is not None and len(self.bindings[(self.scope_name, name)]) == 1:
                self.instances[(self.scope_name, name)] = cls
            return
        for name in _names_in(target):
            self.bind(name)

    def visit_Assign(self, node: cst.Assign) -> None:
        single = len(node.targets) == 1
        for t in node.targets:
            self._assign_target(t.target, node.value, single)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._assign_target(node.target, node.value, True)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        for name in _names_in(node.target):
            self.bind(name)

    def visit_For(self, node: cst.For) -> None:
        self._enter_loop()
        for name in _names_in(node.target):
            self.bind(name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        for name in _names_in(node.target):
            self.bind(name)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is None:
            return
        target = node.asname.name
        if isinstance(target, cst.Name):
            if self._is_dag_ctor(node.item):
                self.dag_vars.add((self.scope_name, target.value))
            f = self.func
            if f is not None and is_call_to(node.item, self.dq_names, "DuckQueue"):
                f.queue_vars[target.value] += 1
                f.accounted.add(id(target))
                f.add_path(node.item)
        for name in _names_in(target):
            self.bind(name)

    def visit_Expr(self, node: cst.Expr) -> None:
        f = self.func
        v = node.value
        if (
            f is not None
            and isinstance(v, cst.Call)
            and not v.args
            and isinstance(v.func, cst.Attribute)
            and v.func.attr.value == "close"
            and isinstance(v.func.value, cst.Name)
            and v.func.value.value in f.queue_vars
        ):
            f.accounted.add(id(v.func.value))

    # -- calls -----------------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        f = self.func
        func = node.func
        if f is not None:
            if is_call_to(node, self.dq_names, "DuckQueue"):
                f.opens.append(node)
            elif isinstance(func, cst.Attribute) and func.attr.value == "get_result":
                if isinstance(func.value, cst.Name) and func.value.value in f.param_names:
                    self.readers.add(f.qualname)  # reads through a queue it is handed
                self._read(f, node)
        if isinstance(func, cst.Attribute) and func.attr.value in ENQUEUE_METHODS:
            self._site(node)
        else:
            ref = dotted(func)
            if ref is not None:
                self._calls.append((f.qualname if f else None, ref, self._passed(f, node), node))

    @staticmethod
    def _passed(f: _FuncState | None, node: cst.Call) -> tuple[str, ...]:
        """The caller's parameters, and its queue variables (as ``"queue:q"``), that ``node``
        passes on as they are."""
        if f is None:
            return ()
        out = []
        for a in node.args:
            if isinstance(a.value, cst.Name):
                if a.value.value in f.queue_vars:
                    out.append(f"queue:{a.value.value}")
                elif a.value.value in f.param_names:
                    out.append(a.value.value)
        return tuple(out)

    def finish(self) -> None:
        """Keep the calls of names this module defines or imports: the only ones the index can follow."""
        known = self.functions | self.classes | set(self.imports)
        for caller, ref, passed, node in self._calls:
            if ref.partition(".")[0] in known:
                self.calls.append(CallInfo(len(self.calls), caller, ref, passed))
                self.call_nodes.append(node)
        self._calls = []

    def visit_ListComp(self, node: cst.ListComp) -> None:
        """``[q.get_result(x) for x in parent_ids]``: all parents, one by one, from a list of ids."""
        f = self.func
        if f is None:
            return
        loop = node.for_in
        call = node.elt
        if (
            loop.inner_for_in is not None
            or loop.ifs
            or loop.asynchronous is not None
            or not isinstance(loop.target, cst.Name)
            or not isinstance(loop.iter, cst.Name)
            or loop.iter.value not in f.param_names
            or not isinstance(call, cst.Call)
            or not isinstance(call.func, cst.Attribute)
            or call.func.attr.value != "get_result"
            or len(call.args) != 1
            or call.args[0].keyword is not None
            or call.args[0].star
            or not isinstance(call.args[0].value, cst.Name)
            or call.args[0].value.value != loop.target.value
        ):
            return
        recv = call.func.value
        if isinstance(recv, cst.Name) and recv.value in f.queue_vars:
            f.accounted.add(id(recv))
        elif is_call_to(recv, self.dq_names, "DuckQueue"):
            f.add_path(recv)
        else:
            return
        f.accounted.update((id(call.args[0].value), id(loop.target), id(loop.iter)))
        f.in_list_read.add(id(call))
        f.list_reads.append((loop.iter.value, node))

    def _read(self, f: _FuncState, node: cst.Call) -> None:
        if id(node) in f.in_list_read:
            return
        func = node.func
        assert isinstance(func, cst.Attribute)
        recv = func.value
        if isinstance(recv, cst.Name) and recv.value in f.queue_vars:
            f.accounted.add(id(recv))
        elif is_call_to(recv, self.dq_names, "DuckQueue"):
            f.add_path(recv)
        elif (isinstance(recv, cst.Name) and recv.value in self.module_queues
              and recv.value not in f.param_names):
            f.module_queue = recv.value  # the queue opened once at import: reported, not rewritten
        else:
            return  # a queue that the function did not open: not the old wiring
        arg = None
        if len(node.args) == 1 and not node.args[0].star and (
            node.args[0].keyword is None or node.args[0].keyword.value == "job_id"
        ):
            arg = node.args[0].value
        if isinstance(arg, cst.Name) and arg.value in f.param_names:
            f.accounted.add(id(arg))
            f.reads.append((arg.value, arg.value, node))
        else:
            shown = self.code(arg) if arg is not None else ", ".join(self.code(a) for a in node.args)
            f.reads.append((None, shown, node))

    def _argexpr(self, node: cst.BaseExpression, nested: bool = False) -> tuple:
        if (
            not nested
            and isinstance(node, (cst.List, cst.Tuple))
            and not any(isinstance(el, cst.StarredElement) for el in node.elements)
        ):
            return ("seq", tuple(self._argexpr(el.value, True) for el in node.elements))
        if isinstance(node, cst.Name):
            if node.value == "None":
                return ("none",)
            return ("name", node.value)
        s = string_value(node)
        if s is not None:
            return ("str", s)
        if (
            isinstance(node, cst.Subscript)
            and isinstance(node.value, cst.Attribute)
            and node.value.attr.value == "jobs"
            and len(node.slice) == 1
            and isinstance(node.slice[0].slice, cst.Index)
        ):
            key = string_value(node.slice[0].slice.value)
            recv = self.code(node.value.value)
            if key is not None:
                return ("jobs", recv, key)
        return ("other", self.code(node))

    def _site(self, node: cst.Call) -> None:
        func = node.func
        assert isinstance(func, cst.Attribute)
        positional: list[cst.Arg] = []
        keywords: dict[str, cst.Arg] = {}
        args_state = "absent"
        kwargs_state = "absent"
        for arg in node.args:
            if arg.star == "*":
                args_state = "dynamic"
            elif arg.star == "**":
                kwargs_state = "dynamic"
            elif arg.keyword is None:
                positional.append(arg)
            else:
                keywords[arg.keyword.value] = arg
        target = positional[0].value if positional else (keywords["func"].value if "func" in keywords else None)
        if target is None:
            return
        receiver = self.code(func.value)
        method = func.attr.value
        # add_job/add_node exist only on a DAG; enqueue is a DAG's when the receiver was bound to
        # DAG(...) or q.dag(...) (or is simply called `dag`), else it is the queue's
        is_dag = method != "enqueue" or receiver == "dag"
        if not is_dag and isinstance(func.value, cst.Name):
            parts = list(self.scope)
            while True:
                if (".".join(parts), func.value.value) in self.dag_vars:
                    is_dag = True
                    break
                if not parts:
                    break
                parts.pop()
        layout = call_layout(method, is_dag)
        for i, arg in enumerate(positional[1:], 1):
            if i < len(layout):
                keywords.setdefault(layout[i], arg)
        args_node = keywords["args"].value if "args" in keywords else None
        kwargs_node = keywords["kwargs"].value if "kwargs" in keywords else None
        args: list = []
        if args_state != "dynamic" and args_node is not None:
            if isinstance(args_node, (cst.Tuple, cst.List)):
                args_state = "seq"
                for el in args_node.elements:
                    if isinstance(el, cst.StarredElement):
                        args_state = "dynamic"
                        break
                    args.append(self._argexpr(el.value))
            elif not (isinstance(args_node, cst.Name) and args_node.value == "None"):
                args_state = "dynamic"
        kwargs: list = []
        if kwargs_state != "dynamic" and kwargs_node is not None:
            if isinstance(kwargs_node, cst.Dict):
                kwargs_state = "dict"
                for el in kwargs_node.elements:
                    key = string_value(el.key) if isinstance(el, cst.DictElement) else None
                    if key is None:
                        kwargs_state = "dynamic"
                        break
                    kwargs.append((key, self._argexpr(el.value)))
            elif (
                isinstance(kwargs_node, cst.Call)
                and isinstance(kwargs_node.func, cst.Name)
                and kwargs_node.func.value == "dict"
            ):
                kwargs_state = "dict"
                for a in kwargs_node.args:
                    if a.keyword is None or a.star:
                        kwargs_state = "dynamic"
                        break
                    kwargs.append((a.keyword.value, self._argexpr(a.value)))
            elif not (isinstance(kwargs_node, cst.Name) and kwargs_node.value == "None"):
                kwargs_state = "dynamic"
        depends_state = "absent"
        depends: list = []
        dep = keywords.get("depends_on")
        if dep is not None:
            v = dep.value
            if isinstance(v, cst.Name) and v.value == "None":
                depends_state = "none"
            elif isinstance(v, (cst.List, cst.Tuple)):
                depends_state = "items"
                for el in v.elements:
                    if isinstance(el, cst.StarredElement):
                        depends_state = "dynamic"
                        break
                    depends.append(self._argexpr(el.value))
            else:
                item = self._argexpr(v)
                depends_state = "dynamic" if item[0] == "other" else "items"
                depends.append(item)
        name_node = keywords["name"].value if "name" in keywords else None
        quote = '"'
        if isinstance(name_node, cst.SimpleString) and name_node.quote in ("'",):
            quote = "'"
        site = SiteInfo(
            ordinal=len(self.sites),
            method=method,
            receiver=receiver,
            is_dag=is_dag,
            scope=self.scope_name,
            func_ref=self._enqueued_ref(target),
            node_name=self._argexpr(name_node) if name_node is not None else None,
            args_state=args_state,
            args=tuple(args),
            kwargs_state=kwargs_state,
            kwargs=tuple(kwargs),
            depends_state=depends_state,
            depends=tuple(depends),
            seq=self._next(),
            block=tuple(self._blocks),
            loops=tuple(self._loops),
            extra_positional=len(positional) > len(layout),
            layout=layout,
            quote=quote,
        )
        self.sites.append(site)
        self.site_nodes.append(node)
        pending = self._pending.pop(id(node), None)
        if pending is not None:
            self.bindings[pending].append((site.ordinal, self._next(), site.block, site.loops))

    def _enqueued_ref(self, target: cst.BaseExpression) -> str | None:
        """What an enqueue names: ``obj.method`` on ``obj = SomeClass(...)`` (in this function or
        an enclosing scope) names ``SomeClass.method``, so the index finds the method."""
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
            parts = list(self.scope)
            while True:
                cls = self.instances.get((".".join(parts), target.value.value))
                if cls is not None:
                    return f"{cls}.{target.attr.value}"
                if (".".join(parts), target.value.value) in self.bindings or not parts:
                    break  # bound to something else here: a nearer name hides the outer instance
                parts.pop()
        return dotted(target)

    # -- the verdict on one function ----------------------------------------------------------
    def _finish_function(self, f: _FuncState) -> None:
        if not f.reads and not f.list_reads:
            return
        name = f.qualname
        problem = hint = None
        manual = "replace the manual read with context.upstream(\"<parent name>\") by hand"
        if f.module_queue is not None:
            problem = f"it reads its parent through `{f.module_queue}`, a queue opened at module level"
            hint = ("take a context parameter, read the parent with context.upstream(\"<parent "
                    "name>\"), and drop the id from the enqueue site")
        if f.instance:
            problem = (
                f"it is the instance method `{name}`, enqueued through an instance; the rewrite "
                "does not follow instances"
            )
            hint = (f"migrate `{name}` by hand: add a context parameter after self, read the parent "
                    "with context.upstream(\"<parent name>\"), and drop the id and the queue path "
                    "from args= at its enqueue sites")
        id_params: list[str] = []
        for param, shown, _ in f.reads:
            if param is None:
                problem = f"it reads get_result({shown}), an id computed at run time"
                hint = manual
                break
            if param not in id_params:
                id_params.append(param)
        kinds = {p.name: p.kind for p in f.params}
        list_params: list[str] = []
        for param, _ in f.list_reads:
            if param not in list_params:
                list_params.append(param)
        if problem is None and list_params:
            if len(list_params) > 1 or id_params:
                problem = (
                    "it reads a list of parent ids next to other parents; "
                    "context.get_parent_results() returns all of them together"
                )
                hint = manual
            elif set(list_params) & set(f.path_params):
                problem, hint = f"`{list_params[0]}` is both a list of ids and the queue path", manual
        if problem is None:
            for p in id_params + list_params:
                if kinds.get(p) in ("star", "starstar"):
                    problem, hint = f"the parent id comes from *{p}", manual
                elif f.uses[p]:
                    problem = f"the parent id parameter `{p}` is used for more than get_result()"
                    hint = (
                        f"stop using `{p}` elsewhere (context.job_id and context.get_parent_names() "
                        "may help), then run again"
                    )
                if problem:
                    break
        if problem is None:
            for p in f.path_params:
                if f.uses[p]:
                    problem = f"the queue path parameter `{p}` is used for more than opening the queue"
                    hint = "the task still needs the path; migrate it by hand"
                    break
        if problem is None:
            for q, count in f.queue_vars.items():
                if count > 1:
                    problem = f"the queue variable `{q}` is assigned more than once"
                elif f.uses[q]:
                    problem = f"the task uses the queue `{q}` for more than reading its parents"
                if problem:
                    hint = "keep the queue for the other uses and replace only the get_result() calls by hand"
                    break
        if problem is None and any(id(o) not in f.open_ok for o in f.opens):
            problem = "it opens DuckQueue(...) in a form the rewrite does not know"
            hint = manual
        ctx_name = None
        if problem is None:
            if f.annotated_context or {"context", "ctx"} & f.param_names:
                problem = "it already takes a context parameter but still reads its parent by hand"
                hint = manual
            elif "context" not in f.names:
                ctx_name = "context"
            elif "ctx" not in f.names:
                ctx_name = "ctx"
            else:
                problem = "the names `context` and `ctx` are both taken in the task"
                hint = "rename one of them, then run again"
        self.tasks[name] = TaskInfo(
            name=name,
            params=tuple(f.params),
            id_params=tuple(id_params),
            list_params=tuple(list_params),
            path_params=tuple(f.path_params),
            queue_vars=tuple(f.queue_vars),
            ctx_name=ctx_name,
            problem=problem,
            problem_hint=hint,
            bound=f.bound,
            annotation=(task_context_name(self.imports) or "TaskContext") if f.annotated else None,
        )
        self.task_nodes[name] = f.node
        self.read_nodes[name] = [r[2] for r in f.reads] + [r[1] for r in f.list_reads]
        self.read_params[name] = [(r[0] or "", r[2]) for r in f.reads] + list(f.list_reads)


# --------------------------------------------------------------------------------------------
# pass one


def _syntax_error(source: str, exc: Exception) -> str:
    """A message with a line for a file LibCST could not parse.

    CPython's own parser names the place of the error far more precisely than LibCST's, so ask it
    first; only for code that CPython accepts and LibCST does not, report LibCST's view.
    """
    if "\0" in source:  # CPython reports no line for it
        at = source.index("\0")
        line = source.count("\n", 0, at) + 1
        column = at - (source.rfind("\n", 0, at) + 1) + 1
        return f"line {line}, column {column}: a NUL byte, which Python source cannot contain"
    try:
        compile(source, "<file>", "exec", dont_inherit=True)
    except SyntaxError as err:
        if not err.lineno:
            return f"syntax error: {err.msg}"
        where = f"line {err.lineno}" + (f", column {err.offset}" if err.offset else "")
        return f"syntax error at {where}: {err.msg}"
    except (ValueError, RecursionError, MemoryError) as err:
        return f"cannot parse: {type(err).__name__}: {err}"
    line = getattr(exc, "editor_line", None)
    col = getattr(exc, "editor_column", None)
    message = (getattr(exc, "message", None) or str(exc)).splitlines()[0]
    if line:
        return f"LibCST cannot parse this file (line {line}, column {col}): {message}"
    return f"LibCST cannot parse this file: {message}"


def _parse(source: str) -> cst.Module:
    return cst.parse_module(source)


# Trees parsed by ``summarize(keep=True)``, for ``fix_file`` in the same process: each file is
# parsed and walked once. The engine keeps them only when both passes run in its own process,
# and drops those the index does not name as soon as it is built.
_KEPT: dict[str, tuple[str, cst.Module, "Collector"]] = {}


def keep_only(paths: set[str] | frozenset[str]) -> None:
    """Forget the kept trees of every file but `paths`."""
    for path in [p for p in _KEPT if p not in paths]:
        del _KEPT[path]


def _positions(source: str, tree: cst.Module, collector: "Collector") -> Positions:
    """Positions for the nodes a finding or a suppression can name, with what the walk knows
    about each (which def a name belongs to, which module-level function a call sits in)."""
    positions = Positions(source, tree)
    for name, node in collector.function_nodes.items():
        positions.def_name(node.name, name)
    for name, reads in collector.read_nodes.items():
        for call in reads:
            if isinstance(call, cst.Call):
                positions.inside(call, name)
    for site, node in zip(collector.sites, collector.site_nodes):
        positions.inside(node, site.scope.partition(".")[0] or None)
    for call, node in zip(collector.calls, collector.call_nodes):
        positions.inside(node, call.caller)
    return positions


#: LibCST recurses once a nesting level when it walks or prints a tree: a few hundred adjacent
#: string literals (a long SQL text) exceed Python's default limit of 1,000 frames.
DEEP_RECURSION_LIMIT = 100_000
DEEP_STACK_BYTES = 512 * 1024 * 1024
TOO_DEEP = "cannot analyse: nested too deeply even for a deep stack (RecursionError); migrate it by hand"


def with_deep_stack(fn, *args):
    """``fn(*args)``; on RecursionError, once more in a thread with a large stack and limit.

    The stack is only reserved address space, and the higher limit holds only while that thread
    runs, so ordinary files pay nothing.
    """
    try:
        return fn(*args)
    except RecursionError:
        pass
    import sys
    import threading

    outcome: list = []

    def target() -> None:
        try:
            outcome.append((True, fn(*args)))
        except BaseException as exc:  # handed back to the caller's thread below
            outcome.append((False, exc))

    old_limit, old_stack = sys.getrecursionlimit(), threading.stack_size()
    sys.setrecursionlimit(max(old_limit, DEEP_RECURSION_LIMIT))
    threading.stack_size(DEEP_STACK_BYTES)
    try:
        thread = threading.Thread(target=target, name="migrate-deep-stack")
        thread.start()
    finally:
        threading.stack_size(old_stack)
    thread.join()
    sys.setrecursionlimit(old_limit)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def summarize(path: str, source: str, module: str | None, keep: bool = False) -> FileSummary:
    """Parse ``source`` once and collect what the index needs. Never raises on bad input.

    With ``keep``, the tree stays in this process for ``fix_file``."""
    is_package = path.replace("\\", "/").rsplit("/", 1)[-1] == "__init__.py"
    try:
        return with_deep_stack(_summarize, path, source, module, is_package, keep)
    except RecursionError:
        return FileSummary(path, module, is_package, error=TOO_DEEP)


def _summarize(path: str, source: str, module: str | None, is_package: bool, keep: bool
               ) -> FileSummary:
    try:
        tree = _parse(source)
    except cst.ParserSyntaxError as exc:
        return FileSummary(path, module, is_package, error=_syntax_error(source, exc))
    except ValueError as exc:
        return FileSummary(path, module, is_package, error=f"cannot parse: {exc}")
    collector = Collector(tree, module, is_package)
    collector.run(tree)
    collector.finish()
    if keep:
        _KEPT[path] = (source, tree, collector)
    sup = suppressions(source)
    if sup and (collector.tasks or collector.sites or collector.calls):
        positions = _positions(source, tree, collector)

        def codes(nodes) -> frozenset[str]:
            out: set[str] = set()
            for n in nodes:
                out |= sup.get(positions.start(n)[0], frozenset())
            return frozenset(out)

        for name, info in collector.tasks.items():
            info.suppressed = codes([collector.task_nodes[name].name, *collector.read_nodes[name]])
        for site, node in zip(collector.sites, collector.site_nodes):
            site.suppressed = codes([node])
        for call, node in zip(collector.calls, collector.call_nodes):
            call.suppressed = codes([node])
    return FileSummary(
        path=path,
        module=module,
        is_package=is_package,
        imports=dict(collector.imports),
        functions=frozenset(collector.functions),
        readers=frozenset(collector.readers),
        tasks=collector.tasks,
        sites=collector.sites,
        calls=collector.calls,
        bindings={k: tuple(v) for k, v in collector.bindings.items()},
    )


# --------------------------------------------------------------------------------------------
# pass two


class FileContext:
    """The second pass's view of one file: its plans from the index, next to their nodes."""

    def __init__(self, path: str, module: cst.Module, collector: Collector, index: ProjectIndex):
        self.path = path
        self.module = module
        self.imports = collector.imports
        self.task_plans = index.task_by_qualname()
        self.imported = index.imported
        self.tasks: list[tuple[TaskPlan, cst.FunctionDef, list[tuple[str, cst.Call]]]] = []
        self.sites: list[tuple[SitePlan, cst.Call]] = []
        self.calls: list[tuple[CallPlan, cst.Call]] = []  # direct calls of tasks
        # the module-level def or class each site sits in ("" at module level): a rewrite need
        # not walk the other statements
        self.site_tops: dict[int, str] = {}
        self.mismatch = False
        for plan in index.tasks_in(path):
            node = collector.function_nodes.get(plan.name)
            if node is None:
                self.mismatch = True
                continue
            self.tasks.append((plan, node, collector.read_params.get(plan.name, [])))
        for plan in index.calls_in(path):
            if plan.ordinal >= len(collector.call_nodes):
                self.mismatch = True
                continue
            self.calls.append((plan, collector.call_nodes[plan.ordinal]))
        for plan in index.sites_in(path):
            if plan.ordinal >= len(collector.site_nodes):
                self.mismatch = True
                continue
            self.sites.append((plan, collector.site_nodes[plan.ordinal]))
            self.site_tops[id(self.sites[-1][1])] = (
                collector.sites[plan.ordinal].scope.partition(".")[0])


def _rule_objects():
    from migrate.rules import load_rule_classes

    return [cls() for cls in load_rule_classes()]


def fix_file(path: str, source: str, index: ProjectIndex, selection: RuleSelection, fix: bool) -> FileResult:
    """Report on one file the index names and, when ``fix`` is true, rewrite it."""
    kept = _KEPT.pop(path, None)
    if not index.has_file(path):
        return FileResult(path)
    try:
        return with_deep_stack(_fix_file, path, source, index, selection, fix, kept)
    except RecursionError:
        return FileResult(path, error=TOO_DEEP)


def _fix_file(path: str, source: str, index: ProjectIndex, selection: RuleSelection, fix: bool,
              kept: tuple | None) -> FileResult:
    result = FileResult(path)
    if kept is not None and kept[0] == source:  # pass one's tree and walk, in this process
        _, tree, collector = kept
    else:
        try:
            tree = _parse(source)
        except cst.ParserSyntaxError as exc:
            result.error = _syntax_error(source, exc)
            return result
        collector = Collector(tree)
        collector.run(tree)
        collector.finish()
    ctx = FileContext(path, tree, collector, index)
    if ctx.mismatch:
        result.error = "the file changed between the scan and the rewrite; run again"
        return result
    rules = _rule_objects()
    violations: list[Violation] = []
    for rule in rules:
        violations.extend(rule.check(ctx))
    if not violations:
        return result
    positions = _positions(source, tree, collector)
    sup = suppressions(source)
    findings: set[Finding] = set()
    for v in violations:
        if not selection.enabled(v.code):
            continue
        line, column = positions.start(v.node)
        if is_suppressed(v.code, sup.get(line, frozenset())):
            continue
        fixable, hint = v.fixable, v.hint
        if fixable and not fix_allowed(v.task, selection):  # what apply would leave alone
            fixable, hint = False, _why_not_applied(v.task, selection)
        findings.add(Finding(path, line, column + 1, v.code, v.message, fixable, hint))
    result.findings = sorted(findings)
    if fix:
        new_tree, result.tasks = _apply_fixes(ctx, selection)
        if new_tree is not None:
            new_source = splice(source, tree, new_tree)
            if new_source is None:  # the statement-wise splice did not line up: print it all
                new_source = _keep_untouched_lines(source, tree.code, new_tree.code)
            if new_source is None:
                result.error = (
                    "LibCST does not print this file back exactly as it was, so it is not rewritten; "
                    "migrate it by hand"
                )
            elif new_source != source:
                result.new_source = new_source
    return result


def _keep_untouched_lines(source: str, printed: str, new: str) -> str | None:
    """The rewrite, with every line that no rule touched taken from ``source`` byte for byte.

    LibCST prints back nearly every file exactly (``printed == source``); in the rare file where it
    does not (a space lost before a colon), the lines the rewrite left alone come from the original.
    Returns None when the two cannot be lined up.
    """
    if printed == source:
        return new
    import difflib

    original = source.splitlines(keepends=True)
    before = printed.splitlines(keepends=True)
    after = new.splitlines(keepends=True)
    if len(original) != len(before):
        return None
    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        out.extend(original[a0:a1] if op == "equal" else after[b0:b1])
    return "".join(out)


def _fix_codes() -> tuple[str, ...]:
    """The codes of the fixable rules: one rewrite of a task and its sites carries all of them."""
    from migrate.rules import RULES

    return tuple(code for code, info in RULES.items() if info.fixable)


def fix_allowed(plan: TaskPlan | None, selection: RuleSelection) -> bool:
    """A task and its sites are rewritten together, or not at all."""
    if plan is None or not plan.fixable:
        return False
    for code in _fix_codes():
        if not selection.enabled(code) or is_suppressed(code, plan.blocked):
            return False
    return True


def _why_not_applied(plan: TaskPlan | None, selection: RuleSelection) -> str:
    codes = _fix_codes()
    if plan is not None and all(selection.enabled(code) for code in codes):
        return (
            "a suppression comment (# noqa, # migrate: ignore) on a line this rewrite touches "
            "keeps apply from making it"
        )
    return f"{' and '.join(codes)} are applied together: select all of them (and ignore none) to fix this"


class _Apply(cst.CSTTransformer):
    """Rewrites the tasks and enqueue sites that the plans allow, nothing else."""

    def __init__(self, funcs: dict[int, TaskPlan], calls: dict[int, SitePlan], rewrite_task, rewrite_site):
        super().__init__()
        self.funcs = funcs
        self.calls = calls
        self.rewrite_task = rewrite_task
        self.rewrite_site = rewrite_site

    def leave_FunctionDef(self, original_node, updated_node):
        plan = self.funcs.get(id(original_node))
        return updated_node if plan is None else self.rewrite_task(updated_node, plan)

    def leave_Call(self, original_node, updated_node):
        plan = self.calls.get(id(original_node))
        return updated_node if plan is None else self.rewrite_site(updated_node, plan)


def _apply_fixes(ctx: FileContext, selection: RuleSelection
                 ) -> tuple[cst.Module | None, frozenset[str]]:
    """The rewritten module (None when nothing changes) and the keys of the tasks it rewrites."""
    funcs = {}
    calls = {}
    for plan, node, _ in ctx.tasks:
        if fix_allowed(plan, selection):
            funcs[id(node)] = plan
    for plan, node in ctx.sites:
        task = ctx.task_plans.get(plan.task)
        if plan.fixable and task is not None and fix_allowed(task, selection):
            calls[id(node)] = plan
    if not funcs and not calls:
        return None, frozenset()
    tasks = frozenset(p.qualname for p in funcs.values()) | frozenset(p.task for p in calls.values())

    # each rule brings its part of the rewrite (fix_task, fix_site); they run in code order
    rules = _rule_objects()

    def rewrite_task(node: cst.FunctionDef, plan: TaskPlan) -> cst.FunctionDef:
        for rule in rules:
            if hasattr(rule, "fix_task"):
                node = rule.fix_task(node, plan)
        return node

    def rewrite_site(call: cst.Call, plan: SitePlan) -> cst.Call:
        for rule in rules:
            if hasattr(rule, "fix_site"):
                call = rule.fix_site(call, plan)
        return call

    new = _transform_statements(
        ctx.module, _Apply(funcs, calls, rewrite_task, rewrite_site),
        {p.name.partition(".")[0] for p in funcs.values()} | {ctx.site_tops[i] for i in calls})
    if new is ctx.module:
        return None, frozenset()
    if funcs:
        module_name = next(iter(funcs.values())).module
        add = any(p.annotation for p in funcs.values()) and task_context_name(ctx.imports) is None
        changed = frozenset(map(id, new.body)) - frozenset(map(id, ctx.module.body))
        new = _update_queuack_import(new, module_name, ctx.imported, add, changed)
    return new, tasks


def _transform_statements(module: cst.Module, transformer: cst.CSTTransformer, tops: set[str]
                          ) -> cst.Module:
    """`transform` over the module-level statements that can hold a target: the defs and classes
    named in `tops` ("" stands for code outside them), and any statement that is not a def or
    class when a name in `tops` is not defined at module level (a def inside an ``if``).
    `transform` keeps every node it does not change, so the unchanged statements are not printed
    again (``migrate.splice``)."""
    from migrate.rules._edit import transform

    defined = {s.name.value for s in module.body if isinstance(s, (cst.FunctionDef, cst.ClassDef))}
    anywhere = bool(tops - defined)
    body = list(module.body)
    for i, stmt in enumerate(body):
        is_def = isinstance(stmt, (cst.FunctionDef, cst.ClassDef))
        if (stmt.name.value in tops) if is_def else anywhere:
            body[i] = transform(stmt, transformer)
    if all(new is old for new, old in zip(body, module.body)):
        return module
    return module.with_changes(body=body)


def task_context_name(imports: dict[str, str]) -> str | None:
    """The name this module imports TaskContext under, if it does."""
    for local, target in imports.items():
        if target in ("queuack.TaskContext", "queuack.context.TaskContext"):
            return local
    return None


class _NameCounter(Collector):
    """Counts the names a module still uses (imports themselves aside)."""

    def __init__(self, module):
        super().__init__(module)
        self.counts: Counter[str] = Counter()
        self.strings: set[str] = set()

    def visit_FunctionDef(self, node):  # no task bookkeeping here
        return None

    def leave_FunctionDef(self, original_node):
        return None

    def visit_Name(self, node):
        if id(node) not in self._skip:
            self.counts[node.value] += 1

    def visit_SimpleString(self, node):
        value = string_value(node)
        if value:
            self.strings.add(value)


def _still_named(module: cst.Module, name: str, changed: frozenset[int]) -> bool:
    """Whether `module` still uses the name `name` (imports aside), or a string names it.

    The statements the rewrite changed (ids in `changed`) are looked at first, and the walk
    stops at the first use: it is usually there, and the other statements are not walked."""
    counter = _NameCounter(module)
    ordered = sorted(module.body, key=lambda stmt: id(stmt) not in changed)
    for stmt in ordered:
        counter.run(stmt)
        if counter.counts[name] or name in counter.strings:
            return True
    return False


def _update_queuack_import(
    module: cst.Module, module_name: str | None, imported: frozenset[str], add_task_context: bool,
    changed: frozenset[int] = frozenset(),
) -> cst.Module:
    """Remove ``DuckQueue`` from a module-level ``from queuack import ...`` once nothing uses it,
    and bring in ``TaskContext`` when an annotated task now takes ``context: TaskContext``.

    DuckQueue goes only when no other scanned module imports it from here (directly or with
    ``*``) and no string (``__all__``) names it. TaskContext joins the first ``from queuack
    import`` line, or gets a line of its own after the module's last import.
    """
    from migrate.rules._edit import append_item, remove_items

    keep_queue = not module_name or f"{module_name}.DuckQueue" in imported or f"{module_name}.*" in imported
    body = list(module.body)
    for i, stmt in enumerate(body):
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            continue
        imp = stmt.body[0]
        if not isinstance(imp, cst.ImportFrom) or imp.relative or isinstance(imp.names, cst.ImportStar):
            continue
        if dotted(imp.module) != "queuack" if imp.module is not None else True:
            continue
        drop = set()
        for j, alias in enumerate(imp.names):
            if keep_queue or not isinstance(alias.name, cst.Name) or alias.name.value != "DuckQueue":
                continue
            local = alias.asname.name.value if alias.asname is not None else "DuckQueue"
            if not _still_named(module, local, changed):
                drop.add(j)
        if not drop and not add_task_context:
            continue
        names = remove_items(imp.names, drop)
        if add_task_context:
            names = append_item(names, cst.ImportAlias(name=cst.Name("TaskContext")))
        if names:
            body[i] = stmt.with_changes(body=[imp.with_changes(names=names)])
        else:
            del body[i]
            if i < len(body):
                lines = [x for x in stmt.leading_lines if x.comment is not None] + list(body[i].leading_lines)
                if i == 0:  # no blank lines at the top of the file
                    while lines and lines[0].comment is None:
                        lines.pop(0)
                body[i] = body[i].with_changes(leading_lines=lines)
        return module.with_changes(body=body)
    if add_task_context:
        at = 0
        for i, stmt in enumerate(body):
            if isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], (cst.Import, cst.ImportFrom)):
                at = i + 1
            elif i == 0 and isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr):
                at = 1  # after the module docstring
        body.insert(at, cst.parse_statement("from queuack import TaskContext\n"))
        return module.with_changes(body=body)
    return module


# --------------------------------------------------------------------------------------------
# convenience for tests and small tools: the whole pipeline over in-memory sources


def module_name_for(relpath: str) -> str | None:
    """``pkg/tasks.py`` -> ``pkg.tasks``; ``pkg/__init__.py`` -> ``pkg``: for sources held in
    memory, every folder counts as a package (there is no disk to look for ``__init__.py``)."""
    return model_module_name(relpath.replace("\\", "/"), lambda folder: True)


def analyze_sources(
    sources: dict[str, str],
    selection: RuleSelection | None = None,
    fix: bool = False,
    allow_direct_calls: bool = False,
) -> dict[str, FileResult]:
    """Summarise, index and check (or fix) ``{relative path: source}`` as one project."""
    from migrate.prefilter import might_need_migration

    selection = selection or RuleSelection()
    summaries = [
        summarize(path, text, module_name_for(path))
        for path, text in sources.items()
        if might_need_migration(text)
    ]
    index = build_index(summaries, allow_direct_calls)
    related = related_pattern(index)
    if related is not None:
        more = [
            summarize(path, text, module_name_for(path))
            for path, text in sources.items()
            if not might_need_migration(text) and related.search(text)
        ]
        if more:
            index = build_index(summaries + [m for m in more if m.error is None], allow_direct_calls)
    results: dict[str, FileResult] = {}
    for s in summaries:
        if s.error:
            results[s.path] = FileResult(s.path, error=s.error)
    for path in sorted(index.files_to_fix()):
        results[path] = fix_file(path, sources[path], index, selection, fix)
    return results
