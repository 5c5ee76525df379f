"""Make the demo's price files from the article's figures (run: python seeds/demo/make_prices.py).

These are NOT market data. Each ticker starts near its level before the DeepSeek
sell-off, wanders deterministically (a seeded random walk) from 2024-10-01 to
2025-01-24, then follows the article: the day's moves on 2025-01-27 (NVDA -17%,
AVGO -17%, CRDO -31%, ANET -22%, TSM -13%, the semiconductor index -10%, MSFT -2%,
GOOG -4%, META +2%), a partial rebound, and the earnings reactions of 2025-01-30
(MSFT -6%, META +2%). About 70% of the 27th's move happens at the open.
"""

from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path

import exchange_calendars as xcals

HERE = Path(__file__).resolve().parent / "prices"

# ticker: (close on 2025-01-24, move on 2025-01-27 in %, volume scale)
ARTICLE = {
    "NVDA": (142.6, -17.0, 250e6),
    "AVGO": (244.7, -17.0, 30e6),
    "CRDO": (80.5, -31.0, 8e6),
    "ANET": (129.2, -22.0, 10e6),
    "TSM": (221.9, -13.0, 15e6),
    "MSFT": (444.1, -2.0, 20e6),
    "GOOG": (201.9, -4.0, 20e6),
    "META": (647.5, 2.0, 15e6),
    "^SOX": (5342.0, -10.0, 0.0),
}
AFTER = {  # moves after the sell-off, in %: 01-28, 01-29, 01-30, 01-31
    "NVDA": (8.0, -4.0, 0.8, -3.7),
    "AVGO": (2.0, -3.0, 1.5, 2.0),
    "CRDO": (6.0, -5.0, 3.0, -2.0),
    "ANET": (4.0, -2.0, 1.5, -1.0),
    "TSM": (2.0, -1.0, 1.0, -1.0),
    "MSFT": (2.9, -1.0, -6.2, -0.7),
    "GOOG": (1.7, 2.0, 1.0, 0.5),
    "META": (2.2, 1.5, 1.6, -0.5),
    "^SOX": (3.0, -2.5, 1.5, -1.5),
}
START, SELLOFF, END = date(2024, 10, 1), date(2025, 1, 27), date(2025, 1, 31)


def sessions(start: date, end: date) -> list[date]:
    cal = xcals.get_calendar("XNYS", start="2024-01-01")
    return [ts.date() for ts in cal.sessions_in_range(str(start), str(end))]


def make(ticker: str) -> list[dict[str, str]]:
    close_before, selloff, volume = ARTICLE[ticker]
    rng = random.Random(f"tickerbell-demo-{ticker}")
    days = sessions(START, END)
    before = [d for d in days if d < SELLOFF]
    # a gentle rise to a peak about 6% above the anchor in early January, then a drift down to
    # exactly the anchor close on 2025-01-24, with a little deterministic noise on the way
    peak_day = date(2025, 1, 6)
    closes = []
    for day in before:
        if day <= peak_day:
            share = before.index(day) / before.index(peak_day)
            level = 0.88 + 0.18 * share
        else:
            share = (before.index(day) - before.index(peak_day)) / (len(before) - 1 - before.index(peak_day))
            level = 1.06 - 0.06 * share
        noise = 0.0 if day in (peak_day, before[-1]) else rng.gauss(0, 0.008)
        closes.append(close_before * min(level * (1 + noise), 1.055) if day != peak_day else close_before * 1.06)
    rows, previous = [], None
    after = iter(AFTER[ticker])
    for day in days:
        if day < SELLOFF:
            close = closes[before.index(day)]
            open_ = (previous or close) * (1 + rng.gauss(0, 0.004))
        elif day == SELLOFF:
            assert previous is not None  # set by every session before the sell-off, and START < SELLOFF
            close = previous * (1 + selloff / 100)
            open_ = previous * (1 + 0.7 * selloff / 100)
        else:
            assert previous is not None  # set by every earlier session
            close = previous * (1 + next(after) / 100)
            open_ = previous + (close - previous) * 0.6
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.004)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.004)))
        rows.append(
            {
                "Date": day.isoformat(),
                "Open": f"{open_:.2f}",
                "High": f"{high:.2f}",
                "Low": f"{low:.2f}",
                "Close": f"{close:.2f}",
                "Volume": str(int(volume * (3 if day == SELLOFF else 1) * (1 + abs(rng.gauss(0, 0.2))))),
            }
        )
        previous = float(f"{close:.2f}")
    return rows


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    for ticker in ARTICLE:
        with (HERE / f"{ticker}.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["Date", "Open", "High", "Low", "Close", "Volume"], lineterminator="\n")
            writer.writeheader()
            writer.writerows(make(ticker))
    print(f"wrote {len(ARTICLE)} files to {HERE}")


if __name__ == "__main__":
    main()
