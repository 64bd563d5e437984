"""Task decorators, under their queuack 0.1 module path.

`async_task` is 0.1's spelling for an `async def` task. Workers already run coroutine functions
natively (see execution.py); the decorator also lets the function be called directly from
synchronous code, where it runs to completion on an event loop of its own. Called from inside a
running event loop, it returns the coroutine, to be awaited.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Callable

from .streaming import async_generator_task, generator_task, streaming_task

__all__ = ["async_generator_task", "async_task", "generator_task", "job", "streaming_task"]


def async_task(func: Callable) -> Callable:
    if not inspect.iscoroutinefunction(func):
        return func  # as in 0.1: a plain function is left as it is

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        coroutine = func(*args, **kwargs)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        return coroutine

    return wrapper


def job(queue_instance, queue: str = "default", priority: int = 50, delay_seconds: float = 0,
        max_attempts: int = 3) -> Callable:
    """queuack 0.1's `@job(q)`: the function stays callable as it is, and `func.delay(*args,
    **kwargs)` enqueues a call of it on `q` with these options, returning the job id."""

    def decorator(func: Callable) -> Callable:
        def delay(*args, **kwargs) -> str:
            return queue_instance.enqueue(func, args=args, kwargs=kwargs, queue=queue, priority=priority,
                                          delay_seconds=delay_seconds, max_attempts=max_attempts)

        func.delay = delay
        return func

    return decorator
