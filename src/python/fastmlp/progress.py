"""The per-epoch progress bar of ``fit(verbose=1)``.

The C++ epoch loop calls the bar at most every ``INTERVAL`` seconds (and
after the last step) with its running sums, taking the GIL only for that
call: about 10 short calls a second, far below 1% of an epoch."""

from __future__ import annotations

import sys
import time

INTERVAL = 0.1  # seconds between refreshes
WIDTH = 30  # characters in the bar


def interactive(stream) -> bool:
    """A terminal or a notebook, where a carriage return redraws the line."""
    return bool(getattr(stream, "isatty", lambda: False)()) or "ipykernel" in sys.modules


class ProgressBar:
    """``Epoch 2/5 [=========>....................] 560/1719 - 0.4s - loss: 0.2913 - accuracy: 0.9184``"""

    def __init__(self, epoch: int, epochs: int, with_accuracy: bool, stream=None):
        self.prefix = f"Epoch {epoch + 1}/{epochs}"
        self.with_accuracy = with_accuracy
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.width = 0

    def __call__(self, loss_sum: float, correct: int, count: int, done: int, steps: int) -> None:
        filled = WIDTH * done // steps
        bar = "=" * max(filled - 1, 0) + (">" if filled < WIDTH else "=") + "." * (WIDTH - filled)
        text = (
            f"{self.prefix} [{bar}] {done}/{steps} - {time.perf_counter() - self.start:.1f}s"
            f" - loss: {loss_sum / count:.4f}"
        )
        if self.with_accuracy:
            text += f" - accuracy: {correct / count:.4f}"
        self._write(text)

    def _write(self, text: str) -> None:
        padding = " " * max(self.width - len(text), 0)
        self.stream.write("\r" + text + padding)
        self.stream.flush()
        self.width = len(text)

    def finish(self, summary: str) -> None:
        """Replace the bar with the epoch's summary line."""
        self._write(summary)
        self.stream.write("\n")
        self.stream.flush()
