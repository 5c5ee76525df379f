"""The few settings the core reads, as one small value built by the wiring from the config.

The core never sees the whole configuration (tokens, URLs, file paths are the edges' business).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Settings:
    admins: frozenset[str] = frozenset()  # "platform:user_id"; empty admits nobody
    max_alerts_per_user: int = 50
    rearm_band_pct: float = 1.0
    selloff_pct: float = 5.0  # a watched ticker falling this much in a day alerts the chat
    drawdown_pct: float = 20.0  # ... or this much from its 52-week high
    answer_within_seconds: float = 5.0  # an interactive command waits this long for the data provider
    look_back: bool = True  # /alert's reply includes the three-year look-back (/alert ... preview always does)

    def is_admin(self, user_key: str) -> bool:
        return user_key in self.admins
