"""Features: each package adds commands, daily jobs, quote listeners and alert kinds to the bot
through the seam in `bot.core.feature`. The wiring (`bot.app`) builds them; nothing registers
itself on import.

    primer/    /primer cards, the analyst's seed levels, valuation levels
    earnings/  report dates, reminders and recaps
    baskets/   equal-weight baskets and their sell-offs and drawdowns
    digest/    a chat's brief before the open and wrap after the close (/digest)
"""

FEATURE_NAMES = ("primer", "earnings", "baskets", "digest")  # the order commands appear in /help
