"""APScheduler 3.x on our asyncio loop: one interval job per account plus housekeeping.

Deliberate settings, because the defaults bite a guard bot:
* ``max_instances=1``: a slow exchange never gets two polls of the same account in flight;
* ``coalesce=True``: after a stall, missed polls collapse into one (old data has no value);
* ``misfire_grace_time=poll.misfire_grace_s``: the default of 1 s silently *drops* a poll
  whose start slipped by more than a second (a busy loop, a GC pause); ours runs it late.
Jobs are staggered so that N accounts do not all hit the network in the same instant.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)


def build_scheduler(
    accounts: list[str],
    run_cycle: Callable[[str], Awaitable[object]],
    *,
    interval_s: float,
    misfire_grace_s: float,
    extra_jobs: list[tuple[str, Callable[[], Awaitable[object]], float]] = (),  # type: ignore[assignment]
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": int(max(1, misfire_grace_s))},
    )
    start = datetime.now(UTC)
    n = max(1, len(accounts))
    for i, name in enumerate(accounts):
        scheduler.add_job(
            run_cycle,
            "interval",
            seconds=interval_s,
            args=[name],
            id=f"poll:{name}",
            name=f"poll {name}",
            next_run_time=start + timedelta(seconds=interval_s * i / n),
        )
    for job_id, func, every in extra_jobs:
        scheduler.add_job(
            func, "interval", seconds=every, id=job_id, name=job_id, next_run_time=start + timedelta(seconds=every)
        )
    return scheduler
