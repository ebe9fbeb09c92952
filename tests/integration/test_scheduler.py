"""APScheduler 3 on our loop: one job per account, deliberate misfire/coalesce, no overlap."""

from __future__ import annotations

import asyncio

from bot.scheduler import build_scheduler


async def test_jobs_have_deliberate_settings_and_never_overlap() -> None:
    running: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}
    runs: dict[str, int] = {"a": 0, "b": 0}

    async def slow_cycle(account: str) -> None:
        running[account] += 1
        peak[account] = max(peak[account], running[account])
        await asyncio.sleep(0.35)  # slower than the 0.1 s interval
        running[account] -= 1
        runs[account] += 1

    scheduler = build_scheduler(["a", "b"], slow_cycle, interval_s=0.1, misfire_grace_s=5)
    scheduler.start()  # job defaults are applied when the jobs reach the job store
    try:
        jobs = {j.id: j for j in scheduler.get_jobs()}
        assert set(jobs) == {"poll:a", "poll:b"}
        for job in jobs.values():
            assert job.max_instances == 1 and job.coalesce is True and job.misfire_grace_time == 5
        await asyncio.sleep(1.2)
    finally:
        scheduler.shutdown(wait=False)
    assert peak == {"a": 1, "b": 1}  # never two polls of one account at once
    assert runs["a"] >= 2 and runs["b"] >= 2  # and both accounts kept being polled
