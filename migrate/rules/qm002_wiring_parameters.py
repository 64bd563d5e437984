"""QM002 wiring-parameters: the parent id and the queue path travel as task parameters."""

from __future__ import annotations

import libcst as cst

from migrate.model import Violation
from migrate.rules._edit import append_item, insert_item, remove_items, string_literal


class WiringParameters:
    """A task takes its parent's job id and the queue path as parameters, and its enqueue sites pass them.

    Manual wiring has two halves. The task declares the plumbing in its signature:

    ```python
    def transform(parent_id, queue_path, factor):
        ...
    ```

    and every place that enqueues it passes that plumbing by hand, next to the real arguments:

    ```python
    e = dag.add_job(extract, name="extract")
    dag.add_job(transform, name="transform", args=(e, path, 2))
    ```

    With the TaskContext the runtime knows the parents from ``depends_on``, so the rewrite:

    - removes the id and path parameters from the signature and adds ``context`` (``ctx`` when
      ``context`` is taken). When the remaining parameters have defaults or a ``*``, ``context``
      becomes keyword-only. A task written with annotations gets ``context: TaskContext``, and
      ``TaskContext`` joins the module's ``from queuack import ...`` (or gets its own line).
    - removes the matching arguments at every enqueue site: from ``args=`` (a tuple or list) and
      from ``kwargs=`` (a dict literal or ``dict(...)``), by keyword or by position
      (``add_job(func, name, depends_on, args, kwargs)``, the builder's
      ``enqueue(func, args, kwargs, name, depends_on)``). Every other argument stays where it was;
      an ``args=()`` or ``kwargs={}`` left empty is removed (or kept as ``()`` / ``{}`` when
      positional arguments follow it).
    - makes sure ``depends_on`` names the parent: added when missing, a single name becomes a
      list when a second one joins, ids already listed (``depends_on=e``) count as present.

    ```python
    def transform(factor, context):
        ...

    e = dag.add_job(extract, name="extract")
    dag.add_job(transform, name="transform", args=(2,), depends_on="extract")
    ```

    It understands ``dag.add_job``, ``dag.add_node`` and ``dag.enqueue`` (the ``q.dag()`` builder)
    inside one DAG, with the parent id taken from an earlier ``x = dag.add_job(..., name="...")``
    or from ``dag.jobs["..."]``. The task and the sites may live in different modules: the index
    follows ``from tasks import transform``, ``import tasks as t``, aliases and relative imports
    within the scanned code. A static or class method of a module-level class is a task like a
    function when it is enqueued as ``Class.method`` (``dag.add_job(Newsletter.render, ...)``);
    a class method keeps its ``cls``. The rewrite is applied together with QM001 and only when
    all sites agree; everything else is QM003.
    """

    code = "QM002"
    name = "wiring-parameters"
    summary = "Parent ids and the queue path are passed by hand; take a context and declare depends_on."
    fixable = True

    VALID = [
        # ids in plain data: an order id is not a parent
        '''
from queuack import DAG

def ship(order_id, warehouse):
    return f"{order_id}@{warehouse}"

with DAG("orders") as dag:
    dag.add_job(ship, name="ship", args=("A-17", "north"))
''',
        # already migrated, parent passed through depends_on
        '''
from queuack import DAG

def load(rows, context, table="out"):
    return len(context.upstream("transform")) + len(rows)

with DAG("etl") as dag:
    dag.add_job(len, name="transform")
    dag.add_job(load, name="load", args=([],), depends_on=["transform"])
''',
    ]

    INVALID = [
        (
            '''
from queuack import DuckQueue

def load(parent_id, queue_path, table):
    q = DuckQueue(queue_path)
    try:
        rows = q.get_result(parent_id)
    finally:
        q.close()
    return f"{len(rows)} rows into {table}"

def build(q, path):
    with q.dag("etl") as dag:
        t = dag.enqueue(sorted, name="transform", args=([3, 1, 2],))
        dag.enqueue(load, name="load", kwargs={"parent_id": t, "queue_path": path, "table": "out"})
''',
            '''
def load(table, context):
    rows = context.upstream("transform")
    return f"{len(rows)} rows into {table}"

def build(q, path):
    with q.dag("etl") as dag:
        t = dag.enqueue(sorted, name="transform", args=([3, 1, 2],))
        dag.enqueue(load, name="load", kwargs={"table": "out"}, depends_on="transform")
''',
        ),
    ]

    def fix_task(self, node: cst.FunctionDef, plan) -> cst.FunctionDef:
        """The task's signature: the wiring parameters go, a context parameter comes."""
        return rewrite_params(node, plan)

    def fix_site(self, call: cst.Call, plan) -> cst.Call:
        """An enqueue call: the wiring arguments go, depends_on names the parents."""
        return rewrite_site(call, plan)

    def check(self, ctx):
        for plan, node, _reads in ctx.tasks:
            if plan.fixable:
                params = ", ".join(plan.remove_params)
                yield Violation(
                    node.name,
                    self.code,
                    f'task "{plan.name}" takes its wiring as parameters ({params}); '
                    f"take a {plan.ctx_name} parameter instead",
                    f"the runtime passes the context to a parameter named {plan.ctx_name}",
                    True,
                    plan,
                )
        for plan, call in ctx.sites:
            if plan.fixable:
                names = ", ".join(f'"{n}"' for n in plan.parents)
                what = "the parent ids" if len(plan.parents) > 1 else "the parent id"
                if plan.passes_path:
                    what += " and the queue path"
                yield Violation(
                    call,
                    self.code,
                    f'enqueue of "{plan.task_name}" passes {what} by hand '
                    f"({', '.join(plan.passed)}); drop them and depend on {names}",
                    None,
                    True,
                    ctx.task_plans.get(plan.task),
                )


# --------------------------------------------------------------------------------------------
# the signature


def rewrite_params(node: cst.FunctionDef, plan) -> cst.FunctionDef:
    """Drop the wiring parameters and add the context parameter, keeping the layout."""
    p = node.params
    remove = set(plan.remove_params)
    slots: list[tuple[str, cst.CSTNode]] = []
    slots += [("posonly", x) for x in p.posonly_params]
    if isinstance(p.posonly_ind, cst.ParamSlash):
        slots.append(("slash", p.posonly_ind))
    slots += [("pos", x) for x in p.params]
    if isinstance(p.star_arg, (cst.Param, cst.ParamStar)):
        slots.append(("star", p.star_arg))
    slots += [("kwonly", x) for x in p.kwonly_params]
    if isinstance(p.star_kwarg, cst.Param):
        slots.append(("starstar", p.star_kwarg))

    drop = {
        i
        for i, (kind, n) in enumerate(slots)
        if kind in ("posonly", "pos", "kwonly") and n.name.value in remove
    }
    if all(k != "posonly" for i, (k, _) in enumerate(slots) if i not in drop):
        drop |= {i for i, (k, _) in enumerate(slots) if k == "slash"}
    kinds = [k for i, (k, _) in enumerate(slots) if i not in drop]
    nodes = remove_items([n for _, n in slots], drop)

    has_default = any(
        n.default is not None for k, n in zip(kinds, nodes) if k in ("posonly", "pos")
    )
    order = ["posonly", "slash", "pos", "star", "kwonly", "starstar"]
    if "star" in kinds or "kwonly" in kinds:
        where = "kwonly"
    elif has_default:
        where = "kwonly"
        at = sum(1 for k in kinds if k in ("posonly", "slash", "pos"))
        nodes = insert_item(nodes, at, cst.ParamStar())
        kinds.insert(at, "star")
    else:
        where = "pos"
    at = sum(1 for k in kinds if order.index(k) <= order.index(where))
    annotation = cst.Annotation(cst.Name(plan.annotation)) if plan.annotation else None
    nodes = insert_item(nodes, at, cst.Param(name=cst.Name(plan.ctx_name), annotation=annotation))
    kinds.insert(at, where)

    out: dict[str, list] = {k: [] for k in order}
    for k, n in zip(kinds, nodes):
        out[k].append(n)
    return node.with_changes(
        params=p.with_changes(
            posonly_params=out["posonly"],
            posonly_ind=out["slash"][0] if out["slash"] else cst.MaybeSentinel.DEFAULT,
            params=out["pos"],
            star_arg=out["star"][0] if out["star"] else cst.MaybeSentinel.DEFAULT,
            kwonly_params=out["kwonly"],
            star_kwarg=out["starstar"][0] if out["starstar"] else None,
        )
    )


# --------------------------------------------------------------------------------------------
# the enqueue site


def _find(args, layout, name):
    """Index of the argument that fills ``name`` (by keyword, or by position per ``layout``)."""
    position = 0
    for i, a in enumerate(args):
        if a.star:
            continue
        if a.keyword is None:
            if position < len(layout) and layout[position] == name:
                return i
            position += 1
        elif a.keyword.value == name:
            return i
    return None


def _positional_after(args, i) -> bool:
    return any(a.keyword is None and not a.star for a in args[i + 1 :])


def _equal_like(args) -> cst.AssignEqual:
    for a in args:
        if a.keyword is not None and isinstance(a.equal, cst.AssignEqual):
            return a.equal
    return cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


def _names_expr(names, quote):
    if len(names) == 1:
        return string_literal(names[0], quote)
    return cst.List([cst.Element(string_literal(n, quote)) for n in names])


def rewrite_site(call: cst.Call, plan) -> cst.Call:
    """Drop the wiring arguments of one enqueue call and make depends_on name the parents."""
    args = list(call.args)
    layout = plan.layout
    remove_args: set[int] = set()
    replace: dict[int, cst.Arg] = {}

    def emptied(i: int, empty: cst.BaseExpression) -> None:
        # a positional argument with positional ones after it keeps its place as an empty literal
        if args[i].keyword is None and _positional_after(args, i):
            replace[i] = args[i].with_changes(value=empty)
        else:
            remove_args.add(i)

    i_args = _find(args, layout, "args")
    if i_args is not None and plan.remove_pos:
        value = args[i_args].value
        if isinstance(value, (cst.Tuple, cst.List)):
            elements = remove_items(value.elements, set(plan.remove_pos))
            if isinstance(value, cst.Tuple) and len(elements) == 1 and not isinstance(elements[0].comma, cst.Comma):
                elements[0] = elements[0].with_changes(comma=cst.Comma())
            if elements:
                replace[i_args] = args[i_args].with_changes(value=value.with_changes(elements=elements))
            else:
                emptied(i_args, cst.Tuple([]))

    i_kw = _find(args, layout, "kwargs")
    if i_kw is not None and plan.remove_kw:
        value = args[i_kw].value
        drop_keys = set(plan.remove_kw)
        if isinstance(value, cst.Dict):
            drop = {
                j
                for j, el in enumerate(value.elements)
                if isinstance(el, cst.DictElement)
                and isinstance(el.key, cst.SimpleString)
                and el.key.evaluated_value in drop_keys
            }
            elements = remove_items(value.elements, drop)
            new_value = value.with_changes(elements=elements)
        else:  # dict(...)
            drop = {j for j, a in enumerate(value.args) if a.keyword is not None and a.keyword.value in drop_keys}
            elements = remove_items(value.args, drop)
            new_value = value.with_changes(args=elements)
        if elements:
            replace[i_kw] = args[i_kw].with_changes(value=new_value)
        else:
            emptied(i_kw, cst.Dict([]))

    add = list(plan.add_deps)
    new_arg = None
    if add:
        i_dep = _find(args, layout, "depends_on")
        if i_dep is None:
            new_arg = cst.Arg(
                value=_names_expr(add, plan.quote), keyword=cst.Name("depends_on"), equal=_equal_like(args)
            )
        else:
            value = args[i_dep].value
            if isinstance(value, cst.Name) and value.value == "None":
                new_value = _names_expr(add, plan.quote)
            elif isinstance(value, (cst.List, cst.Tuple)):
                elements = list(value.elements)
                for n in add:
                    elements = append_item(elements, cst.Element(string_literal(n, plan.quote)))
                new_value = value.with_changes(elements=elements)
            else:
                sep = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                items = [value, *(string_literal(n, plan.quote) for n in add)]
                new_value = cst.List(
                    [
                        cst.Element(v, comma=sep if j < len(items) - 1 else cst.MaybeSentinel.DEFAULT)
                        for j, v in enumerate(items)
                    ]
                )
            replace[i_dep] = args[i_dep].with_changes(value=new_value)

    new_args = [replace.get(j, a) for j, a in enumerate(args)]
    new_args = remove_items(new_args, remove_args)
    if new_arg is not None:
        new_args = append_item(new_args, new_arg)
    return call.with_changes(args=new_args)
