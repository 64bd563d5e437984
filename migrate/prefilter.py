"""A cheap text test that runs before anything is parsed.

A file can matter to the migration in two ways: it defines a task that reads its parent by hand
(that needs ``get_result``), or it enqueues tasks (``add_job``, ``add_node`` or ``enqueue``), which the
project index needs even when nothing in the file itself changes. A file with none of these words
cannot hold an old pattern, so the engine skips it without importing libcst.

This module must stay free of libcst and of anything heavy.
"""

from __future__ import annotations

import re

_WORDS = re.compile(r"get_result|add_job|add_node|enqueue")


def might_need_migration(text: str) -> bool:
    """True when ``text`` could hold a manually wired task or an enqueue site."""
    return _WORDS.search(text) is not None


def might_define_legacy_task(text: str) -> bool:
    """True when ``text`` could define a manually wired task (it reads ``get_result``).

    Enqueue sites only matter for tasks defined somewhere in the scanned files, so when no file
    passes this test nothing can be found, and the engine may skip the analysis (and the libcst
    import) altogether, even for files that enqueue jobs.
    """
    return "get_result" in text
