import pytest
import torch

from rnnkit.patterns import BahdanauAttention, LuongAttention, make_attention

B, S, Q, M = 3, 5, 4, 6
MASK = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)


def inputs():
    torch.manual_seed(0)
    return torch.randn(B, Q, dtype=torch.float64), torch.randn(B, S, M, dtype=torch.float64)


def expected(scores, memory):
    weights = scores.masked_fill(~MASK, float("-inf")).softmax(-1)
    return torch.einsum("bs,bsm->bm", weights, memory), weights


def test_bahdanau_is_additive_attention():
    attention = BahdanauAttention(Q, M, attention_size=7).double()
    query, memory = inputs()
    context, weights = attention(query, attention.prepare(memory), memory, MASK)
    W_q, W_k, b_k = attention.query_proj.weight, attention.key_proj.weight, attention.key_proj.bias
    v = attention.v.weight.view(-1)
    scores = torch.tanh((query @ W_q.T).unsqueeze(1) + memory @ W_k.T + b_k) @ v
    want_context, want_weights = expected(scores, memory)
    assert torch.allclose(weights, want_weights) and torch.allclose(context, want_context)


@pytest.mark.parametrize("score", ["general", "dot"])
def test_luong_is_multiplicative_attention(score):
    query, memory = inputs()
    if score == "dot":
        query = torch.randn(B, M, dtype=torch.float64)
    attention = LuongAttention(query.shape[1], M, score).double()
    context, weights = attention(query, attention.prepare(memory), memory, MASK)
    keys = memory if score == "dot" else memory @ attention.key_proj.weight.T
    want_context, want_weights = expected(torch.einsum("bq,bsq->bs", query, keys), memory)
    assert torch.allclose(weights, want_weights) and torch.allclose(context, want_context)
    assert (weights[~MASK] == 0).all()


@pytest.mark.parametrize("kind", ["bahdanau", "luong", "luong_dot"])
def test_attention_gradients_pass_gradcheck(kind):
    query, memory = inputs()
    query = torch.randn(B, M, dtype=torch.float64, requires_grad=True)
    memory.requires_grad_(True)
    attention = make_attention(kind, M, M).double()

    def run(q, m):
        return attention(q, attention.prepare(m), m, MASK)

    assert torch.autograd.gradcheck(run, (query, memory))


def test_unknown_attention_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'bahdanau', 'luong', 'luong_general', 'luong_dot'"):
        make_attention("cosine", 4, 4)
