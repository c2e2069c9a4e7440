"""Stopping a run cleanly: Ctrl-C (or SIGTERM) asks the Trainer to stop after the current step.

Without this, Ctrl-C raises KeyboardInterrupt wherever the program happens to be, and a resumed
run restarts from the last periodic checkpoint, losing the steps since (on the transliteration
task's ``full`` preset, up to 1,000 steps: a quarter of an hour on two CPU cores). With it, the
first signal only sets a flag: the Trainer finishes its step, writes a checkpoint of exactly that
step and raises :class:`TrainingInterrupted`. A second signal interrupts at once, as usual.

The handlers are installed only while the training loop runs, only in the main thread (the only
one that receives signals), and only over Python's own defaults, so a handler the program set
itself is left alone.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType, TracebackType

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_DEFAULTS = (signal.default_int_handler, signal.SIG_DFL)


class TrainingInterrupted(KeyboardInterrupt):
    """The run stopped on a signal after step `step`, saved in `checkpoint` (resume from it)."""

    def __init__(self, step: int, checkpoint: Path) -> None:
        super().__init__(f"training stopped after step {step}; checkpoint: {checkpoint}")
        self.step = step
        self.checkpoint = checkpoint


class StopRequests:
    """A context manager that turns the first SIGINT/SIGTERM into a request to stop.

    ``requested`` holds the signal's name once one has arrived (None before). ``enabled=False``
    (e.g. under data parallelism, where all ranks must stop at the same step) installs nothing.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested: str | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopRequests:
        if self.enabled:
            for signum in _SIGNALS:
                current = signal.getsignal(signum)
                if current in _DEFAULTS:
                    self._previous[signum] = current
                    signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:  # the second one: stop now, without a checkpoint
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        print(
            f"\n{self.requested}: stopping after this step and saving a checkpoint "
            "(again to stop at once, losing the steps since the last checkpoint)",
            file=sys.stderr,
            flush=True,
        )
