from collections import namedtuple

import torch

from rnnkit.decoding import map_state, reorder_state, repeat_state

Pair = namedtuple("Pair", "h c")


def nested_state():
    return {
        "cells": (torch.arange(3.0).view(3, 1), Pair(torch.arange(6).view(3, 2), torch.ones(3))),
        "mask": torch.tensor([True, False, True]),
        "none": None,
        "list": [torch.arange(3)],
        "name": "kept",
    }


def test_reorder_state_selects_rows_of_every_tensor_and_keeps_structure():
    state = reorder_state(nested_state(), torch.tensor([2, 2, 0]))
    assert state["cells"][0].view(-1).tolist() == [2.0, 2.0, 0.0]
    assert isinstance(state["cells"][1], Pair)
    assert state["cells"][1].h.tolist() == [[4, 5], [4, 5], [0, 1]]
    assert state["mask"].tolist() == [True, True, True]
    assert state["list"][0].tolist() == [2, 2, 0]
    assert state["none"] is None and state["name"] == "kept"


def test_repeat_state_keeps_the_beams_of_a_row_contiguous():
    state = repeat_state(nested_state(), 2)
    assert state["list"][0].tolist() == [0, 0, 1, 1, 2, 2]
    assert state["cells"][1].c.shape == (6,)


def test_map_state_applies_to_tensors_only():
    doubled = map_state(lambda t: t * 2, nested_state())
    assert doubled["list"][0].tolist() == [0, 2, 4]
    assert doubled["name"] == "kept"
