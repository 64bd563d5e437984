"""QM001 manual-parent-read: a task reads its parent's result through a queue it opens itself."""

from __future__ import annotations

import libcst as cst

from migrate.model import Violation
from migrate.rules._edit import string_literal, transform


class ManualParentRead:
    """A task reads its parent's result by opening the queue and calling ``get_result()``.

    Before the TaskContext, a child task received its parent's job id and the queue's path, opened
    a second ``DuckQueue`` on the same file and read the result by hand:

    ```python
    def transform(parent_id, queue_path):
        q = DuckQueue(queue_path)
        try:
            rows = q.get_result(parent_id)
        finally:
            q.close()
        return [r * 2 for r in rows]
    ```

    The runtime now hands every task that asks for it a ``context`` whose ``upstream(name)``
    returns the named parent's result, with no second connection and no ids to carry around:

    ```python
    def transform(context):
        rows = context.upstream("extract")
        return [r * 2 for r in rows]
    ```

    The rewrite replaces each ``get_result(<id parameter>)`` with
    ``context.upstream("<parent name>")`` and removes the queue: an assignment
    (``q = DuckQueue(path)``), a ``with DuckQueue(path) as q:`` block (its body stays, one level
    out), a chained ``DuckQueue(path).get_result(pid)``, and the ``q.close()`` calls, including a
    ``finally:`` that only closed the queue. Several parents read one by one stay one by one, each
    by its own name. A list of parent ids read in one comprehension,
    ``[q.get_result(pid) for pid in parent_ids]``, becomes ``context.get_parent_results()`` when
    that is exactly the same list: every site passes the ids as a literal list of named nodes and
    ``depends_on`` declares exactly those parents in that order (or nothing, and the rewrite
    declares them).

    When the rewrite leaves a module-level ``from queuack import DuckQueue`` unused, the name is
    dropped from that import, unless a string in the module names it (``__all__``) or another
    scanned module imports it from there. Nothing else outside the rewritten lines changes.

    Limits: an ``except`` around the read now sees the errors of ``context.upstream()`` (an
    unknown parent, a parent that failed) rather than those of ``get_result()``; review such
    handlers. A task that the scanned code also calls directly (a test calling
    ``transform(jid, path)``) is not rewritten, since that call would break and
    ``context.upstream()`` needs a DAG run: the task and each call are reported as QM003, unless
    ``--allow-direct-calls`` is given (then the calls are reported for you to update).

    The parent's name comes from the enqueue sites found anywhere in the scanned code (see
    QM002): the rewrite happens only when every site that enqueues the task passes the id of the
    same named node of the same DAG. It is applied together with QM002 (the parameters and the
    call sites), never alone, so both rules must be selected and neither suppressed on any line
    involved. Anything it cannot prove safe is reported as QM003 and left alone.
    """

    code = "QM001"
    name = "manual-parent-read"
    summary = "A task reads its parent through DuckQueue(...).get_result(); use context.upstream(name)."
    fixable = True

    VALID = [
        # already migrated
        '''
from queuack import DAG

def extract():
    return [1, 2, 3]

def transform(context):
    return [x * 2 for x in context.upstream("extract")]

with DAG("etl") as dag:
    dag.add_job(extract, name="extract")
    dag.add_job(transform, name="transform", depends_on="extract")
''',
        # a driver that reads a result after the run: not a task
        '''
from queuack import DuckQueue

def report(job_id):
    q = DuckQueue("jobs.duckdb")
    print(q.get_result(job_id))
''',
    ]

    INVALID = [
        (
            '''
from queuack import DAG, DuckQueue

def extract():
    return [1, 2, 3]

def transform(parent_id, queue_path):
    q = DuckQueue(queue_path)
    rows = q.get_result(parent_id)
    q.close()
    return [x * 2 for x in rows]

with DAG("etl", queue=DuckQueue("jobs.duckdb")) as dag:
    e = dag.add_job(extract, name="extract")
    dag.add_job(transform, name="transform", args=(e, "jobs.duckdb"), depends_on="extract")
''',
            '''
from queuack import DAG, DuckQueue

def extract():
    return [1, 2, 3]

def transform(context):
    rows = context.upstream("extract")
    return [x * 2 for x in rows]

with DAG("etl", queue=DuckQueue("jobs.duckdb")) as dag:
    e = dag.add_job(extract, name="extract")
    dag.add_job(transform, name="transform", depends_on="extract")
''',
        ),
        '''
from queuack import DuckQueue

def transform(parent_id, queue_path):
    with DuckQueue(queue_path) as q:
        rows = q.get_result(parent_id)
    return rows

def build(dag, path):
    e = dag.add_job(len, name="extract")
    dag.add_job(transform, args=(e, path))
''',
    ]

    def fix_task(self, node: cst.FunctionDef, plan) -> cst.FunctionDef:
        """The task's body: each read becomes context.upstream(name), the queue goes."""
        return rewrite_body(node, plan)

    def check(self, ctx):
        for plan, _node, reads in ctx.tasks:
            if not plan.fixable:
                continue
            for param, call in reads:
                parent = plan.parent_of(param)
                if isinstance(parent, tuple):
                    names = ", ".join(f'"{n}"' for n in parent)
                    yield Violation(
                        call,
                        self.code,
                        f'task "{plan.name}" reads its parents {names} one by one through '
                        f"DuckQueue(...).get_result(); use {plan.ctx_name}.get_parent_results()",
                        "with depends_on listing exactly these parents in this order, the list is the same",
                        True,
                        plan,
                    )
                    continue
                yield Violation(
                    call,
                    self.code,
                    f'task "{plan.name}" reads its parent "{parent}" through DuckQueue(...).get_result(); '
                    f'use {plan.ctx_name}.upstream("{parent}")',
                    "the rewrite also removes the queue it opens and closes",
                    True,
                    plan,
                )


# --------------------------------------------------------------------------------------------
# the rewrite of a task's body


def rewrite_body(node: cst.FunctionDef, plan) -> cst.FunctionDef:
    """Replace the manual reads in ``node`` and drop the queue it opened for them."""
    return transform(node, _BodyRewriter(plan))


def _is_blank(line: cst.EmptyLine) -> bool:
    return line.comment is None


class _BodyRewriter(cst.CSTTransformer):
    def __init__(self, plan):
        super().__init__()
        self.parents = dict(plan.parents)
        self.queues = set(plan.queue_vars)
        self.ctx = plan.ctx_name
        self.quote = plan.quote
        self.fstring_quotes: list[str] = []  # the quotes of the f-strings around the node visited
        self.gone: set[int] = set()  # ids of statement lines and suites that only held the queue
        self._alive: list[cst.CSTNode] = []  # keeps those nodes alive so that their ids stay unique

    def _mark(self, node):
        self.gone.add(id(node))
        self._alive.append(node)
        return node

    # -- expressions ---------------------------------------------------------------------------
    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        self.fstring_quotes.append(node.quote)

    def leave_FormattedString(self, original_node, updated_node):
        self.fstring_quotes.pop()
        return updated_node

    def _name_quote(self) -> str:
        """The module's quote, unless an f-string around the read uses it: before Python 3.12 a
        replacement field cannot hold the quote that delimits its f-string."""
        taken = {q[0] for q in self.fstring_quotes}
        if self.quote not in taken:
            return self.quote
        other = "'" if self.quote == '"' else '"'
        return other if other not in taken else self.quote

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = updated_node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "get_result"):
            return updated_node
        if len(updated_node.args) != 1:
            return updated_node
        arg = updated_node.args[0]
        if arg.star or (arg.keyword is not None and arg.keyword.value != "job_id"):
            return updated_node
        if not (isinstance(arg.value, cst.Name) and isinstance(self.parents.get(arg.value.value), str)):
            return updated_node
        return cst.Call(
            func=cst.Attribute(value=cst.Name(self.ctx), attr=cst.Name("upstream")),
            args=[cst.Arg(string_literal(self.parents[arg.value.value], self._name_quote()))],
        )

    def leave_ListComp(self, original_node: cst.ListComp, updated_node: cst.ListComp) -> cst.BaseExpression:
        loop = updated_node.for_in
        call = updated_node.elt
        if (
            isinstance(loop.iter, cst.Name)
            and isinstance(self.parents.get(loop.iter.value), tuple)
            and loop.inner_for_in is None
            and not loop.ifs
            and isinstance(call, cst.Call)
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "get_result"
        ):
            return cst.Call(
                func=cst.Attribute(value=cst.Name(self.ctx), attr=cst.Name("get_parent_results")),
                lpar=updated_node.lpar,
                rpar=updated_node.rpar,
            )
        return updated_node

    # -- statements that only served the queue -------------------------------------------------
    def _serves_queue(self, stmt: cst.BaseSmallStatement) -> bool:
        if isinstance(stmt, cst.Assign):
            return (
                len(stmt.targets) == 1
                and isinstance(stmt.targets[0].target, cst.Name)
                and stmt.targets[0].target.value in self.queues
                and isinstance(stmt.value, cst.Call)
            )
        if isinstance(stmt, cst.AnnAssign):
            return (
                isinstance(stmt.target, cst.Name)
                and stmt.target.value in self.queues
                and isinstance(stmt.value, cst.Call)
            )
        if isinstance(stmt, cst.Expr):
            v = stmt.value
            return (
                isinstance(v, cst.Call)
                and not v.args
                and isinstance(v.func, cst.Attribute)
                and v.func.attr.value == "close"
                and isinstance(v.func.value, cst.Name)
                and v.func.value.value in self.queues
            )
        return False

    def _filter(self, body):
        kept = [s for s in body if not self._serves_queue(s)]
        if len(kept) == len(body):
            return None
        if kept:
            kept[-1] = kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        return kept

    def leave_SimpleStatementLine(self, original_node, updated_node):
        kept = self._filter(updated_node.body)
        if kept is None:
            return updated_node
        if kept:
            return updated_node.with_changes(body=kept)
        line = updated_node.with_changes(body=[cst.Pass()])
        self._mark(line)
        return line

    def leave_SimpleStatementSuite(self, original_node, updated_node):
        kept = self._filter(updated_node.body)
        if kept is None:
            return updated_node
        if kept:
            return updated_node.with_changes(body=kept)
        suite = updated_node.with_changes(body=[cst.Pass()])
        self._mark(suite)
        return suite

    def _empty(self, block: cst.BaseSuite) -> bool:
        if isinstance(block, cst.SimpleStatementSuite):
            return id(block) in self.gone
        return all(id(s) in self.gone for s in block.body)

    def leave_IndentedBlock(self, original_node, updated_node):
        if not any(id(s) in self.gone for s in updated_node.body):
            return updated_node
        kept = []
        carry: list[cst.EmptyLine] = []
        for stmt in updated_node.body:
            if id(stmt) in self.gone:
                carry.extend(stmt.leading_lines)
                continue
            if carry:
                own = list(stmt.leading_lines)
                if any(_is_blank(x) for x in carry):
                    while own and _is_blank(own[0]):
                        own.pop(0)
                lines = carry + own
                if not kept:  # nothing above it in the block: no blank line at the top
                    while lines and _is_blank(lines[0]):
                        lines.pop(0)
                stmt = stmt.with_changes(leading_lines=lines)
                carry = []
            kept.append(stmt)
        if not kept:
            comments = [x for x in carry if not _is_blank(x)]
            line = cst.SimpleStatementLine(body=[cst.Pass()], leading_lines=comments)
            self._mark(line)
            kept = [line]
        return updated_node.with_changes(body=kept)

    def _unwrap(self, outer: cst.BaseCompoundStatement, block: cst.BaseSuite):
        if isinstance(block, cst.SimpleStatementSuite):
            stmts = [cst.SimpleStatementLine(body=block.body)]
            if id(block) in self.gone:
                self._mark(stmts[0])
        else:
            stmts = list(block.body)
        first = stmts[0]
        stmts[0] = first.with_changes(leading_lines=[*outer.leading_lines, *first.leading_lines])
        if id(first) in self.gone:
            self._mark(stmts[0])
        return cst.FlattenSentinel(stmts)

    def leave_With(self, original_node, updated_node):
        items = list(updated_node.items)
        drop = {
            i
            for i, it in enumerate(items)
            if it.asname is not None
            and isinstance(it.asname.name, cst.Name)
            and it.asname.name.value in self.queues
        }
        if not drop:
            return updated_node
        kept = [it for i, it in enumerate(items) if i not in drop]
        if kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            return updated_node.with_changes(items=kept)
        return self._unwrap(updated_node, updated_node.body)

    def leave_Try(self, original_node, updated_node):
        fin = updated_node.finalbody
        if fin is None or not self._empty(fin.body):
            return updated_node
        if updated_node.handlers:
            return updated_node.with_changes(finalbody=None)
        if updated_node.orelse is not None:
            return updated_node
        return self._unwrap(updated_node, updated_node.body)
