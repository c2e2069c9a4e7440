"""The long-range data: layouts, determinism and the chance baselines the docs state."""

import math

import pytest
import torch

from rnnkit.tasks.longrange.adding import CHANCE_MSE, adding_problem
from rnnkit.tasks.longrange.common import TensorPairs, WindowClassification
from rnnkit.tasks.longrange.copying import copy_task
from rnnkit.tasks.longrange.digits import as_sequences, load_digits_tensors


def gen(seed):
    return torch.Generator().manual_seed(seed)


# -- adding ---------------------------------------------------------------------------------------
def test_adding_layout():
    x, y = adding_problem(500, 30, gen(0))
    assert x.shape == (500, 30, 2) and y.shape == (500,)
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :15].sum(1) == 1).all() and (markers[:, 15:].sum(1) == 1).all()
    torch.testing.assert_close(y, (values * markers).sum(1))


def test_adding_is_seeded():
    a, b, c = (adding_problem(50, 20, gen(s)) for s in (3, 3, 4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_adding_chance_is_one_sixth():
    assert pytest.approx(1 / 6) == CHANCE_MSE
    _, y = adding_problem(200_000, 4, gen(0))
    # predicting the mean 1.0 gives Var(U1 + U2) = 1/6; the standard error here is ~0.0004
    assert ((y - 1.0) ** 2).mean().item() == pytest.approx(1 / 6, abs=0.002)


# -- copy -----------------------------------------------------------------------------------------
def test_copy_layout():
    k, delay, alphabet = 3, 6, 5
    x, y = copy_task(40, k, delay, alphabet, gen(0))
    assert x.shape == (40, 2 * k + delay, alphabet + 2) and y.shape == (40, k)
    codes = x.argmax(-1)
    assert torch.equal(codes[:, :k], y)
    assert (codes[:, k + delay - 1] == alphabet + 1).all()  # the delimiter ends the delay
    blanks = torch.ones(2 * k + delay, dtype=torch.bool)
    blanks[:k] = False
    blanks[k + delay - 1] = False
    assert (codes[:, blanks] == alphabet).all()
    assert (x.sum(-1) == 1).all()  # one-hot


def test_copy_is_seeded():
    assert torch.equal(copy_task(20, 4, 5, 8, gen(1))[0], copy_task(20, 4, 5, 8, gen(1))[0])
    assert not torch.equal(copy_task(20, 4, 5, 8, gen(1))[1], copy_task(20, 4, 5, 8, gen(2))[1])


def test_copy_chance_is_uniform_guessing():
    alphabet, k = 8, 4
    data = TensorPairs(*copy_task(20_000, k, 3, alphabet, gen(0)))

    class KnowsNothing(torch.nn.Module):  # uniform logits at every step
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return torch.zeros(x.shape[0], x.shape[1], alphabet)

    metrics = WindowClassification(window=k).evaluate(KnowsNothing(), data)
    assert metrics["loss"] == pytest.approx(math.log(alphabet))
    # argmax of uniform logits is symbol 0, which is right 1/alphabet of the time
    assert metrics["accuracy"] == pytest.approx(1 / alphabet, abs=0.005)


# -- digits ---------------------------------------------------------------------------------------
def test_digits_read_in_row_major_order():
    images, labels = load_digits_tensors()
    assert images.shape == (1797, 64) and labels.shape == (1797,)
    assert images.min() >= 0 and images.max() <= 1
    rows, pixels = as_sequences(images, 8), as_sequences(images, 64)
    assert rows.shape == (1797, 8, 8) and pixels.shape == (1797, 64, 1)
    assert torch.equal(rows[:, 2], images[:, 16:24])  # step 2 is the third row
    assert torch.equal(pixels[:, 10, 0], images[:, 10])
    with pytest.raises(ValueError, match="length must divide 64"):
        as_sequences(images, 10)


def test_digits_chance_is_ten_percent():
    _, labels = load_digits_tensors()
    shares = torch.bincount(labels, minlength=10) / len(labels)
    # nearly balanced: guessing scores 10%, always answering the most frequent class 10.2%
    assert shares.min() > 0.096 and shares.max() < 0.102
