"""Ensemble: trained generators decoded as one model."""

import pytest
import torch

import rnnkit as rk
import rnnkit.patterns as rkp

PAD, BOS, EOS = 0, 1, 2


def seq2seq(seed, cell="lstm", attention="luong", hidden_size=12, tgt_vocab=11, bos_id=BOS):
    torch.manual_seed(seed)
    model = rkp.Seq2Seq(
        src_vocab=9, tgt_vocab=tgt_vocab, embed_dim=8, hidden_size=hidden_size, cell=cell,
        bidirectional=True, attention=attention, pad_id=PAD, bos_id=bos_id, eos_id=EOS,
    )  # fmt: skip
    with torch.no_grad():  # sharp, disagreeing members: the average decides differently
        model.decoder.out.weight.mul_(4.0)
    return model.eval()


def source(rows=6, steps=7):
    generator = torch.Generator().manual_seed(1)
    lengths = torch.randint(1, steps + 1, (rows,), generator=generator)
    return torch.randint(3, 9, (rows, steps), generator=generator), lengths


def test_greedy_ensemble_of_different_models_matches_a_hand_written_average():
    members = [seq2seq(0), seq2seq(1, cell="gru", hidden_size=10), seq2seq(2, attention=None)]
    ensemble = rkp.Ensemble(members)
    src, lengths = source()
    max_len = 8
    got = ensemble.generate(src, lengths, max_len=max_len)
    with torch.no_grad():
        states = [m.initial_state(m.encode(src, lengths)) for m in members]
        tokens = torch.full((src.shape[0],), BOS)
        done = torch.zeros(src.shape[0], dtype=torch.bool)
        for t in range(got.shape[1]):
            outputs = [m.decoder.step(tokens, s) for m, s in zip(members, states, strict=True)]
            states = [s for _, s in outputs]
            tokens = (sum(lp.exp() for lp, _ in outputs) / len(members)).argmax(-1)
            expected = torch.where(done, PAD, tokens)
            assert torch.equal(got[:, t], expected), f"step {t}"
            done |= tokens == EOS
    # The members disagree somewhere, so the test would notice an ensemble that follows one.
    alone = [m.generate(src, lengths, max_len=max_len) for m in members]
    assert not all(a.shape == got.shape and torch.equal(a, got) for a in alone)


def test_an_ensemble_of_one_is_the_model_with_beams_and_attention():
    model = seq2seq(3)
    src, lengths = source()
    tokens, weights = model.generate(src, lengths, max_len=8, beam_size=3, return_attention=True)
    one = rkp.Ensemble([model])
    got_tokens, got_weights = one.generate(
        src, lengths, max_len=8, beam_size=3, return_attention=True
    )
    assert torch.equal(got_tokens, tokens)
    torch.testing.assert_close(got_weights, weights)
    nbest = model.generate(src, lengths, max_len=8, beam_size=3, nbest=3)
    got_nbest = one.generate(src, lengths, max_len=8, beam_size=3, nbest=3)
    assert torch.equal(got_nbest[0], nbest[0])
    torch.testing.assert_close(got_nbest[1], nbest[1])


def test_ensemble_attention_is_the_members_mean_and_padding_gets_none():
    members = [seq2seq(4), seq2seq(5, cell="gru", attention="bahdanau")]
    src, lengths = source()
    tokens, weights = rkp.Ensemble(members).generate(src, lengths, max_len=6, return_attention=True)
    expected = [m.attention_of(m.encode(src, lengths), tokens) for m in members]
    torch.testing.assert_close(weights, (expected[0] + expected[1]) / 2)
    past = torch.arange(src.shape[1]) >= lengths.unsqueeze(1)
    assert (weights.masked_select(past.unsqueeze(1)) == 0).all()


def test_an_ensemble_of_conditioned_generators_reads_the_same_context():
    torch.manual_seed(0)
    members = []
    for hidden in (12, 16):
        frames = rkp.RecurrentEncoder(rk.GRU(5, 6))
        decoder = rkp.RecurrentDecoder(12, 8, hidden, context_size=6, attention="luong",
                                       memory_size=6)  # fmt: skip
        members.append(rkp.ConditionedGenerator(frames, decoder, bos_id=BOS, eos_id=EOS,
                                                pad_id=PAD).eval())  # fmt: skip
    video, lengths = torch.randn(3, 7, 5), torch.tensor([7, 3, 5])
    out = rkp.Ensemble(members).generate(video, lengths, max_len=5, beam_size=2)
    padded = video.clone()
    padded[1, 3:] = 100.0
    assert torch.equal(rkp.Ensemble(members).generate(padded, lengths, max_len=5, beam_size=2), out)


def test_each_member_keeps_its_own_attention_window():
    members = [seq2seq(0), seq2seq(1, cell="gru", hidden_size=10)]
    src, lengths = source()
    options = {"max_len": 12, "beam_size": 3, "window": rk.decoding.AttentionWindow()}
    alone = members[0].generate(src, lengths, **options)
    assert torch.equal(rkp.Ensemble(members[:1]).generate(src, lengths, **options), alone)
    tokens, weights = rkp.Ensemble(members).generate(src, lengths, return_attention=True, **options)
    each = [m.attention_of(m.encode(src, lengths), tokens, options["window"]) for m in members]
    assert torch.allclose(weights, torch.stack(each).mean(dim=0))
    plain = [m.attention_of(m.encode(src, lengths), tokens) for m in members]
    assert not torch.allclose(torch.stack(each), torch.stack(plain))  # the window told


def test_ensemble_refuses_members_that_cannot_be_averaged():
    with pytest.raises(ValueError, match="at least one"):
        rkp.Ensemble([])
    with pytest.raises(TypeError, match="member 1 is a GRU, not a generator"):
        rkp.Ensemble([seq2seq(0), rk.GRU(3, 4)])
    with pytest.raises(ValueError, match="member 1 writes a vocabulary of 13 tokens"):
        rkp.Ensemble([seq2seq(0), seq2seq(1, tgt_vocab=13)])
    with pytest.raises(ValueError, match="member 1 has special ids"):
        rkp.Ensemble([seq2seq(0), seq2seq(1, bos_id=3)])
