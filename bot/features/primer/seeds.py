"""Primer seed files: one TOML file per ticker, loaded and validated.

The format is described in ``seeds/primers/README.md``. Every problem is reported as one
``PrimerError`` (a ``ValueError``) whose message reads ``"<path>: <field>: <what was expected>"``,
so a typo in a seed file points at the file and the field.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.core.valuation import multiple_of_eps

__all__ = [
    "BASES",
    "LEVEL_NAMES",
    "Primer",
    "PrimerError",
    "PrimerLevel",
    "load_primer",
    "load_primers",
]

TICKER_RE = re.compile(r"^[A-Z0-9.\-^]{1,12}$")
LEVEL_NAMES = ("entry", "exit", "stop")  # also the order of Primer.levels
BASES = ("pe", "fpe")  # pe = trailing EPS, fpe = forward EPS

# Lengths are counted in characters.
MAX_NAME = 80
MAX_SUMMARY = 120
MAX_DESCRIPTION = 600
MAX_VALUATION = 400
MAX_BULLET = 160
MAX_NOTE = 200
MAX_BULLETS = {"thesis": 4, "risks": 3, "catalysts": 3}

REQUIRED = ("ticker", "name", "summary")
TOP_LEVEL_KEYS = frozenset(
    {"ticker", "name", "summary", "description", "updated", "valuation", "levels", *MAX_BULLETS}
)
LEVEL_KEYS = frozenset({"price", "multiple", "basis", "note"})


class PrimerError(ValueError):
    """A primer file is unreadable or invalid. The message names the file and the field."""


@dataclass(frozen=True, slots=True)
class PrimerLevel:
    """One entry / exit / stop level: a fixed price or a valuation multiple of EPS."""

    name: str  # entry | exit | stop
    price: float | None = None
    multiple: float | None = None
    basis: str | None = None  # "pe" (trailing EPS) | "fpe" (forward EPS); set with multiple
    note: str | None = None

    def resolve_price(
        self, *, trailing_eps: float | None = None, forward_eps: float | None = None
    ) -> float | None:
        """The level as a price: the fixed price, or multiple x EPS of the basis.

        None when the EPS it needs is missing, non-finite or not positive (a multiple of
        a loss is no price target).
        """
        if self.price is not None:
            return self.price
        if self.multiple is None or self.basis is None:
            return None
        return multiple_of_eps(self.multiple, self.basis, trailing_eps=trailing_eps, forward_eps=forward_eps)


@dataclass(frozen=True, slots=True)
class Primer:
    """A company (or index) primer as written in its seed file."""

    ticker: str
    name: str
    summary: str
    description: str | None
    updated: date | None
    thesis: tuple[str, ...]
    risks: tuple[str, ...]
    catalysts: tuple[str, ...]
    valuation: str | None
    levels: tuple[PrimerLevel, ...]
    source: Path

    def level(self, name: str) -> PrimerLevel | None:
        """The level called `name` (entry / exit / stop), or None."""
        for level in self.levels:
            if level.name == name:
                return level
        return None


# --------------------------------------------------------------------------- loading


def load_primers(folder: Path | str) -> dict[str, Primer]:
    """Every ``*.toml`` primer in `folder`, keyed by upper-case ticker.

    Files are read in name order. Raises PrimerError for the first invalid file, and when two
    files hold the same ticker. A folder without primer files gives an empty dict.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PrimerError(f"{folder}: folder: expected a directory of primer .toml files")
    primers: dict[str, Primer] = {}
    for path in sorted(folder.glob("*.toml")):
        if not path.is_file():
            continue
        primer = load_primer(path)
        if primer.ticker in primers:
            other = primers[primer.ticker].source
            raise PrimerError(
                f"{path}: ticker: expected a ticker not already used, "
                f"but {primer.ticker!r} is also in {other}"
            )
        primers[primer.ticker] = primer
    return primers


def load_primer(path: Path | str) -> Primer:
    """Read and validate one primer file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise PrimerError(f"{path}: toml: expected valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise PrimerError(f"{path}: toml: expected UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise PrimerError(f"{path}: file: expected a readable file: {exc}") from exc
    return _parse(path, data)


# --------------------------------------------------------------------------- validation


def _parse(path: Path, data: dict[str, Any]) -> Primer:
    def fail(field: str, expected: str) -> PrimerError:
        return PrimerError(f"{path}: {field}: {expected}")

    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        allowed = ", ".join(sorted(TOP_LEVEL_KEYS))
        raise fail(unknown[0], f"unknown key; expected one of {allowed}")
    for field in REQUIRED:
        if field not in data:
            raise fail(field, "required field is missing")

    raw_ticker = _text(data["ticker"], "ticker", 12, fail)
    ticker = raw_ticker.upper()
    if not TICKER_RE.match(ticker):
        raise fail("ticker", f"expected 1-12 characters of A-Z, 0-9, '.', '-' or '^', got {raw_ticker!r}")

    name = _text(data["name"], "name", MAX_NAME, fail)
    summary = _text(data["summary"], "summary", MAX_SUMMARY, fail)
    description = _optional_text(data, "description", MAX_DESCRIPTION, fail)
    valuation = _optional_text(data, "valuation", MAX_VALUATION, fail)

    updated = data.get("updated")
    if updated is not None and (isinstance(updated, datetime) or not isinstance(updated, date)):
        raise fail("updated", f"expected a TOML date such as 2025-01-28 (unquoted), got {updated!r}")

    bullets = {
        field: _bullets(data.get(field, []), field, limit, fail) for field, limit in MAX_BULLETS.items()
    }
    levels = _levels(data.get("levels", {}), fail)

    return Primer(
        ticker=ticker,
        name=name,
        summary=summary,
        description=description,
        updated=updated,
        thesis=bullets["thesis"],
        risks=bullets["risks"],
        catalysts=bullets["catalysts"],
        valuation=valuation,
        levels=levels,
        source=path,
    )


def _text(value: object, field: str, max_len: int, fail: Any) -> str:
    if not isinstance(value, str):
        raise fail(field, f"expected a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise fail(field, "expected a non-empty string")
    if len(text) > max_len:
        raise fail(field, f"expected at most {max_len} characters, got {len(text)}")
    return text


def _optional_text(data: Mapping[str, Any], field: str, max_len: int, fail: Any) -> str | None:
    if field not in data:
        return None
    return _text(data[field], field, max_len, fail)


def _bullets(value: object, field: str, max_items: int, fail: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise fail(field, f"expected a list of strings, got {type(value).__name__}")
    if len(value) > max_items:
        raise fail(field, f"expected at most {max_items} bullets, got {len(value)}")
    return tuple(_text(item, f"{field}[{i}]", MAX_BULLET, fail) for i, item in enumerate(value))


def _number(value: object, field: str, fail: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(field, f"expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise fail(field, f"expected a positive finite number, got {value!r}")
    return number


def _levels(value: object, fail: Any) -> tuple[PrimerLevel, ...]:
    if not isinstance(value, dict):
        raise fail("levels", f"expected a table such as [levels], got {type(value).__name__}")
    unknown = sorted(set(value) - set(LEVEL_NAMES))
    if unknown:
        raise fail(f"levels.{unknown[0]}", f"unknown level; expected one of {', '.join(LEVEL_NAMES)}")

    levels = []
    for name in LEVEL_NAMES:
        if name not in value:
            continue
        spec = value[name]
        where = f"levels.{name}"
        if not isinstance(spec, dict):
            raise fail(where, f"expected a table like {{ price = 120.0 }}, got {type(spec).__name__}")
        bad = sorted(set(spec) - LEVEL_KEYS)
        if bad:
            raise fail(f"{where}.{bad[0]}", f"unknown key; expected one of {', '.join(sorted(LEVEL_KEYS))}")

        has_price, has_multiple = "price" in spec, "multiple" in spec
        if has_price == has_multiple:
            which = "both" if has_price else "neither"
            raise fail(where, f"expected exactly one of price or multiple, got {which}")

        price = multiple = None
        basis = None
        if has_price:
            price = _number(spec["price"], f"{where}.price", fail)
            if "basis" in spec:
                raise fail(f"{where}.basis", "expected basis only with multiple, not with price")
        else:
            multiple = _number(spec["multiple"], f"{where}.multiple", fail)
            if "basis" not in spec:
                raise fail(f"{where}.basis", f"required with multiple; expected one of {', '.join(BASES)}")
            basis = spec["basis"]
            if basis not in BASES:
                raise fail(f"{where}.basis", f"expected one of {', '.join(BASES)}, got {basis!r}")

        note = _text(spec["note"], f"{where}.note", MAX_NOTE, fail) if "note" in spec else None
        levels.append(PrimerLevel(name=name, price=price, multiple=multiple, basis=basis, note=note))
    return tuple(levels)
