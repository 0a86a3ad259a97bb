"""bench/ at the END of sys.path, never in front.

Python puts a script's own folder first on sys.path, so a file in bench/
named like a standard module (a bench/profile.py once did: cProfile, which
PyTorch imports lazily, got it instead of the standard ``profile``) would
shadow that module in every benchmark process. run.py moves its folder
to the end before importing anything else; ``demote()`` does it again after
importing a bench script that puts the folder back in front itself
(optimizer_step.py does).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def demote() -> None:
    """Move every sys.path entry naming bench/ (or "", the current folder, when
    that is bench/) to the end, once."""

    def is_bench(entry: str) -> bool:
        return os.path.abspath(entry or os.curdir) == HERE

    kept = [entry for entry in sys.path if not is_bench(entry)]
    sys.path[:] = kept + [HERE]
