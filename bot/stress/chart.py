"""The replay as a PNG: price with each policy's liquidation price over time and its actions
marked (top), distance to liquidation at each bar's adverse extreme (bottom)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.stress.policies import AUTO_ADD, MARGINGUARD, NONE, STOP
from bot.stress.replay import RunResult

COLOURS = {NONE: "#7f7f7f", AUTO_ADD: "#1f77b4", STOP: "#9467bd", MARGINGUARD: "#d62728"}
MARKERS = {"top_up": "^", "auto_add": "^", "reduce": "v", "stop": "X", "hedge": "s", "unwind": "D", "liquidation": "*"}


def default_name(run: RunResult) -> str:
    if run.episode:
        return f"stress-{run.episode}-{run.asset or 'x'}.png"
    stem = Path(run.series.name).stem
    return f"stress-{stem}.png"


def write_chart(run: RunResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    s = run.series

    def when(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    opens = [when(t) for t in s.ts]
    closes = [when(t + s.interval_s) for t in s.ts]
    top.fill_between(opens, s.low, s.high, step="post", color="#dddddd",
                     label=f"{s.kind} high-low ({s.interval_label})")
    top.plot(closes, s.close, color="black", linewidth=0.9, label=f"{s.kind} close")
    top.axhline(run.entry, color="black", linestyle=":", linewidth=0.7, label=f"entry {run.entry:,.2f}")
    for name, o in run.outcomes.items():
        colour = COLOURS.get(name, "#2ca02c")
        t = o.trace
        xs = [when(x) for x in t.ts]
        top.plot(xs, [v if v is not None else float("nan") for v in t.liq], color=colour, linewidth=1.2,
                 linestyle="--" if name == NONE else "-", drawstyle="steps-post", label=f"liquidation: {name}")
        bottom.plot(xs, [v if v is not None else float("nan") for v in t.distance], color=colour, linewidth=1.0,
                    label=name)
        for kind, marker in MARKERS.items():
            evs = [e for e in o.events if e.kind == kind and e.status == "done"]
            if evs:
                top.scatter([when(e.ts) for e in evs], [e.price for e in evs], marker=marker,
                            s=160 if kind == "liquidation" else 70, color=colour, edgecolors="black", linewidths=0.6,
                            zorder=5)
    top.set_ylabel("price")
    side = run.scenario.side
    where = f"{run.episode} {run.asset}" if run.episode else s.name
    sc = run.scenario
    top.set_title(f"{where}: {side} {sc.leverage:g}x {sc.margin_mode}, {run.contracts * run.entry:,.0f} {sc.currency}; "
                  f"reaction delay {sc.delay_bars} bar(s)\n"
                  "^ collateral added   v reduce   X stop   s hedge   * liquidation", fontsize=10)
    top.legend(loc="best", fontsize=8)
    bottom.axhline(0, color="black", linewidth=0.7)
    bottom.set_ylabel("distance at the\nadverse extreme, %")
    bottom.legend(loc="best", fontsize=8)
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
