"""The dead-man checks: a stuck event loop is reported from outside it, and health pings go out."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from bot.watchdog import HealthPinger, LoopWatchdog


async def test_blocked_loop_is_reported_by_the_watchdog_thread() -> None:
    sent: list[str] = []
    dog = LoopWatchdog(limit_s=0.3, send=sent.append, check_every_s=0.05)
    dog.start()
    try:
        dog.tick()
        time.sleep(0.8)  # the event loop is blocked: nothing in it can run
        assert any("has not moved" in s for s in sent)
        for _ in range(250):  # the loop runs again and ticks, as the daemon's does every cycle
            dog.tick()
            if any("moving again" in s for s in sent):
                break
            await asyncio.sleep(0.02)
        assert any("moving again" in s for s in sent)
        assert dog.stalls == 1
    finally:
        dog.stop()
        dog.join(timeout=5)


async def test_health_ping_goes_out_after_good_cycles_at_most_once_a_minute() -> None:
    hits: list[str] = []

    async def ping(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_get("/ping/abc", ping)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        pinger = HealthPinger(f"http://127.0.0.1:{port}/ping/abc")
        pinger.cycle_ok()
        pinger.cycle_ok()  # within the minute: no second ping
        for _ in range(50):
            if hits:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)
        assert hits == ["/ping/abc"]
    finally:
        await runner.cleanup()
