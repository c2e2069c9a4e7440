import itertools

import pytest
import torch

import rnnkit as rk
import rnnkit.patterns as rkp


def random_crf(num_tags=3, seed=0):
    torch.manual_seed(seed)
    crf = rkp.LinearChainCRF(num_tags).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def brute_force(crf, emissions, length):
    """Score of every tag sequence of one row, by the definition."""
    scores = {}
    for tags in itertools.product(range(crf.num_tags), repeat=length):
        s = crf.start[tags[0]] + crf.end[tags[-1]]
        s = s + sum(emissions[t, tags[t]] for t in range(length))
        s = s + sum(crf.transitions[tags[t - 1], tags[t]] for t in range(1, length))
        scores[tags] = s
    return scores


def test_crf_partition_viterbi_and_nll_equal_brute_force_enumeration():
    crf = random_crf()
    emissions = torch.randn(3, 4, 3, dtype=torch.float64)
    lengths = torch.tensor([4, 1, 3])
    mask = torch.arange(4).unsqueeze(0) < lengths.unsqueeze(1)
    log_z = crf.log_partition(emissions, mask)
    tags, best = crf.viterbi(emissions, mask)
    gold = torch.randint(0, 3, (3, 4))
    nll = crf.nll(emissions, gold, mask)
    for row, n in enumerate(lengths.tolist()):
        scores = brute_force(crf, emissions[row], n)
        values = torch.stack(list(scores.values()))
        assert torch.allclose(log_z[row], torch.logsumexp(values, 0))
        argmax = max(scores, key=lambda k: scores[k].item())
        assert tags[row, :n].tolist() == list(argmax)
        assert (tags[row, n:] == -100).all()
        assert torch.allclose(best[row], scores[argmax])
        gold_score = scores[tuple(gold[row, :n].tolist())]
        assert torch.allclose(nll[row], torch.logsumexp(values, 0) - gold_score)


def test_crf_nll_gradients_pass_gradcheck():
    crf = random_crf(num_tags=3, seed=1)
    emissions = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    tags = torch.tensor([[0, 2, 1], [1, 1, -100]])
    assert torch.autograd.gradcheck(lambda e: crf.nll(e, tags, mask), (emissions,))


@pytest.mark.parametrize("crf", [False, True])
def test_transducer_outputs_loss_and_decode_ignore_padding(crf):
    torch.manual_seed(0)
    model = rkp.Transducer(rk.LSTM(6, 8, bidirectional=True), 4, crf=crf, embedding=(12, 6))
    tokens = torch.randint(0, 12, (3, 5))
    lengths = torch.tensor([5, 2, 3])
    targets = torch.randint(0, 4, (3, 5))
    scores = model(tokens, lengths)
    assert scores.shape == (3, 5, 4)
    noisy = tokens.clone()
    noisy[1, 2:] = torch.randint(0, 12, (3,))
    noisy_targets = targets.clone()
    noisy_targets[1, 2:] = -100
    assert torch.allclose(model(noisy, lengths)[1, :2], scores[1, :2], atol=1e-6)
    loss = model.loss(tokens, lengths, targets)
    assert torch.allclose(model.loss(noisy, lengths, noisy_targets), loss, atol=1e-6)
    loss.backward()
    decoded = model.decode(tokens, lengths)
    assert decoded.shape == (3, 5) and (decoded[1, 2:] == -100).all()
    assert ((decoded[0] >= 0) & (decoded[0] < 4)).all()
    with pytest.raises(ValueError, match="targets must have shape"):
        model.loss(tokens, lengths, targets[:, :4])


def test_crf_transducer_learns_a_tagging_that_needs_the_previous_tag(single_thread):
    """Tag = 1 iff the token equals the previous token: needs context, a CRF helps consistency."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = rkp.Transducer(rk.GRU(4, 16, bidirectional=True), 2, crf=True, embedding=(3, 4))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)

    def data(rows, gen):
        tokens = torch.randint(0, 3, (rows, 8), generator=gen)
        tags = torch.zeros_like(tokens)
        tags[:, 1:] = (tokens[:, 1:] == tokens[:, :-1]).long()
        return tokens, torch.full((rows,), 8), tags

    for _ in range(120):
        tokens, lengths, tags = data(32, generator)
        loss = model.loss(tokens, lengths, tags)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    tokens, lengths, tags = data(500, torch.Generator().manual_seed(1))
    with torch.no_grad():
        accuracy = (model.decode(tokens, lengths) == tags).float().mean().item()
    assert accuracy >= 0.98
