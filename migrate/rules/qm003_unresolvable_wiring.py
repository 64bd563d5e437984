"""QM003 unresolvable-wiring: a manually wired task that cannot be migrated safely."""

from __future__ import annotations

from migrate.model import Violation


class UnresolvableWiring:
    """A task wires its parent by hand, but the rewrite cannot prove who the parent is.

    The rewrite of QM001 and QM002 needs the parent's node name. When it cannot be known for
    certain from the scanned code, the task and its enqueue sites are reported with the reason
    and a hint, and nothing is changed. The reasons:

    - the parent id is computed at run time (a variable not bound to a named enqueue, an
      expression, a loop variable, ``get_result(ids[0])``), or is a literal id;
    - the variable holding the parent id is assigned in a branch the enqueue call is not in
      (``if repair: source = ...``), or changes from one turn of a loop to the next
      (``prev = dag.add_job(step, args=(prev, path))`` in a ``for``). A variable reassigned
      along a straight chain is fine: each call sees the assignment just before it;
    - its enqueue sites disagree on who the parent is;
    - the parent lies outside the DAG: ``q.enqueue(...)`` without a DAG, or a parent from
      another DAG, or a parent node without a literal ``name=``;
    - ``args=`` / ``kwargs=`` / ``depends_on=`` are built at run time, or positional extras
      are passed;
    - a list of parent ids read in a comprehension, where ``depends_on`` declares other parents
      or another order, or that names one parent twice (``context.get_parent_results()`` would
      not be the same list);
    - the task uses the queue, the id or the path for anything else than reading the parent
      (``q.enqueue(...)``, logging the id, ...), or opens the queue in an unusual form;
    - the task already takes a ``context`` but still reads by hand;
    - the task reads its parent through a helper function (``n = len(_result(q, parent_id))``
      or ``_read_parent(parent_id, queue_path)``): the message names the helper. Read the parent
      in the task itself and run ``migrate`` again, or migrate the task by hand;
    - the task reads its parent from a queue opened once at module level
      (``QUEUE = DuckQueue(path)``, then ``QUEUE.get_result(parent_id)`` in the task): the
      rewrite leaves that queue to the module, so the task is migrated by hand;
    - the task is an instance method enqueued through an instance
      (``scaler = Scaler(3)``, then ``dag.add_job(scaler.scale, args=(e, path))``): the message
      sits on the method's definition. Migrate it by hand;
    - the scanned code also calls the task directly (a test or a script calling
      ``dedupe(jid, path)``): after the rewrite that call would fail, so the task is left alone
      and every such call is reported. ``--allow-direct-calls`` rewrites the task anyway and
      still reports each direct call, for you to update by hand.

    Fix the cause the message names and run ``migrate`` again, or migrate the task by hand:
    add a ``context`` parameter, replace the read with ``context.upstream("<parent name>")``
    and make sure the node's ``depends_on`` names the parent.

    Not reported at all: functions that are not tasks. A function is a task when the scanned
    code enqueues it; one that nothing enqueues, such as a web handler
    (``def fetch_result(job_id, db_path)``), a poller (``wait_for(job_id, queue_path)``) or a
    driver script that reads ``q.get_result(job_id)`` after a run, is left alone, and so are
    parameters named like ids that are plain data. So scan the code that builds the DAGs together
    with the tasks: a task whose enqueue sites are outside the scanned files is not seen.
    """

    code = "QM003"
    name = "unresolvable-wiring"
    summary = "A manually wired task whose parent cannot be resolved safely; reported, never rewritten."
    fixable = False

    VALID = [
        # a web handler reading a job's result: no task
        '''
from queuack import DuckQueue

@app.get("/jobs/<job_id>")
def show(job_id, db_path):
    q = DuckQueue(db_path)
    return {"result": q.get_result(job_id)}
''',
        # a poller that opens the queue from its parameters, but that nothing enqueues: no task
        '''
from queuack import DuckQueue

def wait_for(job_id, queue_path):
    with DuckQueue(queue_path) as q:
        return q.get_result(job_id)
''',
        # a driver reading results after the run
        '''
import sys
from queuack import DuckQueue

def main():
    q = DuckQueue(sys.argv[1])
    job_id = q.enqueue(len, args=([1, 2],))
    print(q.get_result(job_id))
''',
    ]

    INVALID = [
        # parent id computed at run time
        '''
from queuack import DAG, DuckQueue

def transform(parent_id, queue_path):
    q = DuckQueue(queue_path)
    return q.get_result(parent_id)

def build(path, ids):
    with DAG("etl", queue=DuckQueue(path)) as dag:
        dag.add_job(transform, args=(ids[0], path))
''',
        # outside a DAG
        '''
from queuack import DuckQueue

def transform(parent_id, queue_path):
    q = DuckQueue(queue_path)
    return q.get_result(parent_id)

q = DuckQueue("jobs.duckdb")
e = q.enqueue(len, args=([1],))
q.enqueue(transform, args=(e, "jobs.duckdb"), depends_on=e)
''',
    ]

    def check(self, ctx):
        for plan, node, _reads in ctx.tasks:
            if not plan.fixable:
                yield Violation(
                    node.name,
                    self.code,
                    f'task "{plan.name}" wires its parent by hand but cannot be migrated: {plan.reason}',
                    plan.hint,
                    False,
                )
        for plan, call in ctx.sites:
            if not plan.fixable:
                yield Violation(
                    call,
                    self.code,
                    f'enqueue of "{plan.task_name}" cannot be migrated: {plan.reason}',
                    plan.hint,
                    False,
                )
        for plan, call in ctx.calls:
            yield Violation(call, self.code, plan.reason, plan.hint, False)
