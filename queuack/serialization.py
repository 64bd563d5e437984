"""How functions, arguments and results become bytes, and back, and what a queue accepts back.

Two codecs:
- "pickle" (default): any picklable value. Functions are stored by reference (module and
  qualified name), so lambdas and nested functions are refused at enqueue time.
  Trust boundary: unpickling runs code. Whoever can write the database file can make a process
  that reads it with the pickle serializer run anything. Keep the file where only trusted users
  can write it.
- "json": arguments and results must be JSON values that come back equal (dicts with str keys,
  lists, str, finite numbers, bool, None): a tuple, a non-string key or NaN is refused with its
  path rather than stored changed. Functions are stored as "module:qualname" references. A
  queue set to JSON never unpickles: a row that says "pickle" is refused (UntrustedError),
  whatever wrote it.

Which functions a worker may run (the allow-list, a Loader): naming a function is enough to run
it, so a JSON file is only as safe as the list of functions its workers accept. Like Celery and
huey, which run registered tasks only, a JSON queue runs only the functions this process has
enqueued itself (its own code named them, not the file) and those its `allow` names. A pickle
queue runs any function by default: the file can run code through the arguments anyway, so an
allow-list there catches mistakes, not attackers. The check reads the stored reference and never
imports a module it refuses, and a reference must be the function's own name: an allowed module
does not lend out what it imported ("myapp.tasks:os.system" is refused).
"""

from __future__ import annotations

import importlib
import json
import math
import pickle
import pickletools
from typing import Any, Callable, Iterable

from .errors import describe_exception, EnqueueError, SerializationError, TaskImportError, UntrustedError

CODECS = ("pickle", "json")
ANY = "*"  # allow=ANY: any importable function

# The most bytes one stored value (a function, its arguments, its keyword arguments, a result) can
# have: DuckDB keeps a BLOB's length in 32 bits, and stored a longer one cut short while the write
# still succeeded. Large values now live in files of their own (values.py), which could hold more;
# the limit stays the same for every queue. Bigger values are refused before anything is stored.
MAX_VALUE_BYTES = 2**32 - 1


def _checked_size(blob: bytes, what: str, hint: str) -> bytes:
    if len(blob) > MAX_VALUE_BYTES:
        raise SerializationError(
            f"{what}: {len(blob):,} bytes encoded, and the most one stored value can hold is "
            f"{MAX_VALUE_BYTES:,} bytes. {hint}"
        )
    return blob


def check_codec(codec: str) -> str:
    if codec not in CODECS:
        raise ValueError(f"unknown serializer {codec!r}: choose one of {', '.join(CODECS)}")
    return codec


def describe(func: Any) -> str:
    module = getattr(func, "__module__", None) or "?"
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
    return f"{module}.{name}"


def _function_reference(func: Callable) -> str:
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise EnqueueError(
            f"cannot store {describe(func)}: the json serializer needs a module-level function "
            "(lambdas and nested functions have no importable name). Define it at module level."
        )
    if _resolve(module, qualname) is not func:
        raise EnqueueError(f"cannot store {describe(func)}: {module}:{qualname} does not import back to it")
    return f"{module}:{qualname}"


def _resolve(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def encode_function(func: Callable, codec: str) -> bytes:
    """Encode the function of a job, refusing at once what a worker could never load."""
    if not callable(func):
        raise EnqueueError(f"cannot enqueue {func!r}: it is not callable")
    if codec == "json":
        return _function_reference(func).encode()
    try:
        blob = pickle.dumps(func, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # PicklingError, AttributeError (local objects), TypeError
        raise EnqueueError(
            f"cannot enqueue {describe(func)}: the function is not picklable ({exc}). "
            "Jobs store functions by reference: use a module-level function, not a lambda or a "
            "function defined inside another function."
        ) from exc
    if len(blob) <= MAX_VALUE_BYTES:
        return blob
    try:
        return _checked_size(blob, f"the function {describe(func)}", "Pass the data it carries as a file path.")
    except SerializationError as exc:
        raise EnqueueError(f"cannot enqueue {describe(func)}: {exc}") from None


def encode_value(value: Any, codec: str, what: str, path: str = "result",
                 hint: str = "Write it to a file and return the path instead.") -> bytes:
    """Encode arguments or a result. `what` names the value in the error message, `path` is how
    a problem inside it is located (args[0]["a"]), `hint` what to do when it is too big to store."""
    if codec == "json":
        blob = _encode_json(value, what, path)
    else:
        try:
            blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise SerializationError(f"{what} cannot be serialised with {codec} ({describe_exception(exc)})") from exc
    return _checked_size(blob, what, hint)


def _encode_json(value: Any, what: str, path: str) -> bytes:
    # Reading the value back and comparing runs in C, several times faster than walking it in
    # Python; the walk runs only to say where the problem is.
    failure: Exception | None = None
    try:
        blob = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
        if json.loads(blob) == value:
            return blob
    except (TypeError, ValueError, RecursionError) as exc:
        failure = exc
    problem = json_problem(value, path) or (
        describe_exception(failure) if failure else f"{path} would not come back from JSON equal to itself")
    raise SerializationError(f"{what} cannot be stored with the json serializer: {problem}") from failure


_JSON_VALUES = "JSON holds dicts with string keys, lists, strings, numbers, booleans and None"


def json_problem(value: Any, path: str, _inside: frozenset = frozenset()) -> str | None:
    """Why `value` would not come back from JSON equal to itself (or would not be JSON at all),
    naming where: None when it round-trips. Subclasses of str, int, float, dict and list are fine:
    they come back as equal plain values."""
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} is {value!r}, which is not a number in JSON"
    if isinstance(value, tuple):
        return f"{path} is a tuple, which would come back from JSON as a list: pass a list"
    if isinstance(value, (set, frozenset)):
        return f"{path} is a {type(value).__name__}: JSON has no sets; pass a sorted list"
    if not isinstance(value, (dict, list)):
        return f"{path} is a {type(value).__name__}, not a JSON value ({_JSON_VALUES})"
    if id(value) in _inside:
        return f"{path} contains itself"
    inside = _inside | {id(value)}
    if isinstance(value, list):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    else:
        for key in value:
            if not isinstance(key, str):
                return f"{path} has the key {key!r} ({type(key).__name__}): {_key_fate(key)}; use string keys"
        items = ((f"{path}[{json.dumps(key)}]", item) for key, item in value.items())
    for where, item in items:
        problem = json_problem(item, where, inside)
        if problem:
            return problem
    return None


def _key_fate(key: Any) -> str:
    try:
        as_json = next(iter(json.loads(json.dumps({key: 0}))))
    except (TypeError, ValueError):
        return "JSON object keys are strings"
    return f"JSON object keys are strings, so it would come back as {as_json!r}"


def function_references(blob: bytes, codec: str) -> list[str] | None:
    """'module:qualname' of everything a stored function names, read without importing or
    unpickling anything; None when that cannot be read. A plain function names itself; a pickled
    callable object (a functools.partial, say) also names the classes and functions it is built from."""
    if codec == "json":
        try:
            return [blob.decode()]
        except UnicodeDecodeError:
            return None
    references: list[str] = []
    recent: list[str | None] = []  # what the last opcodes pushed: a string, or None for anything else
    memo: dict[int, str | None] = {}
    try:
        for opcode, arg, _ in pickletools.genops(blob):
            name = opcode.name
            if name in ("GLOBAL", "INST"):
                module, _, qualname = arg.partition(" ")
                references.append(f"{module}:{qualname}")
            elif name == "STACK_GLOBAL":
                if len(recent) < 2 or recent[-1] is None or recent[-2] is None:
                    return None
                references.append(f"{recent[-2]}:{recent[-1]}")
                del recent[-2:]
            elif name.startswith("EXT"):  # copyreg extension codes name objects by number
                return None
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = recent[-1] if recent else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                recent.append(memo.get(int(arg)))
            elif opcode.stack_after:
                recent.append(arg if isinstance(arg, str) and "UNICODE" in name else None)
    except Exception:  # not a pickle at all
        return None
    return references or None


def function_name(blob: bytes | None, codec: str) -> str:
    """'module.qualname' of a stored function, for messages and listings ('?' when unreadable)."""
    references = function_references(blob or b"", codec)
    return references[0].replace(":", ".", 1) if references else "?"


# "module:qualname" of the functions this process has enqueued: its own code named them
_enqueued: set[str] = set()


def remember_enqueued(func: Callable) -> None:
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if module and qualname:
        _enqueued.add(f"{module}:{qualname}")


def _allow_entry(entry: str | Callable) -> str:
    if callable(entry):
        module = getattr(entry, "__module__", None)
        qualname = getattr(entry, "__qualname__", None)
        if not module or not qualname:
            raise ValueError(f"allow: {entry!r} has no module and name; give a module name or a module-level function")
        return f"{module}:{qualname}"
    if not isinstance(entry, str):
        raise TypeError(f"allow entries are module names, 'module:function' strings or functions, not {entry!r}")
    module, _, qualname = entry.partition(":")
    if not all(part.isidentifier() for part in module.split(".")) or (
            qualname and not all(part.isidentifier() for part in qualname.split("."))):
        raise ValueError(f"allow: {entry!r} is not a module name ('myapp.tasks') or a function ('myapp.tasks:send')")
    return entry


class Loader:
    """What a queue handle or a worker accepts from the database: the codecs it decodes and the
    functions it runs.

    serializer "json": never unpickles. allow: module names (a module and its submodules),
    "module:qualname" strings and functions; ANY ("*") for any importable function; None for the
    default: functions this process enqueued (json), or any function (pickle).
    """

    def __init__(self, serializer: str = "pickle", allow: str | Callable | Iterable | None = None):
        self.serializer = check_codec(serializer)
        entries = [allow] if isinstance(allow, str) or callable(allow) else list(allow or ())
        self.any = (allow is None and serializer == "pickle") or ANY in entries
        self.entries = tuple(dict.fromkeys(_allow_entry(e) for e in entries if e != ANY))
        self.modules = frozenset(r for r in self.entries if ":" not in r)
        self.functions = frozenset(r for r in self.entries if ":" in r)

    def describe(self) -> str:
        if self.any:
            return "any function"
        if not self.entries:
            return "only the functions this process enqueued"
        return f"{', '.join(self.entries)} and the functions this process enqueued"

    def allows(self, reference: str) -> bool:
        if self.any or reference in self.functions or reference in _enqueued:
            return True
        module = reference.partition(":")[0]
        return any(module == m or module.startswith(m + ".") for m in self.modules)

    def _check_codec(self, codec: str, what: str) -> None:
        if codec not in CODECS:
            raise UntrustedError(f"{what} is stored with an unknown codec {codec!r}: the file was not written by queuack")
        if self.serializer == "json" and codec != "json":
            raise UntrustedError(
                f"{what} is stored with {codec}, and this queue uses serializer='json', which never "
                "unpickles (unpickling can run any code). It was written by a queue with the pickle "
                "serializer, or the file was tampered with. If you trust whoever writes this file, "
                "read it with serializer='pickle'."
            )

    def function(self, blob: bytes, codec: str, what: str = "the job") -> Callable:
        """The stored function, once it passed the codec and the allow-list (refused: UntrustedError,
        and its module is never imported)."""
        self.check_function(blob, codec, what)
        try:
            if codec == "json":
                return self._resolve_json(blob.decode(), what)
            return pickle.loads(blob)
        except (ImportError, AttributeError) as exc:  # the worker's environment, not the job
            raise TaskImportError(function_name(blob, codec), exc) from exc

    def check_function(self, blob: bytes, codec: str, what: str = "the job") -> None:
        """UntrustedError unless function() would load this function; nothing is imported."""
        self._check_codec(codec, what)
        if not self.any:
            references = function_references(blob, codec)
            if references is None:
                raise UntrustedError(f"{what} names a function that cannot be read without running it; "
                                     f"this worker runs {self.describe()}")
            refused = [r for r in references if not self.allows(r)]
            if refused:
                raise UntrustedError(
                    f"{what} names {', '.join(refused)}, which this worker may not run: it runs "
                    f"{self.describe()}. If you trust it, allow its module: DuckQueue(..., allow=[...]), "
                    "Worker(..., allow=[...]) or `queuack worker --allow MODULE`."
                )

    def _resolve_json(self, reference: str, what: str) -> Callable:
        module, _, qualname = reference.partition(":")
        func = _resolve(module, qualname)
        own = f"{getattr(func, '__module__', None)}:{getattr(func, '__qualname__', None)}"
        if not self.any and own != reference:  # reached through another module's attributes
            raise UntrustedError(
                f"{what} names {reference}, which is {own}: a job must name a function by its own "
                f"module and name, and this worker runs {self.describe()}"
            )
        return func

    def value(self, blob: bytes | None, codec: str, what: str = "the value") -> Any:
        self._check_codec(codec, what)
        if blob is None:
            return None
        if codec == "json":
            return json.loads(blob)
        return pickle.loads(blob)


TRUSTING = Loader("pickle")  # for jobs and contexts made without a queue: the pickle default


_PASS_A_PATH = "Write the data to a file and pass its path instead."
_NO_KWARGS = {"pickle": pickle.dumps({}, protocol=pickle.HIGHEST_PROTOCOL), "json": b"{}"}  # most jobs


def encode_args(args: Any, kwargs: Any, codec: str, func: Callable) -> tuple[bytes, bytes]:
    if not isinstance(args, (tuple, list)):
        raise EnqueueError(f"args for {describe(func)} must be a tuple or list, not {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise EnqueueError(f"kwargs for {describe(func)} must be a dict, not {type(kwargs).__name__}")
    try:
        return (
            encode_value(list(args) if codec == "json" else tuple(args), codec, "the arguments", "args",
                         _PASS_A_PATH),
            encode_value(dict(kwargs), codec, "the keyword arguments", "kwargs", _PASS_A_PATH) if kwargs
            else _NO_KWARGS[codec],
        )
    except SerializationError as exc:
        raise EnqueueError(f"cannot enqueue {describe(func)}: {exc}") from exc
