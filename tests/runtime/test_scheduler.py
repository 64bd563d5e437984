"""The in-memory scheduler on its own: no database, times passed in by hand."""

from __future__ import annotations

import pytest

from queuack.scheduler import Scheduler, gate

NOW = 1000.0


def add(s: Scheduler, job_id: str, queue="default", priority=50, seq=None, after=NOW, mode="all",
        max_attempts=3, waiting_on=(), satisfied=False, **kw) -> bool:
    seq = len(s) + 1 if seq is None else seq
    return s.add(job_id, queue, priority, seq, after, mode, max_attempts, NOW, list(waiting_on), satisfied, **kw)


def take(s: Scheduler, n=10, queues=None, now=NOW, lease=NOW + 30, only=None) -> list[str]:
    return [taken[0] for taken in s.take(queues, n, "w1", lease, now, only)]


def test_higher_priority_first_then_first_in_first_out():
    s = Scheduler()
    add(s, "low", priority=1, seq=1)
    add(s, "a", priority=9, seq=3)
    add(s, "b", priority=9, seq=2)
    assert take(s) == ["b", "a", "low"]
    assert take(s) == []


def test_named_queues_are_served_in_the_order_given():
    s = Scheduler()
    add(s, "mail", queue="mail", priority=99)
    add(s, "cpu", queue="cpu", priority=1)
    add(s, "other", queue="other")
    assert take(s, queues=["cpu", "mail"]) == ["cpu", "mail"]
    assert take(s) == ["other"]


def test_without_queue_names_all_queues_share_one_priority_order():
    s = Scheduler()
    add(s, "a1", queue="a", priority=5, seq=1)
    add(s, "b1", queue="b", priority=7, seq=2)
    add(s, "a2", queue="a", priority=7, seq=3)
    assert take(s, n=2) == ["b1", "a2"]


def test_only_takes_the_named_jobs_and_leaves_the_others_ready():
    s = Scheduler()
    for name in ("a", "b", "c"):
        add(s, name)
    assert take(s, only={"c"}) == ["c"]
    assert take(s) == ["a", "b"]


def test_take_counts_the_attempt_and_returns_it():
    s = Scheduler()
    add(s, "a", seq=7, after=NOW - 5)
    assert s.take(None, 1, "w1", NOW + 30, NOW) == [("a", 7, 1, NOW - 5)]
    assert s.owns("a", 1) and not s.owns("a", 2)
    assert s.memory_claim("a") == (1, "w1", NOW)


def test_untake_puts_the_job_back_uncounted():
    s = Scheduler()
    add(s, "a")
    take(s)
    s.untake(["a"], NOW)
    assert s.memory_claim("a") is None
    assert s.take(None, 1, "w2", NOW + 30, NOW) == [("a", 1, 1, NOW)]


def test_a_delayed_job_becomes_ready_when_its_time_comes():
    s = Scheduler()
    add(s, "later", after=NOW + 10)
    assert s.next_wakeup() == NOW + 10
    s.promote_due(NOW + 9)
    assert take(s, now=NOW + 9) == []
    s.promote_due(NOW + 10)
    assert take(s, now=NOW + 10) == ["later"]


def test_an_expired_lease_is_reported_once_and_only_for_the_current_claim():
    s = Scheduler()
    add(s, "a")
    add(s, "b")
    take(s, lease=NOW + 5)
    s.renew([("b", 1)], NOW + 50)
    assert s.next_wakeup() == NOW + 5
    assert s.expired(NOW + 4) == []
    assert s.expired(NOW + 6) == [("a", 1)]
    assert s.expired(NOW + 6) == []
    assert s.expired(NOW + 60) == [("b", 1)]


def test_a_lease_of_a_finished_or_released_job_does_not_expire():
    s = Scheduler()
    add(s, "done")
    add(s, "released")
    take(s, lease=NOW + 5)
    s.finish("done", succeeded=True, now=NOW)
    s.release("released", NOW)
    assert s.expired(NOW + 10) == []
    assert take(s) == ["released"]
    assert s.owns("released", 1)  # the released attempt did not count


def test_retry_keeps_the_attempt_and_waits_for_its_backoff():
    s = Scheduler()
    add(s, "a")
    take(s)
    s.retry("a", NOW + 2, NOW)
    assert take(s) == []
    s.promote_due(NOW + 2)
    assert [(t[0], t[2]) for t in s.take(None, 1, "w1", NOW + 30, NOW + 2)] == [("a", 2)]


def test_memory_claims_until_marked_durable():
    s = Scheduler()
    add(s, "a", queue="q1")
    add(s, "b", queue="q2")
    take(s)
    assert {c[0] for c in s.memory_claims()} == {"a", "b"}
    s.mark_durable(["a"])
    assert s.is_durable("a") and not s.is_durable("b")
    assert [c[0] for c in s.memory_claims(["a", "b", "unknown"])] == ["b"]
    assert s.claimed() == [("a", 1), ("b", 1)]


def test_a_claim_restored_from_the_file_is_claimed_and_durable():
    s = Scheduler()
    assert add(s, "left", attempts=2, claimed=True) is False
    assert s.claimed() == [("left", 2)]
    assert s.is_durable("left") and take(s) == []


def test_an_all_child_runs_after_every_parent_succeeded():
    s = Scheduler()
    add(s, "p1")
    add(s, "p2")
    assert add(s, "child", waiting_on=["p1", "p2"]) is False
    assert s.has_children("p1")
    take(s)
    assert s.finish("p1", succeeded=True, now=NOW) is False
    assert s.finish("p2", succeeded=True, now=NOW) is True
    assert take(s) == ["child"]
    assert s.unfinished(["p1", "p2", "child"]) == 1


def any_child_of_two_parents() -> Scheduler:
    s = Scheduler()
    add(s, "p1")
    add(s, "p2")
    add(s, "child", mode="any", waiting_on=["p1", "p2"])
    return s


def test_an_any_child_runs_after_the_first_parent_succeeded():
    s = any_child_of_two_parents()
    take(s)
    assert s.finish("p2", succeeded=True, now=NOW) is True
    assert take(s) == ["child"]


def test_an_any_child_with_a_parent_already_done_is_ready_at_once():
    s = Scheduler()
    add(s, "p1")
    assert add(s, "child", mode="any", waiting_on=["p1"], satisfied=True) is True
    assert take(s) == ["p1", "child"]


def test_a_failed_parent_dooms_all_children_down_the_graph():
    s = Scheduler()
    add(s, "p")
    add(s, "c", waiting_on=["p"])
    add(s, "g", waiting_on=["c"])
    add(s, "other")
    take(s)
    skipped, alive_lost = s.doomed_by(["p"])
    assert skipped == ["c", "g"] and alive_lost == {}
    assert len(s) == 4  # doomed_by only reports
    for job_id in ["p"] + skipped:
        s.finish(job_id, succeeded=False, now=NOW)
    assert s.unfinished(["p", "c", "g", "other"]) == 1


def test_an_any_child_lives_while_a_parent_can_still_succeed():
    s = any_child_of_two_parents()
    take(s)
    assert s.doomed_by(["p1"]) == ([], {"child": 1})
    s.lose_parents({"child": 1})
    s.finish("p1", succeeded=False, now=NOW)
    assert s.doomed_by(["p2"]) == (["child"], {})


def test_a_failed_parent_does_not_touch_a_child_that_already_runs():
    s = any_child_of_two_parents()
    take(s, only={"p1", "p2"})
    s.finish("p1", succeeded=True, now=NOW)
    take(s)  # the child runs
    assert s.doomed_by(["p2"]) == ([], {})


@pytest.mark.parametrize("mode, statuses, expected", [
    ("all", [], ([], False, False)),
    ("all", [("a", "done"), ("b", "pending")], (["b"], True, False)),
    ("all", [("a", "failed"), ("b", "pending")], (["b"], False, True)),
    ("any", [("a", "failed"), ("b", "claimed")], (["b"], False, False)),
    ("any", [("a", "failed"), ("b", "skipped")], ([], False, True)),
    ("any", [("a", "failed"), ("b", "done")], ([], True, False)),
])
def test_gate_says_what_a_new_job_waits_for_and_whether_it_can_run(mode, statuses, expected):
    assert gate(mode, statuses) == expected


def test_waiting_counts_unclaimed_jobs_of_one_queue_up_to_a_bound():
    s = Scheduler()
    add(s, "a")
    add(s, "b", after=NOW + 60)  # delayed
    add(s, "c", waiting_on=["a"])  # waiting for a parent
    add(s, "m", queue="mail")
    assert take(s, n=1, queues=["default"]) == ["a"]
    assert s.waiting("default", at_most=10) == 2
    assert s.waiting("default", at_most=1) == 1
    assert s.waiting("mail", at_most=10) == 1


@pytest.mark.parametrize("job_id", [
    "0f8e4c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b",   # a canonical UUID: kept as its 16 bytes
    "0F8E4C1A-2B3D-4E5F-8A9B-0C1D2E3F4A5B",   # upper case: kept as the string, not confused with the above
    "00000000-0000-0000-0000-000000000000",
    "0f8e4c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5_",
    "job-42",
])
def test_any_id_comes_back_exactly_as_given(job_id):
    s = Scheduler()
    add(s, job_id)
    assert job_id in s and s.unfinished([job_id, "other"]) == 1
    assert take(s) == [job_id]
    assert s.owns(job_id, 1)
    assert s.finish(job_id, succeeded=True, now=NOW) is False
    assert job_id not in s and len(s) == 0


def test_ids_that_differ_only_in_case_are_two_jobs():
    s = Scheduler()
    add(s, "0f8e4c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b", priority=2)
    add(s, "0F8E4C1A-2B3D-4E5F-8A9B-0C1D2E3F4A5B", priority=1)
    assert take(s) == ["0f8e4c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b", "0F8E4C1A-2B3D-4E5F-8A9B-0C1D2E3F4A5B"]


def test_adding_a_job_twice_is_refused():
    s = Scheduler()
    add(s, "a")
    with pytest.raises(ValueError, match="already scheduled"):
        add(s, "a")


def test_a_reused_slot_is_not_confused_with_its_previous_job():
    s = Scheduler()
    add(s, "old", after=NOW + 5, seq=1)
    add(s, "parent", seq=2)
    add(s, "child", mode="any", waiting_on=["parent", "old"], seq=3)
    assert take(s) == ["parent"]
    s.finish("parent", succeeded=True, now=NOW)
    assert take(s) == ["child"]
    s.finish("child", succeeded=True, now=NOW)  # its slot is free again...
    add(s, "new", waiting_on=["x"], seq=4)        # ...and taken by a job that waits for another parent
    s.promote_due(NOW + 5)
    assert take(s, now=NOW + 5) == ["old"]
    s.finish("old", succeeded=True, now=NOW + 5)  # "old" still lists "child" as its child
    assert take(s, now=NOW + 5) == []             # which must not wake "new"
    assert s.finish("x", succeeded=True, now=NOW + 5) is True
    assert take(s, now=NOW + 5) == ["new"]


def test_many_jobs_come_out_in_priority_then_fifo_order():
    s = Scheduler()
    for i in range(1000):
        add(s, f"j{i}", queue=f"q{i % 3}", priority=i % 7, seq=i)
    order = take(s, n=2000)
    expected = sorted((f"j{i}" for i in range(1000)), key=lambda j: (-(int(j[1:]) % 7), int(j[1:])))
    assert order == expected


def test_waiting_forgets_finished_jobs():
    s = Scheduler()
    add(s, "a")
    add(s, "b")
    take(s, n=1)
    s.finish("a", succeeded=True, now=NOW)
    assert s.waiting("default", at_most=10) == 1
    assert s.waiting("nosuchqueue", at_most=10) == 0


def test_thousands_of_ids_are_found_after_removals_and_table_rebuilds():
    import uuid

    s = Scheduler()
    ids = [str(uuid.UUID(int=i * 7919)) for i in range(3000)] + [f"odd-{i}" for i in range(50)]
    for seq, job_id in enumerate(ids):
        add(s, job_id, seq=seq)
    for job_id in ids[::2]:  # a finished job leaves a gap in the table and a free slot
        s.finish(job_id, succeeded=True, now=NOW)
    assert len(s) == len(ids) // 2 and s.unfinished(ids) == len(ids) // 2
    assert all(job_id not in s for job_id in ids[::2]) and all(job_id in s for job_id in ids[1::2])
    for seq, job_id in enumerate(ids[::2]):  # added again, into the freed slots
        add(s, job_id, seq=10_000 + seq)
    assert sorted(take(s, n=10_000)) == sorted(ids)


def test_resumable_brings_back_what_the_retried_job_alone_blocked():
    from queuack.scheduler import resumable

    graph = {
        "child": ("skipped", "all", [("root", "failed")]),
        "grandchild": ("skipped", "all", [("child", "skipped"), ("done-parent", "done")]),
        "blocked": ("skipped", "all", [("root", "failed"), ("other-failure", "failed")]),
        "either": ("skipped", "any", [("root", "failed"), ("other-failure", "failed")]),
        "cancelled": ("skipped!", "all", [("root", "failed")]),
    }
    assert resumable("root", graph) == ["child", "grandchild", "either"]


def test_a_refused_second_add_leaves_the_first_job_as_it_was():
    s = Scheduler()
    add(s, "0f8e4c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b")
    add(s, "other-id")
    for job_id in ("0f8e4c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b", "other-id"):
        with pytest.raises(ValueError):
            add(s, job_id)
    assert len(s) == 2 and s.waiting("default", at_most=10) == 2
    assert take(s) == ["0f8e4c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b", "other-id"]


def counts(s: Scheduler, now=NOW) -> dict[tuple[str, str], int]:
    totals: dict[tuple[str, str], int] = {}
    for queue, status, n in s.counts(now):
        totals[queue, status] = totals.get((queue, status), 0) + n
    return {key: n for key, n in totals.items() if n}


def test_counts_of_unfinished_jobs_by_queue_claimed_delayed_and_pending():
    s = Scheduler()
    add(s, "ready", queue="q1")
    add(s, "later", queue="q1", after=NOW + 60)
    add(s, "child, later", queue="q2", waiting_on=["ready"], after=NOW + 60)  # delayed while it waits
    add(s, "child", queue="q2", waiting_on=["ready"])
    add(s, "urgent", queue="q2", priority=99)
    assert take(s, 1) == ["urgent"]
    assert counts(s) == {("q1", "pending"): 1, ("q1", "delayed"): 1, ("q2", "delayed"): 1, ("q2", "pending"): 1,
                         ("q2", "claimed"): 1}
    assert counts(s, NOW + 61) == {("q1", "pending"): 2, ("q2", "pending"): 2, ("q2", "claimed"): 1}
    s.finish("urgent", True, NOW)
    s.finish("later", False, NOW)
    assert counts(s) == {("q1", "pending"): 1, ("q2", "delayed"): 1, ("q2", "pending"): 1}
    assert s.queue_of("child") == "q2" and s.queue_of("later") is None


def test_the_first_ready_job_is_the_next_one_a_worker_of_every_queue_would_claim():
    s = Scheduler()
    assert s.first_ready(NOW) is None
    add(s, "old", queue="q1", seq=1)
    add(s, "new but urgent", queue="q2", seq=2, priority=90)
    add(s, "due later", queue="q3", seq=0, priority=99, after=NOW + 5)
    assert s.first_ready(NOW) == "new but urgent"
    assert take(s, 1) == ["new but urgent"]
    assert s.first_ready(NOW) == "old"
    assert s.first_ready(NOW + 5) == "due later"
