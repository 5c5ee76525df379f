"""A numpy implementation of the core's `RuleIndex` port (`bot.core.engine`), injected by the wiring.

The core stays standard-library only: `bot.core.engine.RuleEngine` is the reference, and
`VectorEngine` must give the same verdicts (tests/test_vector_engine.py, and `make bench` on
every cycle).
"""

from bot.vector.engine import VectorEngine

__all__ = ["VectorEngine"]
