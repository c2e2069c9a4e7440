"""``Recursive``: a tree-structured network computed level by level over a batch of trees."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from .inputs import make_input_module
from .tree import Tree, TreeBatch


class TreeStates(NamedTuple):
    """Hidden states of every node ``(N, H)`` in the batch's flat order (``batch.nodes[b]`` lists
    tree b's nodes in post-order), of every root ``(B, H)``, and the batch itself."""

    nodes: Tensor
    roots: Tensor
    batch: TreeBatch


class Recursive(nn.Module):
    r"""A recursive network: each node's state is composed from its children's,
    :math:`h_j = \mathrm{cell}(x_j, \{h_k : k \in \mathrm{children}(j)\})`, up to the root.

    The trees of a batch are flattened into node arrays ordered by height (see
    :class:`~rnnkit.patterns.tree.TreeBatch`); every height is then one batched cell call over all
    its nodes of all trees, with the children's states gathered by index, so the cost in Python
    calls is the height of the tallest tree, not the number of nodes.

    Args:
        cell: :class:`RecursiveRNNCell`, :class:`ChildSumTreeLSTMCell`, :class:`NaryTreeLSTMCell`
            (or any module with their ``forward(x, children)``, ``hidden_size``, ``lstm`` and
            ``arity`` attributes).
        embedding: ``nn.Embedding`` or ``(vocab_size, embed_dim)`` for leaf tokens (ids), or None
            when the leaves carry feature vectors ``(input_size,)`` (e.g. from another network);
            nodes without a token get a zero input.
        token_to_id, label_to_id: used when ``forward`` is given a list of :class:`Tree`.

    ``forward(trees)`` takes a list of :class:`Tree` or a :class:`TreeBatch` and returns
    :class:`TreeStates` ``(nodes (N, H), roots (B, H), batch)``; put a linear layer on ``roots``
    for a label per tree or on ``nodes`` for a label per node.
    """

    def __init__(self, cell: nn.Module, embedding=None, token_to_id=None, label_to_id=None):
        super().__init__()
        self.cell = cell
        self.embedding = make_input_module(embedding, "Recursive")
        if self.embedding is not None and not isinstance(self.embedding, nn.Embedding):
            raise TypeError("Recursive: embedding must be None, an nn.Embedding or (vocab, dim)")
        if self.embedding is not None and self.embedding.embedding_dim != cell.input_size:
            raise ValueError(
                f"Recursive: embedding dim {self.embedding.embedding_dim} != the cell's "
                f"input_size {cell.input_size}"
            )
        self.token_to_id, self.label_to_id = token_to_id, label_to_id

    def batch(self, trees: list[Tree]) -> TreeBatch:
        device = next(self.cell.parameters()).device
        return TreeBatch.from_trees(trees, self.token_to_id, self.label_to_id, device=device)

    def forward(self, trees: list[Tree] | TreeBatch) -> TreeStates:
        batch = trees if isinstance(trees, TreeBatch) else self.batch(trees)
        arity = getattr(self.cell, "arity", None)
        if arity is not None and batch.arity > arity:
            raise ValueError(
                f"Recursive: a node has {batch.arity} children but the cell takes at most {arity}"
            )
        x = self._node_inputs(batch)
        width = arity or batch.arity
        children = batch.children
        if children.shape[1] < width:  # the cell expects exactly `arity` child slots
            children = nn.functional.pad(children, (0, width - children.shape[1]), value=-1)

        size = self.cell.hidden_size
        zero = x.new_zeros(1, size)  # row 0 of the table stands for "no child"
        h_levels, c_levels = [zero], [zero]
        for start, end in batch.levels:
            h_table = torch.cat(h_levels)  # nodes of lower levels, shifted by the zero row
            rows = children[start:end] + 1
            child_h = h_table[rows]
            if self.cell.lstm:
                state = self.cell(x[start:end], (child_h, torch.cat(c_levels)[rows]))
                h_levels.append(state[0])
                c_levels.append(state[1])
            else:
                h_levels.append(self.cell(x[start:end], child_h))
        nodes = torch.cat(h_levels[1:])
        return TreeStates(nodes=nodes, roots=nodes[batch.roots], batch=batch)

    def _node_inputs(self, batch: TreeBatch) -> Tensor:
        """``(N, input_size)``: embedded tokens or given leaf vectors, zeros for the other nodes."""
        if self.embedding is None:
            if batch.features is None:
                raise ValueError(
                    "Recursive without an embedding needs leaves that carry feature vectors"
                )
            if batch.features.shape[1] != self.cell.input_size:
                raise ValueError(
                    f"Recursive: leaf vectors have {batch.features.shape[1]} features, the cell's "
                    f"input_size is {self.cell.input_size}"
                )
            return batch.features
        has_token = (batch.tokens >= 0).unsqueeze(1)
        return self.embedding(batch.tokens.clamp(min=0)) * has_token
