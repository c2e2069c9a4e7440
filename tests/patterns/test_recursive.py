import random

import pytest
import torch
from torch.nn import functional as F

import rnnkit.patterns as rkp
from rnnkit.patterns import Tree, TreeBatch

CELLS = {
    "elman": lambda: rkp.RecursiveRNNCell(4, 5),
    "childsum": lambda: rkp.ChildSumTreeLSTMCell(4, 5),
    "binary": lambda: rkp.NaryTreeLSTMCell(4, 5),
}
TREES = [
    "(S (NP a dog) (VP sleeps))",
    "(S (NP the (ADJ big cat)) (VP (V sees) (NP a dog)))",
    "(X dog)",
    "cat",
]
VOCAB = {w: i for i, w in enumerate(["a", "dog", "sleeps", "the", "big", "cat", "sees"])}


def reference_state(model, tree):
    """One node at a time, recursively: the definition the batched levels must equal."""
    cell = model.cell
    states = [reference_state(model, child) for child in tree.children]
    width = cell.arity or max(len(states), 1)
    zero = torch.zeros(1, cell.hidden_size, dtype=model.embedding.weight.dtype)
    if cell.lstm:
        hs = [s[0] for s in states] + [zero] * (width - len(states))
        cs = [s[1] for s in states] + [zero] * (width - len(states))
        children = (torch.stack(hs, 1), torch.stack(cs, 1))
    else:
        children = torch.stack(states + [zero] * (width - len(states)), 1)
    if tree.is_leaf:
        x = model.embedding(torch.tensor([VOCAB[tree.token]]))
    else:
        x = torch.zeros(1, cell.input_size, dtype=zero.dtype)
    return cell(x, children)


def hidden(state):
    return state[0] if isinstance(state, tuple) else state


@pytest.mark.parametrize("kind", CELLS)
def test_batched_levels_equal_the_per_node_recursion_in_values_and_gradients(kind):
    torch.manual_seed(0)
    trees = [Tree.parse(t) for t in TREES]
    if kind == "childsum":  # child-sum takes any number of children: add a ternary node
        trees.append(Tree.from_nested(("a", "dog", ("big", "cat", "sees"))))
    model = rkp.Recursive(CELLS[kind](), embedding=(len(VOCAB), 4), token_to_id=VOCAB).double()
    out = model(trees)
    loss = (out.roots**2).sum() + out.nodes.sin().sum()
    batched_grads = torch.autograd.grad(loss, list(model.parameters()))

    ref_roots, ref_nodes = [], []
    for tree in trees:
        ref_roots.append(hidden(reference_state(model, tree)))
        ref_nodes += [hidden(reference_state(model, node)) for node in tree.postorder()]
    ref_roots, ref_nodes = torch.cat(ref_roots), torch.cat(ref_nodes)
    ref_loss = (ref_roots**2).sum() + ref_nodes.sin().sum()
    ref_grads = torch.autograd.grad(ref_loss, list(model.parameters()))

    assert torch.allclose(out.roots, ref_roots, atol=1e-12)
    in_postorder = torch.cat([out.nodes[idx] for idx in out.batch.nodes])
    assert torch.allclose(in_postorder, ref_nodes, atol=1e-12)
    for got, want in zip(batched_grads, ref_grads, strict=True):
        assert torch.allclose(got, want, atol=1e-10)


def test_one_cell_call_per_height_not_per_node():
    calls = []
    cell = rkp.NaryTreeLSTMCell(4, 5)
    cell.register_forward_hook(lambda *_: calls.append(1))
    model = rkp.Recursive(cell, embedding=(len(VOCAB), 4), token_to_id=VOCAB)
    trees = [Tree.parse(t) for t in TREES]
    model(trees)
    assert len(calls) == max(t.height for t in trees) + 1


def test_tree_construction_and_parsing():
    tree = Tree.parse("(S (NP a dog) (VP sleeps))")
    assert tree.label == "S" and tree.leaves() == ["a", "dog", "sleeps"]
    assert [n.label for n in tree.postorder() if not n.is_leaf] == ["NP", "VP", "S"]
    assert str(tree) == "(S (NP a dog) (VP sleeps))" and tree.height == 2
    assert Tree.parse("((a dog) sleeps)", labeled=False) == Tree.from_nested(
        (("a", "dog"), "sleeps")
    )
    for bad in ["(S (NP a dog)", "(S a))", "()", ""]:
        with pytest.raises(ValueError, match=r"Tree\.parse"):
            Tree.parse(bad)
    with pytest.raises(ValueError, match="either a token"):
        Tree(token="a", children=(Tree(token="b"),))


def test_tree_batch_orders_nodes_by_height_with_children_first():
    batch = TreeBatch.from_trees([Tree.from_nested(((1, 2), 3)), Tree.from_nested((4, 5))])
    assert batch.levels == [(0, 5), (5, 7), (7, 8)]
    for parent, kids in enumerate(batch.children.tolist()):
        assert all(k < parent for k in kids)
    assert batch.tokens[batch.roots].tolist() == [-1, -1]
    with pytest.raises(KeyError, match="'zebra' is not in token_to_id"):
        TreeBatch.from_trees([Tree(token="zebra")], token_to_id=VOCAB)


def test_binary_cells_reject_wider_nodes():
    model = rkp.Recursive(rkp.NaryTreeLSTMCell(4, 5), embedding=(3, 4))
    with pytest.raises(ValueError, match="at most 2"):
        model([Tree.from_nested((0, 1, 2))])


def random_sum_tree(rng, depth):
    if depth == 0 or rng.random() < 0.3:
        return Tree(token=rng.randrange(5))
    return Tree(children=(random_sum_tree(rng, depth - 1), random_sum_tree(rng, depth - 1)))


def test_binary_tree_lstm_learns_sums_modulo_five(single_thread):
    """Arithmetic over trees: the root must output (sum of the leaf digits) mod 5."""
    torch.manual_seed(0)
    rng = random.Random(0)
    model = rkp.Recursive(rkp.NaryTreeLSTMCell(8, 32), embedding=(5, 8))
    head = torch.nn.Linear(32, 5)
    params = [*model.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=0.02)

    def data(n, r):
        trees = [random_sum_tree(r, 3) for _ in range(n)]
        return trees, torch.tensor([sum(t.leaves()) % 5 for t in trees])

    for _ in range(300):
        trees, labels = data(32, rng)
        loss = F.cross_entropy(head(model(trees).roots), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    trees, labels = data(500, random.Random(1))
    with torch.no_grad():
        accuracy = (head(model(trees).roots).argmax(1) == labels).float().mean().item()
    assert accuracy >= 0.95


def test_leaves_may_carry_feature_vectors_instead_of_tokens():
    torch.manual_seed(0)
    by_id = rkp.Recursive(rkp.ChildSumTreeLSTMCell(4, 5), embedding=(len(VOCAB), 4),
                          token_to_id=VOCAB)  # fmt: skip
    by_vector = rkp.Recursive(by_id.cell)
    table = by_id.embedding.weight.detach()
    trees = [Tree.parse(t) for t in TREES]

    def with_vectors(tree):
        if tree.is_leaf:
            return Tree(token=table[VOCAB[tree.token]])
        return Tree(children=tuple(with_vectors(c) for c in tree.children), label=tree.label)

    expected = by_id(trees).roots
    assert torch.allclose(by_vector([with_vectors(t) for t in trees]).roots, expected)
    with pytest.raises(ValueError, match="carry feature vectors"):
        by_vector([Tree.from_nested((0, 1))])
