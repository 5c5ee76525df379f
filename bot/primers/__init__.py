"""Company primers: seed files (`bot.primers.seeds`) and the price chart (`bot.primers.chart`).

The chart module is not imported here, so loading primers does not pull in matplotlib.
"""

from bot.primers.seeds import Primer, PrimerError, PrimerLevel, load_primer, load_primers

__all__ = ["Primer", "PrimerError", "PrimerLevel", "load_primer", "load_primers"]
