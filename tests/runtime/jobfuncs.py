"""Job functions for the runtime tests. They live in a module of their own so that a worker in
another process can import them (tests put this directory's parent on its path)."""

from __future__ import annotations

import math
import os
import re
import signal
import threading
import time

# set by jobs running in this process, read by the tests
started = threading.Event()
ran: list = []
_ran_lock = threading.Lock()


def add(a, b):
    return a + b


def echo(value):
    return value


def record(value):
    with _ran_lock:
        ran.append(value)
    started.set()
    return value


def fail(message="boom"):
    raise ValueError(message)


def nap(seconds, value=None):
    time.sleep(seconds)
    return value


def record_and_nap(value, seconds):
    record(value)
    time.sleep(seconds)
    return value


def unpicklable_result():
    return threading.Lock()


def terminate_own_process(value):
    record(value)
    os.kill(os.getpid(), signal.SIGTERM)
    return value


def append_to_log(log_path, job_number, seconds=0.0):
    """Write the job's number to a log file (one line per run), then work for a moment."""
    with open(log_path, "a") as log:
        log.write(f"{job_number}\n")
        log.flush()
        os.fsync(log.fileno())
    time.sleep(seconds)
    return job_number


def hold_the_gil(log_path, at_least):
    """Note the start in a log file, hold the GIL for at least `at_least` seconds in one C call
    that never lets it go (a regular expression that backtracks catastrophically), then note how
    long that call took.

    The length of the string is calibrated on a short match, aiming at twice `at_least`; on a busy
    machine the calibration itself can run slow and make the hold short, so a hold that fell short
    is repeated with a longer string (each "a" doubles the time) until one call held long enough."""
    with open(log_path, "a") as log:
        log.write("started\n")
    backtracking = re.compile(r"(a+)+$")
    per_18 = min(_timed(backtracking.match, "a" * 18 + "!") for _ in range(2))
    length = 18 + max(0, round(math.log2(2 * at_least / per_18)))
    while (held := _timed(backtracking.match, "a" * length + "!")) < at_least:
        length += 1
    with open(log_path, "a") as log:
        log.write(f"{held:.2f}\n")
    return held


def _timed(func, *args) -> float:
    started = time.perf_counter()
    func(*args)
    return time.perf_counter() - started


def with_context(context):
    return context.job_id


def keyword_only(a, *, scale=1):
    return a * scale


class Tasks:
    @staticmethod
    def static_add(a, b):
        return a + b


_active = 0
peak = 0


def overlapping(seconds):
    """Sleep, and note how many of these ran at the same moment (in `peak`)."""
    global _active, peak
    with _ran_lock:
        _active += 1
        peak = max(peak, _active)
    try:
        time.sleep(seconds)
    finally:
        with _ran_lock:
            _active -= 1
    return seconds


def reset():
    global _active, peak
    with _ran_lock:
        ran.clear()
        _active = peak = 0
    started.clear()


def exit_now(code):
    import sys

    sys.exit(code)


def enqueue_followup(db_path, value):
    """Old-style task code: open the queue file by path inside the task, enqueue, close."""
    from queuack import DuckQueue

    q = DuckQueue(db_path)
    try:
        return q.enqueue(record, args=(value,))
    finally:
        q.close()


def supplies_unit(func):
    """A decorator that fills in an argument of the function it wraps."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, unit="cm", **kwargs)

    return wrapper


@supplies_unit
def measure(n, unit):
    return f"{n}{unit}"


def kill_own_process(value):
    """A job that takes its worker process down with it (like a segfault or the OOM killer)."""
    os.kill(os.getpid(), signal.SIGKILL)
    return value


class Unusual(BaseException):
    """A BaseException of a task's own, like gevent's or trio's cancellations."""


def raise_base(kind):
    """Raise a BaseException that is not an Exception, as a task sometimes does."""
    import sys

    if kind == "interrupt":
        raise KeyboardInterrupt("pressed in the task")
    if kind == "exit":
        sys.exit("leaving")
    raise Unusual(kind)


def interrupt_own_process():
    """Ctrl-C arriving while the task runs: a real SIGINT to this process. Python runs the handler
    between bytecodes of the main thread, so short naps give it a chance after each one (also if
    another thread of the process took the signal, which leaves this thread's nap uninterrupted).
    Returning at all means no KeyboardInterrupt came: say what the handling looked like."""
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(50):
        time.sleep(0.1)
    return (f"not interrupted: on thread {threading.current_thread().name}, SIGINT handler "
            f"{signal.getsignal(signal.SIGINT)!r}, pending {sorted(signal.sigpending())}, "
            f"blocked {sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))}")


def parent_results(context):
    return context.get_parent_results()


def pair(a, b):
    return a, b


def make_bytes(size):
    return b"x" * size


def numbers(n):
    return list(range(n))


def square_part(part, context):
    """A DAG node: one slice of its parent's numbers, squared."""
    values = context.upstream("numbers")
    return sum(v * v for v in values[part::4])


def total(context):
    return sum(context.get_parent_results())


def pid_and_upstream(context):
    """Where the task ran, and what its parents returned (through the TaskContext)."""
    from queuack import get_context

    assert get_context() is context
    return os.getpid(), context.get_parent_results()


def queue_stats(context):
    return context.queue.stats()["done"]


def hard_exit(code):
    os._exit(code)


def log_pid_and_nap(log_path, seconds):
    """Write the pid of the process running the job to a log file, then nap."""
    with open(log_path, "a") as log:
        log.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return os.getpid()


def hold(gates, log_path, name):
    """Note `name pid` in the log as it starts, then wait until the file gates/name exists; return the pid."""
    with open(log_path, "a") as log:
        log.write(f"{name} {os.getpid()}\n")
    while not os.path.exists(os.path.join(gates, name)):
        time.sleep(0.02)
    return os.getpid()


def raise_without_message():
    raise MemoryError
