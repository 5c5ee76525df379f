"""The /chart image: candles and volume, the 50- and 200-day moving averages, the analyst's levels.

matplotlib's object API on the Agg canvas (no pyplot, no global state), so a chart renders in a
worker thread while the event loop runs. mplfinance would draw the same candles, but it goes
through pyplot's global figure manager, which is not safe to use from several threads at once.

Candles sit at consecutive positions (no gaps for weekends and holidays); the dates are written
under them. Level labels sit in the right margin, outside the plot, so they never cover a candle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

WIDTH_IN, HEIGHT_IN, DPI = 11.0, 6.4, 100  # 1100 x 640 px
UP, DOWN = "#26a69a", "#ef5350"
SMA_COLORS = {50: "#ff9800", 200: "#7e57c2"}
LEVEL_COLORS = {"entry": "#2e7d32", "exit": "#1565c0", "stop": "#c62828"}
OTHER_LEVEL = "#6d4c41"
OFF_CHART_RATIO = 1.5  # a level this far beyond the candles is named at the edge, not drawn
_GAP = 0.06  # minimum distance between level labels, in axes fraction


@dataclass(frozen=True, slots=True)
class Candle:
    at: datetime  # a day's date (at midnight) or an intraday bar's start
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


def render_chart(
    ticker: str,
    candles: Sequence[Candle],
    averages: dict[int, Sequence[float | None]],
    levels: Sequence[tuple[str, float]],
    *,
    title: str,
    intraday: bool = False,
) -> bytes:
    """A PNG of the candles, volume, the moving averages (aligned with the candles; None where
    there is too little history) and the levels. Raises ValueError without candles."""
    figure = build_figure(ticker, candles, averages, levels, title=title, intraday=intraday)
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def build_figure(
    ticker: str,
    candles: Sequence[Candle],
    averages: dict[int, Sequence[float | None]],
    levels: Sequence[tuple[str, float]],
    *,
    title: str,
    intraday: bool = False,
) -> Figure:
    """The chart as a Figure: axes[0] the prices, axes[1] the volume. Level lines carry the gid
    'level:NAME', their labels 'level-label:NAME' (or 'level-off:NAME' when off the chart)."""
    candles = [c for c in candles if all(_finite(v) for v in (c.open, c.high, c.low, c.close))]
    if not candles:
        raise ValueError(f"cannot chart {ticker}: no bars")
    prefix = "" if ticker.startswith("^") else "$"
    xs = list(range(len(candles)))
    low = min(c.low for c in candles)
    high = max(c.high for c in candles)
    shown = [(n, p) for n, p in levels if _finite(p) and low / OFF_CHART_RATIO <= p <= high * OFF_CHART_RATIO]
    off = [(n, p) for n, p in levels if _finite(p) and (n, p) not in shown]
    y_low = min([low, *(p for _, p in shown)])
    y_high = max([high, *(p for _, p in shown)])
    pad = max((y_high - y_low) * 0.06, y_high * 0.01)
    limits = (max(0.0, y_low - pad), y_high + pad)

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2, 1, height_ratios=(4, 1), hspace=0.05, left=0.07, right=0.83, top=0.91, bottom=0.09)
    ax = figure.add_subplot(grid[0])
    vol = figure.add_subplot(grid[1], sharex=ax)

    # Candles: a wick from low to high, a body from open to close.
    width = 0.7 if len(candles) < 400 else 0.9
    colors = [UP if c.close >= c.open else DOWN for c in candles]
    ax.vlines(xs, [c.low for c in candles], [c.high for c in candles], colors=colors, linewidth=0.9 if len(candles) < 400 else 0.5, zorder=2)
    bottoms = [min(c.open, c.close) for c in candles]
    heights = [max(abs(c.close - c.open), (limits[1] - limits[0]) * 0.001) for c in candles]
    ax.bar(xs, heights, width=width, bottom=bottoms, color=colors, linewidth=0, zorder=3)
    vol.bar(xs, [c.volume for c in candles], width=width, color=colors, linewidth=0, alpha=0.8)

    for days, values in sorted(averages.items()):
        points = [(x, v) for x, v in zip(xs, values, strict=False) if v is not None and _finite(v)]
        if points:
            ax.plot([x for x, _ in points], [v for _, v in points], color=SMA_COLORS.get(days, "#555555"), linewidth=1.6,
                    label=f"SMA{days} {prefix}{points[-1][1]:,.2f}", zorder=4)

    # Levels: dashed lines across the plot; labels in the right margin, spread apart.
    span = limits[1] - limits[0]
    labels: list[tuple[float, str, str, str]] = []
    for name, price in shown:
        color = LEVEL_COLORS.get(name, OTHER_LEVEL)
        ax.axhline(price, color=color, linewidth=1.4, linestyle=(0, (6, 3)), zorder=1, gid=f"level:{name}")
        labels.append(((price - limits[0]) / span, f"{name} {prefix}{price:,.2f}", color, f"level-label:{name}"))
    for name, price in off:
        above = price > high
        labels.append((1.0 if above else 0.0, f"{'▲' if above else '▼'} {name} {prefix}{price:,.2f}\n(off chart)",
                       LEVEL_COLORS.get(name, OTHER_LEVEL), f"level-off:{name}"))
    last = candles[-1].close
    labels.append(((last - limits[0]) / span, f"last {prefix}{last:,.2f}", "#111111", "last"))
    for where, (_, text, color, gid) in zip(_spread([label[0] for label in labels]), labels, strict=True):
        ax.text(1.01, where, text, transform=ax.transAxes, ha="left", va="center", fontsize=11, fontweight="bold", color=color,
                bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": color, "linewidth": 1.0}, gid=gid, clip_on=False)

    ax.set_ylim(*limits)
    ax.set_xlim(-1, len(candles))
    ax.grid(True, color="#e0e3e8", linewidth=0.7)
    ax.set_axisbelow(True)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{prefix}{v:,.{2 if span < 10 else 0}f}"))
    ax.tick_params(labelbottom=False, labelsize=11)
    ax.set_title(title, loc="left", fontsize=16, fontweight="bold")
    if averages and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=10, framealpha=0.9)
    vol.grid(True, color="#e0e3e8", linewidth=0.7)
    vol.set_axisbelow(True)
    vol.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _volume(v)))
    vol.yaxis.set_major_locator(MaxNLocator(3))
    vol.tick_params(labelsize=10)
    vol.xaxis.set_major_locator(MaxNLocator(8, integer=True))
    stamps = [c.at for c in candles]
    short_span = (stamps[-1] - stamps[0]).days < 300

    def when(value: float, _: object) -> str:
        index = round(value)
        if not 0 <= index < len(stamps):
            return ""
        stamp = stamps[index]
        return stamp.strftime("%a %H:%M" if intraday else ("%b %d" if short_span else "%b %Y"))

    vol.xaxis.set_major_formatter(FuncFormatter(when))
    for axes in (ax, vol):
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
    return figure


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _volume(value: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= size:
            return f"{value / size:,.0f}{unit}"
    return f"{value:,.0f}"


def _spread(wanted: list[float]) -> list[float]:
    """Label positions near `wanted` (axes fraction), at least _GAP apart, within 0..1."""
    if not wanted:
        return []
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    placed = [min(max(wanted[i], 0.02), 0.98) for i in order]
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + _GAP)
    if placed[-1] > 0.98:
        placed[-1] = 0.98
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - _GAP)
    result = [0.0] * len(wanted)
    for k, i in enumerate(order):
        result[i] = placed[k]
    return result
