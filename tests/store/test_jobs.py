"""The job queue against a real database (SQLite by default, PostgreSQL with LANJIE_TEST_DATABASE)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.store import job_listing, jobs
from lanjie.store.db import make_engine
from lanjie.store.jobs import Job, LeaseLost
from lanjie.store.tables import shops

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def add(engine: sa.Engine, kind: str = "send", **kwargs: Any) -> int:
    with engine.begin() as conn:
        job_id = jobs.enqueue(conn, kind=kind, payload=kwargs.pop("payload", {}), **kwargs)
    assert job_id is not None
    return job_id


def add_shop(conn: sa.Connection, shop_id: str) -> None:
    conn.execute(shops.insert().values(id=shop_id, name=shop_id, settlement_policy="on_turned_back",
                                       created_at=T0, updated_at=T0))


def shop_ids(engine: sa.Engine) -> list[str]:
    with engine.begin() as conn:
        return list(conn.execute(sa.select(shops.c.id).order_by(shops.c.id)).scalars())


def row(engine: sa.Engine, job_id: int) -> dict[str, Any]:
    found = job_listing.get(engine, job_id)
    assert found is not None
    return found


def claim(engine: sa.Engine, worker_id: str = "w1", *, limit: int = 10, now: datetime = T0,
          **kwargs: Any) -> list[Job]:
    return jobs.claim(engine, worker_id=worker_id, limit=limit, lease_seconds=30, now=now, **kwargs)


def complete(engine: sa.Engine, job: Job, now: datetime = T0) -> None:
    with engine.begin() as conn:
        jobs.complete(conn, job_id=job.id, worker_id=job.locked_by, now=now)


# enqueue


def test_enqueue_stores_a_queued_job(engine: sa.Engine) -> None:
    job_id = add(engine, "intercept.submit", payload={"intercept_id": "i1"}, key="submit:i1", shop_id="s1",
                 run_at=T0, concurrency_key="carrier:kuaidi100", max_attempts=5)

    stored = row(engine, job_id)
    assert {k: v for k, v in stored.items() if k not in ("created_at", "updated_at")} == {
        "id": job_id, "kind": "intercept.submit", "key": "submit:i1", "shop_id": "s1",
        "payload": {"intercept_id": "i1"}, "status": "queued", "attempts": 0, "max_attempts": 5,
        "run_at": T0, "lease_until": None, "locked_by": None, "concurrency_key": "carrier:kuaidi100",
        "last_error": "", "finished_at": None,
    }
    assert stored["created_at"].tzinfo is UTC


def test_enqueued_job_commits_and_rolls_back_with_the_callers_transaction(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_shop(conn, "kept")
        kept = jobs.enqueue(conn, kind="send", payload={}, key="kept")
    with pytest.raises(RuntimeError), engine.begin() as conn:
        add_shop(conn, "undone")
        jobs.enqueue(conn, kind="send", payload={}, key="undone")
        raise RuntimeError("the state change failed")

    assert shop_ids(engine) == ["kept"]
    assert [j["id"] for j in job_listing.list_jobs(engine)] == [kept]


def test_duplicate_key_is_a_noop_and_the_callers_transaction_still_commits(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        first = jobs.enqueue(conn, kind="send", payload={"v": 1}, key="dup")
        add_shop(conn, "s1")
        again = jobs.enqueue(conn, kind="send", payload={"v": 2}, key="dup")
        other = jobs.enqueue(conn, kind="send", payload={"v": 3}, key="other")
    with engine.begin() as conn:
        later = jobs.enqueue(conn, kind="send", payload={"v": 4}, key="dup")
        add_shop(conn, "s2")

    assert again is None and later is None
    assert shop_ids(engine) == ["s1", "s2"]
    assert [(j["id"], j["key"], j["payload"]) for j in job_listing.list_jobs(engine)] == [
        (other, "other", {"v": 3}), (first, "dup", {"v": 1}),
    ]


def test_jobs_without_a_key_are_never_duplicates(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = [jobs.enqueue(conn, kind="send", payload={}) for _ in range(3)]

    assert None not in ids and len(set(ids)) == 3
    assert job_listing.stats(engine) == {"queued": 3, "running": 0, "succeeded": 0, "dead": 0}


# claim


def test_claim_leases_a_job_and_complete_commits_with_its_effects(engine: sa.Engine) -> None:
    job_id = add(engine, "intercept.submit", payload={"n": 1}, key="k", shop_id="s1", run_at=T0,
                 concurrency_key="carrier:x", max_attempts=3)

    [job] = claim(engine, "w1", now=T0)
    assert job == Job(id=job_id, kind="intercept.submit", key="k", shop_id="s1", payload={"n": 1}, attempts=1,
                      max_attempts=3, concurrency_key="carrier:x", locked_by="w1")
    leased = row(engine, job_id)
    assert (leased["status"], leased["locked_by"], leased["attempts"], leased["lease_until"]) == (
        "running", "w1", 1, T0 + timedelta(seconds=30))

    with engine.begin() as conn:
        add_shop(conn, "effect")
        jobs.complete(conn, job_id=job.id, worker_id="w1", now=T0 + timedelta(seconds=2))

    done = row(engine, job_id)
    assert (done["status"], done["locked_by"], done["attempts"], done["lease_until"], done["finished_at"]) == (
        "succeeded", "w1", 1, None, T0 + timedelta(seconds=2))
    assert shop_ids(engine) == ["effect"]
    assert claim(engine, "w2", now=T0 + timedelta(hours=1)) == []


def test_claim_takes_due_jobs_by_run_at_then_id_and_leaves_the_rest(engine: sa.Engine) -> None:
    late = add(engine, run_at=T0 + timedelta(seconds=3))
    early_a = add(engine, run_at=T0 + timedelta(seconds=1))
    middle = add(engine, run_at=T0 + timedelta(seconds=2))
    early_b = add(engine, run_at=T0 + timedelta(seconds=1))
    future = add(engine, run_at=T0 + timedelta(seconds=60))

    now = T0 + timedelta(seconds=5)
    assert [j.id for j in claim(engine, limit=3, now=now)] == [early_a, early_b, middle]
    assert [j.id for j in claim(engine, limit=3, now=now)] == [late]
    assert row(engine, future)["status"] == "queued"
    assert jobs.count_due(engine, now=now) == 0
    assert jobs.count_due(engine, now=T0 + timedelta(seconds=60)) == 1


def test_claim_can_be_limited_to_some_kinds(engine: sa.Engine) -> None:
    send = add(engine, "send", run_at=T0)
    add(engine, "track", run_at=T0)

    assert [j.id for j in claim(engine, kinds={"send", "other"})] == [send]
    assert claim(engine, kinds=["send"]) == []
    assert job_listing.stats(engine) == {"queued": 1, "running": 1, "succeeded": 0, "dead": 0}


def test_claim_keeps_each_concurrency_key_under_its_limit_and_claims_jobs_behind_a_full_key(
    engine: sa.Engine,
) -> None:
    a = [add(engine, run_at=T0, concurrency_key="carrier:a") for _ in range(5)]
    b = [add(engine, run_at=T0, concurrency_key="carrier:b") for _ in range(3)]
    free = add(engine, run_at=T0)
    limits = {"carrier:a": 2}

    first = claim(engine, "w1", limit=10, concurrency_limits=limits, default_limit=1)
    assert [j.id for j in first] == [a[0], a[1], b[0], free]
    assert claim(engine, "w2", limit=10, concurrency_limits=limits, default_limit=1) == []

    complete(engine, first[0])
    assert [j.id for j in claim(engine, "w2", limit=10, concurrency_limits=limits, default_limit=1)] == [a[2]]
    # Without a default limit, keys that are not listed are unlimited.
    assert [j.id for j in claim(engine, "w3", limit=10, concurrency_limits=limits)] == [b[1], b[2]]


def test_a_limit_of_zero_pauses_a_key(engine: sa.Engine) -> None:
    add(engine, run_at=T0, concurrency_key="carrier:paused")
    other = add(engine, run_at=T0, concurrency_key="carrier:open")

    assert [j.id for j in claim(engine, concurrency_limits={"carrier:paused": 0})] == [other]


def test_running_jobs_whose_lease_expired_do_not_count_against_the_limit(engine: sa.Engine) -> None:
    first = add(engine, run_at=T0, concurrency_key="carrier:a")
    second = add(engine, run_at=T0, concurrency_key="carrier:a")
    limits = {"carrier:a": 1}

    assert [j.id for j in claim(engine, "w1", now=T0, concurrency_limits=limits)] == [first]
    assert claim(engine, "w2", now=T0 + timedelta(seconds=29), concurrency_limits=limits) == []
    assert [j.id for j in claim(engine, "w2", now=T0 + timedelta(seconds=31), concurrency_limits=limits)] == [
        second]


def test_a_key_another_claimer_is_counting_is_skipped_not_waited_for(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite claimers are serialised by BEGIN IMMEDIATE; there is no key lock")
    held = add(engine, run_at=T0, concurrency_key="carrier:a")
    other = add(engine, run_at=T0, concurrency_key="carrier:b")
    limits = {"carrier:a": 5, "carrier:b": 5}

    with engine.connect() as rival, rival.begin():
        assert jobs._lock_concurrency_key(rival, "carrier:a") is True
        assert [j.id for j in claim(engine, concurrency_limits=limits)] == [other]
    assert [j.id for j in claim(engine, concurrency_limits=limits)] == [held]


def _run_claimers(database_url: str, total: int, claimers: int, **claim_kwargs: Any) -> dict[str, Any]:
    """Claim and complete `total` jobs from `claimers` threads, each with its own engine."""
    engines = [make_engine(database_url) for _ in range(claimers)]
    lock = threading.Lock()
    claimed: list[int] = []
    in_flight: Counter[str | None] = Counter()
    max_seen: Counter[str | None] = Counter()
    barrier = threading.Barrier(claimers)

    def claimer(n: int) -> None:
        engine, worker_id = engines[n], f"w{n}"
        barrier.wait()
        while True:
            with lock:
                if len(claimed) == total:
                    return
            batch = jobs.claim(engine, worker_id=worker_id, limit=4, lease_seconds=30, **claim_kwargs)
            with lock:
                claimed.extend(j.id for j in batch)
                for j in batch:
                    in_flight[j.concurrency_key] += 1
                    max_seen[j.concurrency_key] = max(max_seen[j.concurrency_key], in_flight[j.concurrency_key])
            threading.Event().wait(0.001)  # hold the jobs a moment so claimers overlap
            # Leave the in-flight count before the database does, so what we see is never more than is running.
            with lock:
                for j in batch:
                    in_flight[j.concurrency_key] -= 1
            with engine.begin() as conn:
                for j in batch:
                    jobs.complete(conn, job_id=j.id, worker_id=worker_id)

    try:
        with ThreadPoolExecutor(claimers) as pool:
            for future in [pool.submit(claimer, n) for n in range(claimers)]:
                future.result()
    finally:
        for engine in engines:
            engine.dispose()
    return {"claimed": claimed, "max_seen": max_seen}


def test_concurrent_claimers_never_get_the_same_job(engine: sa.Engine, database_url: str) -> None:
    with engine.begin() as conn:
        ids = [jobs.enqueue(conn, kind="send", payload={"n": n}) for n in range(200)]

    result = _run_claimers(database_url, total=200, claimers=4)

    assert sorted(result["claimed"]) == sorted(ids)  # each exactly once
    assert job_listing.stats(engine) == {"queued": 0, "running": 0, "succeeded": 200, "dead": 0}
    assert {j["attempts"] for j in job_listing.list_jobs(engine, limit=300)} == {1}


def test_concurrency_limit_holds_across_concurrent_claimers(engine: sa.Engine, database_url: str) -> None:
    keys = ["carrier:a", "carrier:b", None]
    with engine.begin() as conn:
        ids = [jobs.enqueue(conn, kind="send", payload={}, concurrency_key=keys[n % 3]) for n in range(90)]

    result = _run_claimers(database_url, total=90, claimers=4,
                           concurrency_limits={"carrier:a": 2}, default_limit=1)

    assert sorted(result["claimed"]) == sorted(ids)
    assert result["max_seen"]["carrier:a"] in (1, 2)
    assert result["max_seen"]["carrier:b"] == 1
    assert job_listing.stats(engine) == {"queued": 0, "running": 0, "succeeded": 90, "dead": 0}


# leases


def test_job_of_a_killed_worker_comes_back_after_its_lease_and_the_attempt_counts(engine: sa.Engine) -> None:
    job_id = add(engine, run_at=T0)
    claim(engine, "killed", now=T0)  # the worker dies here: nothing else is written

    assert jobs.reap(engine, now=T0 + timedelta(seconds=30)) == 0
    assert row(engine, job_id)["status"] == "running"
    assert jobs.reap(engine, now=T0 + timedelta(seconds=31)) == 1

    back = row(engine, job_id)
    assert (back["status"], back["attempts"], back["locked_by"], back["lease_until"], back["run_at"]) == (
        "queued", 1, None, None, T0 + timedelta(seconds=31))
    assert back["last_error"] == "lease expired; worker killed presumed dead"
    [again] = claim(engine, "w2", now=T0 + timedelta(seconds=31))
    assert (again.id, again.attempts) == (job_id, 2)


def test_reaped_job_out_of_attempts_is_dead(engine: sa.Engine) -> None:
    job_id = add(engine, run_at=T0, max_attempts=1)
    claim(engine, "killed", now=T0)

    assert jobs.reap(engine, now=T0 + timedelta(minutes=1)) == 1
    dead = row(engine, job_id)
    assert (dead["status"], dead["attempts"], dead["finished_at"]) == ("dead", 1, T0 + timedelta(minutes=1))
    assert claim(engine, now=T0 + timedelta(hours=1)) == []


def test_heartbeat_keeps_a_long_job(engine: sa.Engine) -> None:
    job_id = add(engine, run_at=T0)
    claim(engine, "w1", now=T0)

    for minute in range(1, 4):
        now = T0 + timedelta(seconds=20 * minute)
        assert jobs.heartbeat(engine, job_id=job_id, worker_id="w1", lease_seconds=30, now=now) is True
        assert jobs.reap(engine, now=now + timedelta(seconds=25)) == 0
    assert row(engine, job_id)["lease_until"] == T0 + timedelta(seconds=90)
    assert jobs.heartbeat(engine, job_id=job_id, worker_id="w2", lease_seconds=30, now=T0) is False
    assert row(engine, job_id)["lease_until"] == T0 + timedelta(seconds=90)


def test_completing_a_job_another_worker_took_raises_and_rolls_back_the_effects(engine: sa.Engine) -> None:
    job_id = add(engine, run_at=T0)
    [slow] = claim(engine, "slow", now=T0)
    jobs.reap(engine, now=T0 + timedelta(seconds=31))
    [fast] = claim(engine, "fast", now=T0 + timedelta(seconds=31))

    assert jobs.heartbeat(engine, job_id=job_id, worker_id="slow", lease_seconds=30) is False
    with pytest.raises(LeaseLost), engine.begin() as conn:
        add_shop(conn, "effect-of-slow")
        jobs.complete(conn, job_id=slow.id, worker_id="slow")
    complete(engine, fast, now=T0 + timedelta(seconds=32))

    assert shop_ids(engine) == []
    done = row(engine, job_id)
    assert (done["status"], done["locked_by"], done["attempts"]) == ("succeeded", "fast", 2)
    assert jobs.finish(engine, job_id=job_id, worker_id="fast") is True
    assert jobs.finish(engine, job_id=job_id, worker_id="slow") is False


def test_finish_marks_a_job_its_handler_left_running(engine: sa.Engine) -> None:
    job_id = add(engine, run_at=T0)
    claim(engine, "w1", now=T0)

    assert jobs.finish(engine, job_id=job_id, worker_id="w1", now=T0 + timedelta(seconds=1)) is True
    done = row(engine, job_id)
    assert (done["status"], done["finished_at"]) == ("succeeded", T0 + timedelta(seconds=1))


# failures


def test_failed_attempt_is_retried_after_a_jittered_exponential_backoff(engine: sa.Engine) -> None:
    job_id = add(engine, run_at=T0)
    rng, draws = random.Random(42), random.Random(42)

    claim(engine, "w1", now=T0)
    status = jobs.fail(engine, job_id=job_id, worker_id="w1", error="boom", now=T0, rng=rng)
    first = T0 + timedelta(seconds=1.0 * (0.5 + draws.random()))
    failed = row(engine, job_id)
    assert (status, failed["status"], failed["run_at"], failed["attempts"], failed["locked_by"]) == (
        "queued", "queued", first, 1, None)
    assert failed["last_error"] == "boom"
    assert T0 + timedelta(seconds=0.5) <= first < T0 + timedelta(seconds=1.5)
    assert claim(engine, "w1", now=first - timedelta(microseconds=1)) == []

    claim(engine, "w1", now=first)
    jobs.fail(engine, job_id=job_id, worker_id="w1", error="boom again", now=first, rng=rng)
    second = first + timedelta(seconds=2.0 * (0.5 + draws.random()))
    assert row(engine, job_id)["run_at"] == second
    assert first + timedelta(seconds=1) <= second < first + timedelta(seconds=3)


def test_backoff_doubles_per_attempt_up_to_five_minutes() -> None:
    draw = random.Random(7).random()
    for attempts, base in [(1, 1), (2, 2), (5, 16), (9, 256), (10, 300), (40, 300)]:
        delay = jobs.backoff_seconds(attempts, rng=random.Random(7))
        assert delay == base * (0.5 + draw)
        assert 0.5 * base <= delay < 1.5 * base


def test_job_is_dead_after_its_last_attempt_and_retry_dead_requeues_it(engine: sa.Engine) -> None:
    job_id = add(engine, run_at=T0, max_attempts=2)
    claim(engine, "w1", now=T0)
    assert jobs.fail(engine, job_id=job_id, worker_id="w1", error="one", now=T0) == "queued"
    later = T0 + timedelta(minutes=1)
    claim(engine, "w1", now=later)
    assert jobs.fail(engine, job_id=job_id, worker_id="w1", error="two", now=later) == "dead"

    dead = row(engine, job_id)
    assert (dead["status"], dead["attempts"], dead["last_error"], dead["finished_at"], dead["lease_until"]) == (
        "dead", 2, "two", later, None)
    assert claim(engine, now=T0 + timedelta(days=1)) == []
    assert [j["id"] for j in job_listing.list_jobs(engine, status="dead")] == [job_id]

    assert jobs.retry_dead(engine, job_id=job_id, now=later) is True
    revived = row(engine, job_id)
    assert (revived["status"], revived["attempts"], revived["run_at"], revived["finished_at"]) == (
        "queued", 0, later, None)
    assert jobs.retry_dead(engine, job_id=job_id) is False
    assert [j.attempts for j in claim(engine, now=later)] == [1]


def test_permanent_failure_is_dead_at_once(engine: sa.Engine) -> None:
    job_id = add(engine, run_at=T0)
    claim(engine, "w1", now=T0)

    assert jobs.fail(engine, job_id=job_id, worker_id="w1", error="bad payload", retry=False, now=T0) == "dead"
    assert (row(engine, job_id)["status"], row(engine, job_id)["attempts"]) == ("dead", 1)


def test_fail_by_a_worker_that_lost_the_job_raises_and_changes_nothing(engine: sa.Engine) -> None:
    job_id = add(engine, run_at=T0)
    claim(engine, "w1", now=T0)
    before = row(engine, job_id)

    with pytest.raises(LeaseLost):
        jobs.fail(engine, job_id=job_id, worker_id="w2", error="not mine", now=T0)
    with pytest.raises(LeaseLost):
        jobs.reschedule(engine, job_id=job_id, worker_id="w2", run_at=T0)
    assert row(engine, job_id) == before


def test_reschedule_puts_the_job_back_without_counting_the_attempt(engine: sa.Engine) -> None:
    job_id = add(engine, run_at=T0, max_attempts=1)
    claim(engine, "w1", now=T0)
    later = T0 + timedelta(hours=9)

    with engine.begin() as conn:
        jobs.reschedule(conn, job_id=job_id, worker_id="w1", run_at=later, reason="outside carrier hours")

    back = row(engine, job_id)
    assert (back["status"], back["attempts"], back["run_at"], back["locked_by"], back["last_error"]) == (
        "queued", 0, later, None, "outside carrier hours")
    assert claim(engine, now=later - timedelta(seconds=1)) == []
    assert [j.attempts for j in claim(engine, now=later)] == [1]


def test_stats_and_listing(engine: sa.Engine) -> None:
    ids = [add(engine, run_at=T0) for _ in range(4)]
    done, dead, running = claim(engine, limit=3, now=T0)
    complete(engine, done)
    jobs.fail(engine, job_id=dead.id, worker_id="w1", error="x", retry=False, now=T0)

    assert job_listing.stats(engine) == {"queued": 1, "running": 1, "succeeded": 1, "dead": 1}
    assert [j["id"] for j in job_listing.list_jobs(engine)] == ids[::-1]
    assert [j["id"] for j in job_listing.list_jobs(engine, limit=2)] == ids[:1:-1]
    assert [j["id"] for j in job_listing.list_jobs(engine, status="running")] == [running.id]
    assert job_listing.get(engine, 10_000) is None
