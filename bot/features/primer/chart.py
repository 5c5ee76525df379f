"""The primer chart: daily closes, the primer's levels and the current drawdown, as a PNG.

Built with matplotlib's object API on the Agg canvas (no pyplot, no global rcParams), so a
chart can be rendered in a worker thread while the event loop keeps running:

    png = await render_chart_async("NVDA", bars, [("entry", 125.0), ("exit", 170.0)])

The caller chooses the window (about six months of daily bars); the chart plots what it gets.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import date
from io import BytesIO

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bot.core.market import Bar

__all__ = ["OFF_CHART_RATIO", "build_figure", "render_chart", "render_chart_async"]

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 5.6, 100  # 1000 x 560 px: fits a phone screen in landscape

# A level more than this factor above the highest close (or below the lowest close) is not
# allowed to stretch the y-axis: it is listed at the edge as "(off chart)" instead.
OFF_CHART_RATIO = 1.5

CLOSE_COLOR = "#1d2a3a"
DRAWDOWN_COLOR = "#e53935"
LEVEL_COLORS = {"entry": "#2e7d32", "exit": "#1565c0", "stop": "#c62828"}
OTHER_LEVEL_COLOR = "#6d4c41"
BACKGROUND = "#ffffff"
AXES_BACKGROUND = "#fbfbfd"

TITLE_SIZE = 18
LABEL_SIZE = 13
TICK_SIZE = 13
LEGEND_SIZE = 12

_LABEL_GAP = 0.075  # minimum distance between level labels, in axes fraction
_LABEL_LIFT = 0.035  # a level's label sits this far above its line, in axes fraction
_LABEL_MIN, _LABEL_MAX = 0.04, 0.96


def render_chart(
    ticker: str,
    bars: Sequence[Bar],
    levels: Sequence[tuple[str, float]],
    *,
    title: str | None = None,
    currency: str | None = None,
) -> bytes:
    """A PNG (about 1000x560 px) of the closes in `bars`, the `levels` and the drawdown.

    `levels` are (name, price) pairs such as ("exit", 165.0); a level with a missing,
    non-finite or non-positive price is skipped. `currency` prefixes prices; by default "$",
    or nothing for an index (a ticker starting with "^"). Raises ValueError without bars.
    """
    figure = build_figure(ticker, bars, levels, title=title, currency=currency)
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND, metadata={"Software": None})
    return buffer.getvalue()


async def render_chart_async(
    ticker: str,
    bars: Sequence[Bar],
    levels: Sequence[tuple[str, float]],
    *,
    title: str | None = None,
    currency: str | None = None,
) -> bytes:
    """`render_chart` in a worker thread, so the event loop is not blocked while drawing."""
    return await asyncio.to_thread(
        render_chart, ticker, list(bars), list(levels), title=title, currency=currency
    )


def build_figure(
    ticker: str,
    bars: Sequence[Bar],
    levels: Sequence[tuple[str, float]],
    *,
    title: str | None = None,
    currency: str | None = None,
) -> Figure:
    """The chart as a matplotlib Figure (main axes: ``figure.axes[0]``).

    Level lines carry the gid ``"level:<name>"``; labels of levels that are off the chart
    carry ``"level-off:<name>"``. Used by `render_chart` and by tests.
    """
    points = sorted(
        ((bar.day, float(bar.close)) for bar in bars if _is_price(bar.close)),
        key=lambda point: point[0],
    )
    if not points:
        raise ValueError(
            f"cannot chart {ticker}: no bars with a valid close (got {len(bars)} bars); "
            "pass at least one daily bar"
        )
    days = [day for day, _ in points]
    closes = [close for _, close in points]
    prefix = currency if currency is not None else ("" if ticker.startswith("^") else "$")

    def money(value: float) -> str:
        return f"{prefix}{value:,.2f}"

    # Levels: keep valid ones, split into those that fit and those far off the price range.
    low, high = min(closes), max(closes)
    shown: list[tuple[str, float]] = []
    off: list[tuple[str, float, bool]] = []  # (name, price, above)
    for name, price in levels:
        if not _is_price(price):
            continue
        price = float(price)
        if price > high * OFF_CHART_RATIO:
            off.append((str(name), price, True))
        elif price < low / OFF_CHART_RATIO:
            off.append((str(name), price, False))
        else:
            shown.append((str(name), price))

    y_low = min([low, *(price for _, price in shown)])
    y_high = max([high, *(price for _, price in shown)])
    pad = max((y_high - y_low) * 0.08, y_high * 0.02)
    y_limits = (max(y_low - pad, 0.0), y_high + pad)

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor=BACKGROUND, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.set_facecolor(AXES_BACKGROUND)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, color="#d0d4da", linewidth=0.8, alpha=0.8)
    ax.set_axisbelow(True)

    # Closes, and the last close marked with a dot and a price tag at the right edge.
    last_day, last = days[-1], closes[-1]
    ax.plot(
        days,  # type: ignore[arg-type]  # matplotlib plots dates (its units registry); the stubs declare only numbers
        closes,
        color=CLOSE_COLOR,
        linewidth=2.4,
        marker="o" if len(days) <= 3 else None,
        markersize=6,
        label=f"{ticker} close, last {money(last)} ({_short_date(last_day)})",
        zorder=3,
    )
    ax.plot([last_day], [last], "o", color=CLOSE_COLOR, markersize=10, zorder=4,  # type: ignore[arg-type]  # matplotlib plots dates (its units registry); the stubs declare only numbers
            markeredgecolor="white", markeredgewidth=2)
    ax.annotate(
        money(last),
        xy=(1.0, last),
        xycoords=ax.get_yaxis_transform(),
        xytext=(6, 0),
        textcoords="offset points",
        ha="left",
        va="center",
        fontsize=LABEL_SIZE,
        fontweight="bold",
        color="white",
        bbox={"boxstyle": "round,pad=0.3", "facecolor": CLOSE_COLOR, "edgecolor": "none"},
        annotation_clip=False,
        zorder=5,
    )

    # Drawdown: from the (latest) peak close to the last close, shaded from the peak's day on.
    peak_index = max(range(len(closes)), key=lambda i: (closes[i], i))
    peak = closes[peak_index]
    if last < peak:
        drawdown = last / peak - 1.0
        ax.fill_between(
            [days[peak_index], last_day],  # type: ignore[arg-type]  # matplotlib plots dates (its units registry); the stubs declare only numbers
            last,
            peak,
            color=DRAWDOWN_COLOR,
            alpha=0.13,
            linewidth=0,
            label=f"drawdown {drawdown:.1%} from peak {money(peak)} ({_short_date(days[peak_index])})",
            zorder=1,
        )
        ax.plot([days[peak_index], last_day], [peak, peak], color=DRAWDOWN_COLOR,  # type: ignore[arg-type]  # matplotlib plots dates (its units registry); the stubs declare only numbers
                linewidth=1.2, linestyle=":", zorder=2)

    # Levels: dashed lines with labels at the left; far-off levels only as labels at an edge.
    span = y_limits[1] - y_limits[0]
    labels: list[tuple[float, str, str, str]] = []  # (axes y, text, colour, gid)
    for name, price in shown:
        color = _level_color(name)
        line = ax.axhline(price, color=color, linewidth=1.8, linestyle=(0, (6, 3)), zorder=2)
        line.set_gid(f"level:{name}")
        where = (price - y_limits[0]) / span
        where = where + _LABEL_LIFT if where + _LABEL_LIFT <= _LABEL_MAX else where - _LABEL_LIFT
        labels.append((where, f"{name} {money(price)}", color, f"level-label:{name}"))
    for name, price, above in off:
        arrow = "\u25b2" if above else "\u25bc"
        labels.append(
            (_LABEL_MAX if above else _LABEL_MIN, f"{arrow} {name} {money(price)} (off chart)",
             _level_color(name), f"level-off:{name}")
        )
    for where, (_, text, color, gid) in zip(_spread([label[0] for label in labels]), labels, strict=True):
        ax.text(
            0.012,
            where,
            text,
            transform=ax.transAxes,
            ha="left",
            va="center",
            fontsize=LABEL_SIZE,
            fontweight="bold",
            color=color,
            bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": color,
                  "linewidth": 1.0, "alpha": 0.9},
            zorder=6,
            gid=gid,
        )

    # Axes: dates below, prices at the left, a short title.
    first_x, last_x = date2num(days[0]), date2num(last_day)  # type: ignore[no-untyped-call]  # matplotlib.dates has no annotations in matplotlib's stubs
    if len(days) == 1:
        ax.set_xlim(first_x - 3, last_x + 3)
    else:
        edge = max((last_x - first_x) * 0.015, 0.25)  # in days: room for the end dots
        ax.set_xlim(first_x - edge, last_x + edge)
    ax.set_ylim(*y_limits)
    locator = AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]  # matplotlib.dates has no annotations in matplotlib's stubs
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]  # matplotlib.dates has no annotations in matplotlib's stubs
    ax.xaxis.get_offset_text().set_fontsize(TICK_SIZE - 1)
    decimals = 2 if span < 10 else 0
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{prefix}{value:,.{decimals}f}"))
    ax.tick_params(labelsize=TICK_SIZE)
    heading = title if title is not None else (
        f"{ticker}  \u00b7  {_long_date(days[0])} \u2013 {_long_date(last_day)}"
        if len(days) > 1 else f"{ticker}  \u00b7  {_long_date(last_day)}"
    )
    ax.set_title(heading, loc="left", fontsize=TITLE_SIZE, fontweight="bold", color="#111111", pad=10)
    ax.legend(loc="best", fontsize=LEGEND_SIZE, framealpha=0.92, edgecolor="#c8ccd2")
    return figure


def _is_price(value: object) -> bool:
    if isinstance(value, bool):
        return False
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and number > 0


def _level_color(name: str) -> str:
    key = name.strip().lower().split(" ", 1)[0] if name.strip() else ""
    return LEVEL_COLORS.get(key, OTHER_LEVEL_COLOR)


def _spread(wanted: list[float]) -> list[float]:
    """Label positions (axes fraction) near `wanted`, at least _LABEL_GAP apart, inside the axes."""
    if not wanted:
        return []
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    placed = [min(max(wanted[i], _LABEL_MIN), _LABEL_MAX) for i in order]
    for k in range(1, len(placed)):  # push up
        placed[k] = max(placed[k], placed[k - 1] + _LABEL_GAP)
    if placed[-1] > _LABEL_MAX:  # then back down from the top
        placed[-1] = _LABEL_MAX
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - _LABEL_GAP)
    result = [0.0] * len(wanted)
    for k, i in enumerate(order):
        result[i] = placed[k]
    return result


def _short_date(day: date) -> str:
    return f"{day:%b} {day.day}"


def _long_date(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"
