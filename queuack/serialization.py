"""How functions, arguments and results become bytes, and back.

Two codecs:
- "pickle" (default): any picklable value. Functions are stored by reference (module and
  qualified name), so lambdas and nested functions are refused at enqueue time.
  Trust boundary: unpickling runs code. Whoever can write the database file can make a worker
  run anything. Keep the file where only trusted users can write it.
- "json": arguments and results must be JSON values (dicts, lists, str, numbers, bool, None);
  functions are stored as "module:qualname" references. Nothing is unpickled, so a database
  file from an untrusted source cannot run arbitrary code, only functions that the worker can import.
"""

from __future__ import annotations

import importlib
import json
import pickle
from typing import Any, Callable

from .errors import EnqueueError, SerializationError

CODECS = ("pickle", "json")


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
        return pickle.dumps(func, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # PicklingError, AttributeError (local objects), TypeError
        raise EnqueueError(
            f"cannot enqueue {describe(func)}: the function cannot be pickled ({exc}). "
            "Jobs store functions by reference: use a module-level function, not a lambda or a "
            "function defined inside another function."
        ) from exc


def encode_value(value: Any, codec: str, what: str) -> bytes:
    """Encode arguments or a result. `what` names the value in the error message."""
    try:
        if codec == "json":
            return json.dumps(value, separators=(",", ":")).encode()
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise SerializationError(f"{what} cannot be serialised with {codec} ({type(exc).__name__}: {exc})") from exc


def decode_function(blob: bytes, codec: str) -> Callable:
    if codec == "json":
        module, _, qualname = blob.decode().partition(":")
        return _resolve(module, qualname)
    return pickle.loads(blob)


def decode_value(blob: bytes | None, codec: str) -> Any:
    if blob is None:
        return None
    if codec == "json":
        value = json.loads(blob)
        return value
    return pickle.loads(blob)


def encode_args(args: Any, kwargs: Any, codec: str, func: Callable) -> tuple[bytes, bytes]:
    if not isinstance(args, (tuple, list)):
        raise EnqueueError(f"args for {describe(func)} must be a tuple or list, not {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise EnqueueError(f"kwargs for {describe(func)} must be a dict, not {type(kwargs).__name__}")
    try:
        return (
            encode_value(list(args) if codec == "json" else tuple(args), codec, "the arguments"),
            encode_value(dict(kwargs or {}), codec, "the keyword arguments"),
        )
    except SerializationError as exc:
        raise EnqueueError(f"cannot enqueue {describe(func)}: {exc}") from exc
