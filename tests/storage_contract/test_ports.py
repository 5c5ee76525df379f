"""Both backends meet every storage port: the same methods, parameters and async-ness as `bot.core.ports` declares."""

from __future__ import annotations

import inspect

from storage.factory import AnyStorage
from tests.test_storage import PORTS, declared_methods, shape


async def test_every_storage_port_is_met(storage: AnyStorage) -> None:
    for attribute, protocol in PORTS.items():
        store = getattr(storage, attribute)
        for name, declared in declared_methods(protocol).items():
            implemented = getattr(store, name, None)
            assert implemented is not None and callable(implemented), f"storage.{attribute} has no {name}() of {protocol.__name__}"
            assert shape(implemented, drop_self=False) == shape(declared, drop_self=True), f"storage.{attribute}.{name} differs from {protocol.__name__}.{name}"
            assert inspect.iscoroutinefunction(implemented) == inspect.iscoroutinefunction(declared)
    assert inspect.iscoroutinefunction(storage.close)
