"""The benchmark's memory measure counts what a training step holds, exactly."""

from __future__ import annotations

import torch

from benchmarks.measure import tensor_peak_mb


class Allocates:
    """A stand-in for a benchmark case whose training step holds known tensors."""

    def __init__(self, *mebibytes: int) -> None:
        self.sizes = [m * 2**20 // 4 for m in mebibytes]  # float32 elements

    def train_step(self) -> None:
        held = []
        for size in self.sizes:
            held.append(torch.ones(size))  # written, as a real step writes its buffers
        del held


def test_tensor_peak_is_the_most_memory_alive_at_once():
    assert abs(tensor_peak_mb(Allocates(8)) - 8.0) < 0.1
    assert abs(tensor_peak_mb(Allocates(8, 4, 2)) - 14.0) < 0.1  # all three alive at the end


def test_tensor_peak_sees_a_step_that_frees_as_it_goes():
    class Sequential(Allocates):
        def train_step(self) -> None:
            for size in self.sizes:
                torch.ones(size)  # freed at once: never two alive together

    assert abs(tensor_peak_mb(Sequential(8, 4, 2)) - 8.0) < 0.1
