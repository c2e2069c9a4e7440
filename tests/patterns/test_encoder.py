import pytest
import torch
from torch import nn

import rnnkit as rk
import rnnkit.patterns as rkp


def padded_batch(seed=0, rows=4, steps=6, features=3):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, steps, features, generator=generator)
    lengths = torch.tensor([6, 2, 4, 1])
    return x, lengths


def with_noise_past(x, lengths, seed=5):
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)) * 10
    past = (torch.arange(x.shape[1]).unsqueeze(0) >= lengths.unsqueeze(1)).unsqueeze(2)
    return torch.where(past, noise, x)


@pytest.mark.parametrize("pooling", rkp.POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_changes_the_vector(pooling, bidirectional):
    torch.manual_seed(0)
    encoder = rkp.SequenceEncoder(rk.LSTM(3, 5, bidirectional=bidirectional), pooling=pooling)
    x, lengths = padded_batch()
    vectors = encoder(x, lengths)
    assert vectors.shape == (4, 10 if bidirectional else 5)
    assert torch.allclose(encoder(with_noise_past(x, lengths), lengths), vectors, atol=1e-6)
    for row in range(4):
        alone = encoder(x[row : row + 1, : lengths[row]])
        assert torch.allclose(alone[0], vectors[row], atol=1e-6)


def test_pooled_vectors_match_their_definitions():
    torch.manual_seed(0)
    rnn = rk.GRU(3, 5, bidirectional=True)
    x, lengths = padded_batch()
    outputs, _ = rnn(x, lengths)
    pooled = {p: rkp.SequenceEncoder(rnn, pooling=p)(x, lengths) for p in ("last", "mean", "max")}
    for row, n in enumerate(lengths.tolist()):
        real = outputs[row, :n]
        # last = forward direction at the last step, backward direction at step 0
        assert torch.allclose(pooled["last"][row], torch.cat([real[-1, :5], real[0, 5:]]))
        assert torch.allclose(pooled["mean"][row], real.mean(0), atol=1e-6)
        assert torch.equal(pooled["max"][row], real.max(0).values)


def test_attention_pooling_weights_are_a_distribution_over_real_steps():
    torch.manual_seed(0)
    encoder = rkp.SequenceEncoder(rk.RNN(3, 4), pooling="attention")
    x, lengths = padded_batch()
    _, weights = encoder(x, lengths, return_attention=True)
    padding = torch.arange(6).unsqueeze(0) >= lengths.unsqueeze(1)
    assert (weights[padding] == 0).all()
    assert torch.allclose(weights.sum(1), torch.ones(4))


def test_acceptor_with_embeddings_and_feature_extractors():
    torch.manual_seed(0)
    tokens = torch.randint(0, 10, (4, 6))
    lengths = torch.tensor([6, 2, 4, 1])
    by_pair = rkp.Acceptor(rk.LSTM(8, 5), 3, embedding=(10, 8))
    by_module = rkp.Acceptor(rk.LSTM(8, 5), 3, embedding=nn.Embedding(10, 8), pooling="max")
    assert by_pair(tokens, lengths).shape == (4, 3) == by_module(tokens, lengths).shape
    extractor = nn.Sequential(nn.Linear(7, 8), nn.ReLU())  # e.g. per-frame features
    assert rkp.Acceptor(rk.GRU(8, 5), 2, embedding=extractor)(torch.randn(4, 6, 7)).shape == (4, 2)


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match=r"pooling must be one of \('last'"):
        rkp.Acceptor(rk.LSTM(3, 4), 2, pooling="sum")
    with pytest.raises(TypeError, match="embedding must be"):
        rkp.Acceptor(rk.LSTM(3, 4), 2, embedding=10)
    with pytest.raises(TypeError, match="rnn must be a recurrent layer"):
        rkp.Acceptor(nn.Linear(3, 4), 2)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 10\)"):
        rkp.Acceptor(rk.LSTM(8, 4), 2, embedding=(10, 8))(torch.tensor([[3, 12]]))
    with pytest.raises(ValueError, match="needs pooling='attention'"):
        rkp.SequenceEncoder(rk.LSTM(3, 4))(torch.randn(1, 2, 3), return_attention=True)
