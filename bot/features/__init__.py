"""Feature modules that add commands and daily jobs to the app: importing this package
registers each of them with `bot.app.register_feature`."""

from bot.features import primer  # noqa: F401  (registers /primer, the seed levels, valuation refresh)
from bot.features import earnings  # noqa: F401,I001  (registers the earnings commands and daily runs)
from bot.features import baskets  # noqa: F401,I001  (registers the basket commands and their check)
