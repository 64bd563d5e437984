"""The shortcuts that keep `migrate` near the cost of a parse give the same answers as the long way.

- positions from CPython's ast (``migrate.positions``) are PositionProvider's, or it is asked;
- ``transform`` is ``node.visit`` for the rules' transformers, and keeps unchanged nodes;
- ``splice`` prints only the changed statements, byte for byte the same as printing everything;
- in one process every candidate file is parsed once.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from migrate import analysis, engine
from migrate.positions import Positions
from migrate.rules._edit import transform
from migrate.splice import splice

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

TRICKY = [
    # non-ASCII before a call on the same line: ast counts bytes, LibCST characters
    's = "héllo wörld"; q.get_result(é)\nx = "→"; dag.add_job(f, args=(é, p))\n',
    # CRLF, decorators with comments between them, async, methods, a def split by a backslash
    "import x\r\n\r\n# lead\r\n@deco(1)\r\n# between\r\n@other\r\nasync def task(a, b):\r\n"
    "    return await a.get(b)\r\n\r\nclass K:\r\n    @staticmethod\r\n    def m(x):\r\n"
    "        return x.get_result(x)\r\n\r\ndef \\\n  split(a):\n    return a(a)\n"
    "def split(b):  # redefined\n    return b\n",
    # same shapes twice (ambiguous: the exact answer), parenthesised callees, calls in calls,
    # in f-strings, in lambdas and comprehensions, decorators after the body in field order
    "def f(p):\n    a = q.get_result(p)\n    b = q.get_result(p)\n    return (g)(h(p))(p)\n\n"
    "def g(p):\n    return f'{q.get_result(p)}' + str([q.get_result(x) for x in p])\n\n"
    "@dag.add_job(f)\ndef h(p):\n    return (lambda: dag.add_job(f))()\n",
    # a module docstring, a header comment, a statement line with semicolons, no final newline
    '"""doc"""\n# c\nimport a; b = a.c(1); d = b.e(2, *a, **b)\nif b:\n    f(g(x=1), y=2)',
]


class _Every(cst.CSTVisitor):
    def __init__(self, positions: Positions):
        self.positions = positions
        self.scope: list[str] = []
        self.nodes: list[cst.CSTNode] = []

    def _def(self, node) -> None:
        self.positions.def_name(node.name, ".".join([*self.scope, node.name.value]))
        self.nodes.append(node.name)
        self.scope.append(node.name.value)

    def _leave(self, node) -> None:
        self.scope.pop()

    visit_FunctionDef = visit_ClassDef = _def
    leave_FunctionDef = leave_ClassDef = _leave

    def visit_Call(self, node: cst.Call) -> None:
        self.positions.inside(node, self.scope[0] if self.scope else None)
        self.nodes.append(node)


def _sources() -> list[str]:
    out = list(TRICKY)
    for path in sorted(FIXTURES.rglob("*.py")):
        out.append(path.read_bytes().decode("utf-8"))
    return out


def test_positions_are_position_providers():
    fast = 0
    for source in _sources():
        try:
            module = cst.parse_module(source)
        except cst.ParserSyntaxError:
            continue  # a fixture about a file that does not parse
        positions = Positions(source, module)
        every = _Every(positions)
        module.visit(every)
        exact = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        for node in every.nodes:
            want = exact[node].start
            assert positions.start(node) == (want.line, want.column), (source, node)
            fast += positions._from_ast(node) is not None
    assert fast > 100  # most answers came from ast, not from PositionProvider


class _Renamer(cst.CSTTransformer):
    """A stateful transformer of the kind the rules use: leave_ hooks, a FlattenSentinel."""

    def leave_Name(self, original_node, updated_node):
        return updated_node.with_changes(value="renamed") if updated_node.value == "old" else updated_node

    def leave_If(self, original_node, updated_node):
        if isinstance(updated_node.test, cst.Name) and updated_node.test.value == "unwrap":
            return cst.FlattenSentinel(updated_node.body.body)
        return updated_node


def test_transform_is_visit_and_keeps_what_it_does_not_change():
    source = ("import a\n\ndef f(x):\n    if unwrap:\n        y = old(x)\n    return y\n\n"
              "def g():\n    return 1\n")
    module = cst.parse_module(source)
    new = transform(module, _Renamer())
    assert new.code == module.visit(_Renamer()).code
    assert new.body[0] is module.body[0] and new.body[2] is module.body[2]
    assert new.body[1] is not module.body[1]
    assert transform(module.body[2], _Renamer()) is module.body[2]


@pytest.mark.parametrize("source", [*TRICKY[:3], "x = 1\n\n\n# the end\n"])
def test_splice_is_the_same_as_printing_everything(source):
    module = cst.parse_module(source)
    new = transform(module, _Renamer())
    for changed in (new, new.with_changes(body=[*new.body, cst.parse_statement("z = old\n")])):
        assert splice(source, module, changed) == changed.code


def test_splice_declines_a_statement_libcst_does_not_print_back():
    # LibCST loses the space before the colon: the caller then lines up the whole module
    source = "try:\n    pass\nexcept ValueError :\n    old = 1\n"
    module = cst.parse_module(source)
    if module.code == source:
        pytest.skip("this LibCST prints the space back")
    new = transform(module, _Renamer())
    assert splice(source, module, new) is None


def test_each_candidate_is_parsed_once_in_one_process(tmp_path, monkeypatch):
    from benchmarks.legacy_tree import generate

    tree = generate(tmp_path / "tree", 12)
    parses = []
    real = analysis._parse
    monkeypatch.setattr(analysis, "_parse", lambda source: parses.append(1) or real(source))
    settings = engine.load_settings([str(tree)], jobs=1, use_config=False)
    result = engine.run([str(tree)], settings, fix=True)
    assert len(result.changed()) == 12 and len(result.findings) == 72
    assert len(parses) == 12


def test_a_rewrite_finds_tasks_defined_inside_a_module_level_if():
    # the rewrite walks only the statements that can hold a target; a def inside `if` is one
    source = (
        "from queuack import DAG, DuckQueue\n\n"
        "if True:\n"
        "    def extract():\n        return [1]\n\n"
        "    def transform(parent_id, queue_path):\n"
        "        q = DuckQueue(queue_path)\n        rows = q.get_result(parent_id)\n"
        "        q.close()\n        return rows\n\n"
        "def build(path):\n"
        "    with DAG('etl', queue=DuckQueue(path)) as dag:\n"
        "        e = dag.add_job(extract, name='extract')\n"
        "        dag.add_job(transform, name='transform', args=(e, path), depends_on='extract')\n"
    )
    result = analysis.analyze_sources({"p.py": source}, fix=True)["p.py"]
    assert result.new_source is not None
    assert "def transform(context):" in result.new_source
    assert "context.upstream('extract')" in result.new_source
    assert "args=" not in result.new_source
