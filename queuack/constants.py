"""Default values, under the queuack 0.1 module path. The queue reads its visibility timeout and
backpressure thresholds from here.

VALUES_THRESHOLD, DEP_CHUNK_SIZE and WORKER_DRAIN_SECONDS tuned 0.1's SQL and worker shutdown;
this runtime has neither knob (dependencies go in with the jobs' own transaction, and a stopping
worker gives back what it prefetched), so they keep their 0.1 values and change nothing.
"""

DEFAULT_PRIORITY = 50  # 0-100, higher runs first
DEFAULT_MAX_ATTEMPTS = 3
# 0.1 gave every job 300 seconds; here a job has no time limit unless it asks for one
DEFAULT_TIMEOUT_SECONDS = None
DEFAULT_VISIBILITY_TIMEOUT = 300.0  # the lease of a claimed job, seconds
DEFAULT_POLL_TIMEOUT = 1.0  # the longest an idle worker sleeps; an enqueue in-process wakes it sooner

# Backpressure (DuckQueue.enqueue with check_backpressure=True): waiting jobs of one queue at
# which enqueue logs a warning, and at which it raises BackpressureError. Override per class with
# the DuckQueue.backpressure_warning_threshold / backpressure_block_threshold classmethods.
BACKPRESSURE_WARNING_THRESHOLD = 1000
BACKPRESSURE_BLOCK_THRESHOLD = 10000

VALUES_THRESHOLD = 2000
DEP_CHUNK_SIZE = 1000
WORKER_DRAIN_SECONDS = 0.25
