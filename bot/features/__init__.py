"""Features: each package adds commands, daily jobs, quote listeners and alert kinds to the bot
through the seam in `bot.core.feature`. The wiring (`bot.app`) builds them; nothing registers
itself on import.

    primer/    /primer cards, the analyst's seed levels, valuation levels
    earnings/  report dates, reminders and recaps
    baskets/   equal-weight baskets and their sell-offs and drawdowns
    cashtags/  $NVDA in ordinary messages answered with a quote line (per chat, off by default)
"""

FEATURE_NAMES = ("primer", "earnings", "baskets", "cashtags")  # the order commands appear in /help
