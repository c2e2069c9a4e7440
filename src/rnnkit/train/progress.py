"""The tqdm progress bar: loss, items/s and ETA, only where a human is watching."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


class Progress:
    """A progress bar over steps; silent unless enabled, on rank 0, and stderr is a TTY."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self._bar = tqdm(
            total=total,
            initial=initial,
            unit="step",
            dynamic_ncols=True,
            disable=not (enabled and sys.stderr.isatty()),
        )

    def update(self, loss: float, items_per_s: float) -> None:
        self._bar.set_postfix(loss=f"{loss:.4g}", items_s=f"{items_per_s:.0f}", refresh=False)
        self._bar.update(1)

    def write(self, message: str) -> None:
        """Print a message without breaking the bar."""
        self._bar.write(message, file=sys.stderr)

    def close(self) -> None:
        self._bar.close()
