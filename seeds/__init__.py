"""The data tickerbell ships with: the primer seeds and the demo's prices and chat script.

They are package data, so they travel inside the wheel and are found the same way in a
checkout and in an installed copy. `seeds_path` returns a real filesystem path: a wheel
install is unpacked into site-packages, so `importlib.resources.files("seeds")` is a plain
folder there. Running from a zip (zipimport, a zipapp) is not supported and raises.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def seeds_path(*parts: str) -> Path:
    """The path of a folder or file under the seeds, e.g. `seeds_path("demo", "prices")`."""
    root = files(__name__)
    if not isinstance(root, Path):
        raise RuntimeError(f"tickerbell's seeds are not in a folder ({root!r}); install the wheel unpacked, as pip does")
    return root.joinpath(*parts)
