"""PNG charts for /chart: mark and liquidation price, and distance to liquidation, over time.

Rendering is CPU work (tens of milliseconds to a second): callers run :func:`render_chart` in a
worker thread (``asyncio.to_thread``). It uses matplotlib's object API with the Agg canvas
(no pyplot, no global figure state), so concurrent renders in threads do not interfere.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.journal import RiskSample

MAX_POINTS = 1500  # per series; more are thinned evenly (a day at 10 s polls is 8640 samples)


def _thin(rows: Sequence[RiskSample], limit: int = MAX_POINTS) -> list[RiskSample]:
    if len(rows) <= limit:
        return list(rows)
    step = len(rows) / limit
    picked = [rows[int(i * step)] for i in range(limit - 1)]
    return [*picked, rows[-1]]


def render_chart(samples: Sequence[RiskSample], title: str) -> bytes:
    """Two panels sharing the time axis (UTC): prices on top, distance to liquidation (%) below.
    One line per account and side when the symbol is held in several places."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    series: dict[str, list[RiskSample]] = defaultdict(list)
    for s in samples:
        series[f"{s.account} {s.side}"].append(s)

    fig = Figure(figsize=(8, 5.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    price_ax, dist_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    for label, rows in series.items():
        rows = _thin(sorted(rows, key=lambda r: r.ts))
        times = [datetime.fromtimestamp(r.ts, tz=UTC) for r in rows]
        mark_line = price_ax.plot(times, [r.mark_price for r in rows], linewidth=1.4, label=f"{label} mark")
        liq = [r.liquidation_price if r.liquidation_price else float("nan") for r in rows]
        price_ax.plot(
            times, liq, linestyle="--", linewidth=1.2, color=mark_line[0].get_color(), label=f"{label} liquidation"
        )
        dist = [r.distance_pct if r.distance_pct is not None else float("nan") for r in rows]
        dist_ax.plot(times, dist, linewidth=1.4, color=mark_line[0].get_color(), label=label)
    price_ax.set_title(title)
    price_ax.set_ylabel("price")
    price_ax.grid(True, alpha=0.3)
    price_ax.legend(loc="best", fontsize="small")
    dist_ax.set_ylabel("distance to liq. (%)")
    dist_ax.grid(True, alpha=0.3)
    dist_ax.axhline(0.0, color="red", linewidth=0.8)
    locator = AutoDateLocator()
    dist_ax.xaxis.set_major_locator(locator)
    dist_ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    dist_ax.set_xlabel("time (UTC)")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
