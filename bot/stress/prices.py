"""Price series for stress replays: OHLC bars from a bundled crash file or any CSV.

Accepted CSV (an exchange export, a freqtrade dump, Binance data-vision klines):

* columns ``timestamp,open,high,low,close[,volume,...]``; the time column may be called
  ``timestamp_utc``, ``timestamp``, ``date``, ``open_time``, ``time``, ``datetime`` (or
  ``start_time``, ``unix``, ``ts``; any case), ``open`` also ``open_price``/``openPrice``/``o``
  (likewise high, low, close); without a header row the first five columns are taken in that
  order; one-field lines before the data (a source URL, a title) are skipped;
* times as ISO-8601 (``2022-11-09T22:00:00Z``, an offset, or naive = UTC) or epoch seconds,
  milliseconds or microseconds (told apart by magnitude); each row is a bar's *open* time.

Rows may come newest first (they are sorted); exact duplicate times are dropped; a bar whose
high/low does not contain its open/close is widened to do so. Each repair is counted in
``Series.notes`` so the report can say what was done to the data.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

TIME_COLUMNS = ("timestamp_utc", "timestamp", "date", "open_time", "time", "datetime", "start_time", "starttime",
                "opentime", "unix", "ts")
PRICE_COLUMNS = ("open", "high", "low", "close")


def _aliases(name: str) -> tuple[str, ...]:
    """``open`` is also ``open_price``, ``openprice``, ``o``."""
    return (name, f"{name}_price", f"{name}price", name[0])


class PriceFileError(ValueError):
    """A price file that cannot be replayed; the message names the file, line and fix."""


@dataclass(frozen=True)
class Series:
    """OHLC bars on a regular grid. ``ts`` are bar open times (unix seconds, UTC)."""

    name: str
    ts: tuple[float, ...]
    open: tuple[float, ...]
    high: tuple[float, ...]
    low: tuple[float, ...]
    close: tuple[float, ...]
    interval_s: float
    kind: str = "mark"  # what the prices are: mark | last
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def start(self) -> float:
        return self.ts[0]

    @property
    def end(self) -> float:
        """Close time of the last bar."""
        return self.ts[-1] + self.interval_s

    @property
    def interval_label(self) -> str:
        s = round(self.interval_s)
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if s % size == 0:
                return f"{s // size}{unit}"
        return f"{s}s"


def parse_time(text: str) -> float:
    """Unix seconds from ISO-8601 or an epoch number in s, ms or µs."""
    t = text.strip()
    try:
        x = float(t)
    except ValueError:
        pass
    else:
        if not math.isfinite(x):
            raise ValueError(f"not a time: {text!r}")
        if x > 1e14:
            return x / 1e6
        if x > 1e11:
            return x / 1e3
        return x
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def iso(ts: float) -> str:
    """ISO-8601 UTC with a Z, to the second (the report's time format)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _columns(header: Sequence[str], where: str) -> tuple[int, int, int, int, int]:
    names = [h.strip().lower().lstrip("\ufeff").replace(" ", "_") for h in header]
    time_col = next((names.index(c) for c in TIME_COLUMNS if c in names), None)
    if time_col is None:
        raise PriceFileError(
            f"{where}: no time column; name it one of {', '.join(TIME_COLUMNS)} "
            f"(expected timestamp,open,high,low,close[,volume])"
        )
    cols = [time_col]
    for c in PRICE_COLUMNS:
        found = next((names.index(a) for a in _aliases(c) if a in names), None)
        if found is None:
            raise PriceFileError(f"{where}: no {c!r} column (expected timestamp,open,high,low,close[,volume])")
        cols.append(found)
    return cols[0], cols[1], cols[2], cols[3], cols[4]


def _looks_like_data(row: Sequence[str]) -> bool:
    if len(row) < 5:
        return False
    try:
        parse_time(row[0])
        float(row[1])
    except ValueError:
        return False
    return True


def parse_rows(rows: Iterable[Sequence[str]], *, name: str, kind: str = "mark") -> Series:
    it = iter(rows)
    # Skip blank lines and a one-field preamble (a source URL, a title line).
    first = next((r for r in it if len(r) >= 2 and any(c.strip() for c in r)), None)
    if first is None:
        raise PriceFileError(f"{name}: no rows of timestamp,open,high,low,close found")
    if _looks_like_data(first):
        cols = (0, 1, 2, 3, 4)
        data: Iterable[Sequence[str]] = [first, *it]
        line0 = 1
    else:
        cols = _columns(first, name)
        data = it
        line0 = 2
    bars: dict[float, tuple[float, float, float, float]] = {}
    duplicates = widened = 0
    for n, row in enumerate(data, start=line0):
        if not row or not any(c.strip() for c in row):
            continue
        try:
            t = parse_time(row[cols[0]])
            o, h, low, c = (float(row[i]) for i in cols[1:])
        except (ValueError, IndexError):
            text = ",".join(row)[:80]
            raise PriceFileError(f"{name}, line {n}: cannot read {text!r} as time,open,high,low,close") from None
        if not all(math.isfinite(v) and v > 0 for v in (o, h, low, c)):
            raise PriceFileError(f"{name}, line {n}: prices must be positive numbers")
        if t in bars:
            duplicates += 1
            continue
        if h < max(o, c, low) or low > min(o, c, h):
            widened += 1
            h, low = max(o, h, low, c), min(o, h, low, c)
        bars[t] = (o, h, low, c)
    if len(bars) < 2:
        raise PriceFileError(f"{name}: need at least 2 bars, found {len(bars)}")
    ts = sorted(bars)
    diffs = [b - a for a, b in itertools.pairwise(ts)]
    interval = statistics.median(diffs)
    gaps = sum(1 for d in diffs if d > interval * 1.5)
    notes = []
    if duplicates:
        notes.append(f"{duplicates} duplicate bar time(s) dropped")
    if widened:
        notes.append(f"{widened} bar(s) whose high/low did not contain open/close were widened")
    if gaps:
        notes.append(f"{gaps} gap(s) in the {interval:g}s grid (the replay jumps over them)")
    cols_t = list(zip(*(bars[t] for t in ts), strict=True))
    return Series(
        name=name, ts=tuple(ts), open=tuple(cols_t[0]), high=tuple(cols_t[1]), low=tuple(cols_t[2]),
        close=tuple(cols_t[3]), interval_s=float(interval), kind=kind, notes=tuple(notes),
    )


def load_csv(path: Path | str, *, kind: str = "mark", name: str | None = None) -> Series:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PriceFileError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PriceFileError(f"{p}: cannot be read ({e})") from None
    return parse_text(text, name=name or p.name, kind=kind)


def parse_text(text: str, *, name: str, kind: str = "mark") -> Series:
    head = text.lstrip().split("\n", 1)[0]
    delimiter = next((d for d in (",", ";", "\t") if d in head), ",")
    return parse_rows(csv.reader(io.StringIO(text), delimiter=delimiter), name=name, kind=kind)
