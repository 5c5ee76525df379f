"""Valuation levels: a level set as a multiple of EPS (`pe 45`: 45 x trailing EPS)."""

from __future__ import annotations

from bot.core.market import Fundamentals, clean_price

EPS_BASES = {"pe": "trailing", "fpe": "forward"}  # /setlevel NVDA exit pe 45 | fpe 40


def multiple_of_eps(multiple: float, basis: str, *, trailing_eps: object = None, forward_eps: object = None) -> float | None:
    """multiple x EPS of the basis (trailing for pe, forward for fpe), or None when that EPS is
    missing, non-finite or not positive (a multiple of a loss is no price target)."""
    eps = clean_price(trailing_eps if basis == "pe" else forward_eps)
    return None if eps is None else multiple * eps


def valuation_price(fundamentals: Fundamentals | None, multiple: float, basis: str) -> float | None:
    """A valuation level's price today from the provider's fundamentals; None when it has no
    usable EPS: a valuation level is never guessed."""
    if fundamentals is None:
        return None
    return multiple_of_eps(multiple, basis, trailing_eps=fundamentals.trailing_eps, forward_eps=fundamentals.forward_eps)
