"""``Tree``: the input of recursive networks, and ``TreeBatch``: a batch flattened by height."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

_TOKEN = re.compile(r"\(|\)|[^\s()]+")


@dataclass(frozen=True)
class Tree:
    """A node: a leaf carries a ``token``; an internal node has ``children``; any node may have a
    ``label`` (a constituent name, a sentiment class ...).

    Build one from nested tuples, ``Tree.from_nested((("a", "dog"), "sleeps"))``, or from a
    bracketed string, ``Tree.parse("(S (NP a dog) (VP sleeps))")`` (the first symbol after "("
    is the label) or ``Tree.parse("((a dog) sleeps)", labeled=False)`` (every symbol is a leaf).
    """

    token: Any = None
    children: tuple[Tree, ...] = ()
    label: Any = None
    height: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if bool(self.children) == (self.token is not None):
            raise ValueError("Tree: a node has either a token (a leaf) or children, not both")
        height = 1 + max(c.height for c in self.children) if self.children else 0
        object.__setattr__(self, "height", height)

    @property
    def is_leaf(self) -> bool:
        return not self.children

    @classmethod
    def from_nested(cls, nested) -> Tree:
        """A tuple (or list) is an internal node of its elements; anything else is a leaf token."""
        if isinstance(nested, Tree):
            return nested
        if isinstance(nested, (tuple, list)):
            if not nested:
                raise ValueError("Tree.from_nested: an empty tuple is not a tree")
            return cls(children=tuple(cls.from_nested(child) for child in nested))
        return cls(token=nested)

    @classmethod
    def parse(cls, text: str, labeled: bool = True) -> Tree:
        """Read a bracketed tree such as ``"(S (NP a dog) (VP sleeps))"``. With ``labeled=True``
        a symbol right after "(" that is followed by more is the node's label (Penn Treebank
        style); with ``labeled=False`` every symbol is a leaf token."""
        tokens = _TOKEN.findall(text)
        if not tokens:
            raise ValueError("Tree.parse: empty string")
        tree, end = cls._parse_at(tokens, 0, text, labeled)
        if end != len(tokens):
            raise ValueError(f"Tree.parse: unexpected {tokens[end]!r} after the tree in {text!r}")
        return tree

    @classmethod
    def _parse_at(cls, tokens: list[str], i: int, text: str, labeled: bool) -> tuple[Tree, int]:
        if tokens[i] == ")":
            raise ValueError(f"Tree.parse: unbalanced ')' in {text!r}")
        if tokens[i] != "(":
            return cls(token=tokens[i]), i + 1
        i += 1
        label = None
        if labeled and i + 1 < len(tokens) and tokens[i] not in "()" and tokens[i + 1] != ")":
            label, i = tokens[i], i + 1  # "(LABEL child ...)": a symbol followed by more
        children = []
        while i < len(tokens) and tokens[i] != ")":
            child, i = cls._parse_at(tokens, i, text, labeled)
            children.append(child)
        if i == len(tokens):
            raise ValueError(f"Tree.parse: missing ')' in {text!r}")
        if not children:
            raise ValueError(f"Tree.parse: empty brackets in {text!r}")
        return cls(children=tuple(children), label=label), i + 1

    def leaves(self) -> list[Any]:
        """The tokens, left to right."""
        return [self.token] if self.is_leaf else [t for c in self.children for t in c.leaves()]

    def postorder(self) -> list[Tree]:
        """Every node, children before their parent, the root last."""
        return [n for c in self.children for n in c.postorder()] + [self]

    def __str__(self) -> str:
        if self.is_leaf:
            return str(self.token)
        inner = " ".join(str(c) for c in self.children)
        return f"({self.label} {inner})" if self.label is not None else f"({inner})"


@dataclass
class TreeBatch:
    """A batch of trees as flat node arrays, ordered by height (all leaves first, then every node of
    height 1, ...), so that one batched call computes a whole level from the levels below.

    * ``tokens (N,)``: token id of each node, -1 where it has none (internal nodes);
    * ``children (N, K)``: flat indices of each node's children in order, -1 for none (K = the
      largest number of children);
    * ``levels``: ``(start, end)`` of each height's contiguous slice;
    * ``roots (B,)``: the root of each tree; ``nodes``: each tree's flat indices in post-order;
    * ``labels (N,)``: node label ids (-100 where a node has none), when ``label_to_id`` was given;
    * ``features (N, F)``: when the leaves carry feature vectors (tensors) instead of tokens, those
      vectors (zeros for internal nodes); ``tokens`` is then 0 at leaves.
    """

    tokens: Tensor
    children: Tensor
    levels: list[tuple[int, int]]
    roots: Tensor
    nodes: list[Tensor]
    labels: Tensor | None = None
    features: Tensor | None = None

    @classmethod
    def from_trees(
        cls,
        trees: Sequence[Tree],
        token_to_id: Mapping | Callable | None = None,
        label_to_id: Mapping | Callable | None = None,
        device: torch.device | None = None,
    ) -> TreeBatch:
        """``token_to_id`` maps a leaf's token to its id (a dict or a function; None: tokens are
        already ints, or feature vectors); ``label_to_id`` likewise for node labels (None: no
        labels)."""
        if not trees or not all(isinstance(t, Tree) for t in trees):
            raise TypeError("TreeBatch.from_trees: give a non-empty sequence of Tree")
        per_tree = [t.postorder() for t in trees]
        flat = [(height_key, b, i) for b, nodes in enumerate(per_tree)
                for i, height_key in enumerate(n.height for n in nodes)]  # fmt: skip
        flat.sort()  # by height, then tree, then post-order: children always come earlier
        position = {(b, i): p for p, (_, b, i) in enumerate(flat)}
        ids = {
            id(n): position[(b, i)] for b, nodes in enumerate(per_tree) for i, n in enumerate(nodes)
        }
        ordered = [per_tree[b][i] for _, b, i in flat]
        arity = max(len(n.children) for n in ordered) or 1
        leaves = [n for n in ordered if n.is_leaf]
        features = None
        if token_to_id is None and all(isinstance(n.token, Tensor) for n in leaves):
            features = _leaf_features(ordered, device)
            tokens = [0 if n.is_leaf else -1 for n in ordered]
        else:
            tokens = [_lookup(token_to_id, n.token, "token") if n.is_leaf else -1 for n in ordered]
        children = [[ids[id(c)] for c in n.children] + [-1] * (arity - len(n.children))
                    for n in ordered]  # fmt: skip
        heights = [h for h, _, _ in flat]
        levels = []
        for p, h in enumerate(heights):
            if p == 0 or h != heights[p - 1]:
                levels.append([p, p + 1])
            else:
                levels[-1][1] = p + 1
        labels = None
        if label_to_id is not None:
            labels = torch.tensor(
                [
                    -100 if n.label is None else _lookup(label_to_id, n.label, "label")
                    for n in ordered
                ],
                device=device,
            )
        long = {"dtype": torch.long, "device": device}
        return cls(
            tokens=torch.tensor(tokens, **long),
            children=torch.tensor(children, **long),
            levels=[tuple(level) for level in levels],
            roots=torch.tensor([ids[id(t)] for t in trees], **long),
            nodes=[torch.tensor([ids[id(n)] for n in nodes], **long) for nodes in per_tree],
            labels=labels,
            features=features,
        )

    @property
    def arity(self) -> int:
        return self.children.shape[1]


def _leaf_features(ordered: list[Tree], device) -> Tensor:
    """Leaf vectors stacked in node order, zero rows for internal nodes."""
    shapes = {tuple(n.token.shape) for n in ordered if n.is_leaf}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise ValueError(
            f"TreeBatch: leaf feature vectors must all have one shape (F,), got {shapes}"
        )
    template = next(n.token for n in ordered if n.is_leaf)
    zero = torch.zeros_like(template)
    return torch.stack([n.token if n.is_leaf else zero for n in ordered]).to(device)


def _lookup(table, key, what: str) -> int:
    if table is None:
        if isinstance(key, bool) or not isinstance(key, int):
            raise TypeError(f"TreeBatch: {what} {key!r} is not an int id; give {what}_to_id")
        return key
    try:
        return int(table(key) if callable(table) else table[key])
    except KeyError as err:
        raise KeyError(f"TreeBatch: {what} {key!r} is not in {what}_to_id") from err
