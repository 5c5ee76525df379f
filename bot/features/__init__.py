"""Features: each package adds commands, daily jobs, quote listeners and alert kinds to the bot
through the seam in `bot.core.feature`. The wiring (`bot.app`) builds them; nothing registers
itself on import.

    primer/    /primer cards, the analyst's seed levels, valuation levels
    earnings/  report dates, reminders and recaps
    baskets/   equal-weight baskets and their sell-offs and drawdowns
    cashtags/  $NVDA in ordinary messages answered with a quote line (per chat, off by default)
    history/   /history: what fired for a member and in a chat, read back from the outbox
    charts/    /chart: candles, volume, moving averages and the analyst's levels as an image
    lifecycle/ members' alerts that expire (/alert ... until DATE, for 5d), removed before the open
    catalysts/ events beyond earnings (/setcatalyst): reminders, the day's note and a recap; in /primer
    digest/    a chat's brief before the open and wrap after the close (/digest)
    transfer/  /export (a CSV or JSON file) and /import (analyst levels, all or nothing)
"""

FEATURE_NAMES = ("primer", "earnings", "baskets", "cashtags", "history", "charts", "lifecycle", "catalysts", "transfer", "digest")  # the order commands appear in /help
