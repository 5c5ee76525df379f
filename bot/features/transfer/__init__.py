"""Export and import (admins): `/export [csv|json]` sends what the bot holds as a file (the
analyst's levels, chats' watches, earnings subscriptions, baskets and members' alerts);
`/import` sets analyst levels from pasted lines, each checked, nothing applied unless all are good.

    /import NVDA entry 120 buy the dip  AVGO exit pe 45  TSM stop 150

Each entry is TICKER entry|exit|stop PRICE (or pe N / fpe N) [note]; a new entry starts where a
ticker is followed by a level name, so entries may be pasted on separate lines or one line. CSV
lines (`NVDA,entry,120,note`, with or without the header `ticker,level,price,note`, or the rows
of an /export CSV whose section is `level`) work too.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.commands import Access, Arg, ArgKind, Command
from bot.core.errors import UserError
from bot.core.feature import FeatureDefaults
from bot.core.handlers import fetch_fundamentals, level_value_text, look_up, parse_level_value, rule_label
from bot.core.lifecycle import lifecycle_text
from bot.core.messages import Document, Reply
from bot.core.models import LevelName, RuleSource, parse_ticker
from bot.core.router import Context, Invocation
from bot.core.valuation import valuation_price

MAX_IMPORT = 200
LEVELS = ("entry", "exit", "stop")
CSV_COLUMNS = ("section", "ticker", "what", "value", "note", "chat", "member")


async def gather(context: Context) -> dict[str, list[dict[str, Any]]]:
    """Everything /export writes, as plain rows."""
    store = context.store
    levels = [{"ticker": r.ticker, "level": str(r.level_name), "value": _level_value(r), "price": r.threshold, "note": r.note or ""}
              for r in await context.rules.analyst_levels()]
    watches: list[dict[str, Any]] = []
    for ticker in await store.watches.tickers():
        watches.extend({"chat": chat.key, "ticker": ticker} for chat in await store.watches.watchers(ticker))
    subscriptions: list[dict[str, Any]] = []
    for ticker in await store.earnings.subscribed_tickers():
        subscriptions.extend({"chat": s.chat.key, "ticker": ticker, "days_before": s.days_before} for s in await store.earnings.subscribers(ticker))
    baskets = [{"name": name, "tickers": tickers, "chats": [c.key for c in await store.baskets.watchers(name)]}
               for name, tickers in sorted((await store.baskets.all()).items())]
    members = [rule for ticker in sorted(context.rules.tickers()) for rule in context.rules.rules_of(ticker)
               if rule.source is RuleSource.MEMBER and rule.owner is not None]
    alerts: list[dict[str, Any]] = [{"id": rule.id, "member": rule.owner.key if rule.owner else "", "chat": rule.chat.key if rule.chat else "",
               "ticker": rule.ticker, "rule": rule_label(rule) + lifecycle_text(rule),
               "kind": rule.kind.value, "threshold": rule.threshold, "direction": rule.direction.value,
               "indicator": rule.indicator, "period": rule.period} for rule in members]
    alerts.sort(key=lambda a: a["id"])
    return {"levels": levels, "watches": watches, "subscriptions": subscriptions, "baskets": baskets, "alerts": alerts}


def _alert_what(row: dict[str, Any]) -> str:
    """The kind, and for an indicator alert what it watches: `ma sma200`, `rsi rsi14`, `change 5d`."""
    if row.get("indicator"):
        return f"{row['kind']} {row['indicator']}{row['period']}"
    if row.get("period"):
        return f"{row['kind']} {row['period']}d"
    return str(row["kind"])


def _level_value(rule: Any) -> str:
    if rule.multiple is not None and rule.basis:
        return f"{rule.basis} {rule.multiple:g}"
    return f"{rule.threshold:g}"


def as_csv(data: dict[str, list[dict[str, Any]]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in data["levels"]:
        writer.writerow(("level", row["ticker"], row["level"], row["value"], row["note"], "", ""))
    for row in data["watches"]:
        writer.writerow(("watch", row["ticker"], "", "", "", row["chat"], ""))
    for row in data["subscriptions"]:
        writer.writerow(("subscription", row["ticker"], "days_before", row["days_before"], "", row["chat"], ""))
    for row in data["baskets"]:
        writer.writerow(("basket", " ".join(row["tickers"]), row["name"], "", "", " ".join(row["chats"]), ""))
    for row in data["alerts"]:
        writer.writerow(("alert", row["ticker"], _alert_what(row), f"{row['threshold']:g}", row["rule"], row["chat"], row["member"]))
    return out.getvalue()


async def export_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    form = values.get("format") or "csv"
    data = await gather(context)
    stamp = context.calendar.local_date(context.clock.now()).isoformat()
    if form == "json":
        payload = json.dumps(data, indent=2, sort_keys=True).encode()
    else:
        payload = as_csv(data).encode()
    counts = ", ".join(f"{len(rows)} {name}" for name, rows in data.items())
    document = Document(f"tickerbell-export-{stamp}.{form}", payload, f"tickerbell export ({form.upper()}): {counts}")
    return Reply(title=f"Export ({form.upper()}): {counts}", lines=(f"The file {document.filename} follows ({len(payload):,} bytes).",),
                 document=document, private=True)


# -- /import -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LevelLine:
    number: int
    ticker: str
    level: LevelName
    price: float | None
    multiple: float | None
    basis: str | None
    note: str | None


_TICKERISH = re.compile(r"^\$?[A-Za-z0-9.\-^]{1,12}$")


def split_entries(text: str) -> list[list[str]]:
    """The entries of pasted text: CSV lines, or words where each TICKER LEVEL pair starts one."""
    rows: list[list[str]] = []
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and all("," in line for line in lines):
        for record in csv.reader(lines):
            cells = [c.strip() for c in record]
            if cells and cells[0].lower() in ("ticker", "section"):
                continue  # a header
            if cells and cells[0].lower() == "level":
                cells = cells[1:5]  # a row of an /export CSV
            elif cells and cells[0].lower() in ("watch", "subscription", "basket", "alert"):
                continue
            rows.append([c for c in cells[:4] if c != ""])
        return rows
    words = [w for w in text.replace(",", " ").split() if w.lower() != "level"]  # "level": an /export row's section
    for index, word in enumerate(words):
        starts = index + 1 < len(words) and words[index + 1].lower() in LEVELS and _TICKERISH.match(word) is not None
        if starts or not rows:
            rows.append([word])
        else:
            rows[-1].append(word)
    return [row for row in rows if row[0].lower() not in ("ticker", "section")]  # a pasted header


def check_entry(number: int, cells: list[str]) -> LevelLine:
    """One entry checked, or a UserError naming the entry and the problem."""
    try:
        if len(cells) < 3:
            raise UserError("expected TICKER entry|exit|stop PRICE [note]")
        ticker = parse_ticker(cells[0])
        level = cells[1].lower()
        if level not in LEVELS:
            raise UserError(f"the level must be entry, exit or stop, not '{cells[1][:16]}'")
        price, multiple, basis, note = parse_level_value(cells[2], " ".join(cells[3:]) or None)
        if price is not None and not 0 < price <= 10_000_000:
            raise UserError("the price must be above 0")
        if note and len(note) > 200:
            raise UserError(f"the note is too long ({len(note)} characters; at most 200)")
    except UserError as problem:
        said = problem.message if problem.message.endswith(".") else problem.message + "."
        raise UserError(f"Entry {number} ({' '.join(cells)[:40]}): {said}") from None
    return LevelLine(number, ticker, LevelName(level), price, multiple, basis, note)


MAX_FILE_BYTES = 256 * 1024


def import_text(invocation: Invocation, typed: str | None) -> str:
    """What /import reads: the CSV file sent with it, or the entries typed after it."""
    attachment = invocation.attachment
    if attachment is not None:
        if len(attachment.data) > MAX_FILE_BYTES:
            raise UserError(f"The file {attachment.filename[:40]} is too large ({len(attachment.data):,} bytes; at most {MAX_FILE_BYTES:,}).")
        try:
            return attachment.data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UserError(f"The file {attachment.filename[:40]} is not UTF-8 text: send a CSV file.") from None
    if not typed:
        raise UserError("Nothing to import: send a CSV file with /import as its caption, or type the entries, "
                        "like /import NVDA entry 120 AVGO exit pe 45.")
    return typed


async def import_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    text = import_text(invocation, values.get("lines"))
    entries = split_entries(text)
    if len(entries) > MAX_IMPORT:
        raise UserError(f"/import takes at most {MAX_IMPORT} entries at once; that was {len(entries)}.")
    problems: list[str] = []
    checked: list[LevelLine] = []
    for number, cells in enumerate(entries, start=1):
        try:
            checked.append(check_entry(number, cells))
        except UserError as problem:
            problems.append(problem.message)
    seen: dict[tuple[str, LevelName], int] = {}
    for line in checked:
        key = (line.ticker, line.level)
        if key in seen:
            problems.append(f"Entry {line.number}: {line.ticker} {line.level} is also entry {seen[key]}; give each level once.")
        seen.setdefault(key, line.number)
    lookup = None
    if checked:
        try:  # an unknown ticker refuses the whole import; a data outage saves unverified, as /setlevel does
            lookup = await look_up(context, sorted({line.ticker for line in checked}))
        except UserError as problem:
            problems.append(problem.message)
    if problems or lookup is None:
        shown = problems[:20] + ([f"… and {len(problems) - 20} more."] if len(problems) > 20 else [])
        raise UserError("Nothing was imported: " + " ".join(shown))
    done = []
    for line in checked:
        quote = lookup.quote(line.ticker)
        price = line.price
        if line.multiple is not None and line.basis is not None:
            fundamentals = await fetch_fundamentals(context, line.ticker) if quote is not None else None
            price = valuation_price(fundamentals, line.multiple, line.basis)
        rule = await context.rules.set_analyst_level(line.ticker, line.level, price, line.note, quote, multiple=line.multiple, basis=line.basis)
        done.append(f"{rule.ticker} {rule.level_name} {level_value_text(rule)}")
    lines = tuple(done)
    if lookup.outage is not None:
        lines = (lookup.saved_unverified("the tickers"), *lines)
    return Reply(title=f"Imported {len(done)} level{'s' if len(done) != 1 else ''}", lines=lines,
                 footer="Chats that /watch these tickers hear when the price reaches them.")


class TransferFeature(FeatureDefaults):
    name = "transfer"

    def __init__(self, context: Context) -> None:
        self.context = context

    def commands(self) -> Sequence[Command]:
        return [
            Command("export", "Everything the bot holds (levels, watches, subscriptions, baskets, alerts) as a file", export_command,
                    access=Access.ADMIN,
                    args=(Arg("format", ArgKind.CHOICE, "csv (the default) or json", required=False, choices=("csv", "json")),),
                    examples=("/export", "/export json")),
            Command("import", "Set analyst levels from pasted lines, all or nothing", import_command, access=Access.ADMIN,
                    args=(Arg("lines", ArgKind.TEXT, "TICKER entry|exit|stop PRICE [note], one after another (or send a CSV file)",
                              required=False, rest=True, max_chars=6000),
                          Arg("file", ArgKind.FILE, "A CSV file of levels (ticker,level,price,note)", required=False)),
                    examples=("/import NVDA entry 120 buy the dip AVGO exit pe 45",),
                    details="Each entry is TICKER entry|exit|stop PRICE (or pe N / fpe N) and an optional note; CSV lines "
                            "(ticker,level,price,note) or an /export CSV work too, typed or as a file (a Telegram document with "
                            "/import as its caption, Discord's file option, or /import @FILE on the console). Every entry is checked first: one bad entry "
                            "and nothing is imported, with each problem named."),
        ]


__all__ = ["TransferFeature", "as_csv", "check_entry", "gather", "split_entries"]
