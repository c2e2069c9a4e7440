import pytest
import torch
from torch.nn import functional as F

import rnnkit.patterns as rkp

PAD, BOS, EOS = 0, 1, 2
ATTENTIONS = [None, "bahdanau", "luong", "luong_dot"]


def make_model(attention, cell="lstm", seed=0, **options):
    torch.manual_seed(seed)
    model = rkp.Seq2Seq(
        src_vocab=9, tgt_vocab=11, embed_dim=8, hidden_size=12, cell=cell, num_layers=2,
        bidirectional=attention != "luong_dot", attention=attention, pad_id=PAD, bos_id=BOS,
        eos_id=EOS, **options,
    )  # fmt: skip
    with torch.no_grad():  # sharper distributions: generated rows end at different lengths
        model.decoder.out.weight.mul_(4.0)
    return model.eval()


def batch(seed=1, rows=5, steps=7, vocab=9):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, steps + 1, (rows,), generator=generator)
    lengths[0] = steps
    src = torch.randint(3, vocab, (rows, steps), generator=generator)
    return src, lengths


def with_random_padding(src, lengths, seed):
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randint(0, 9, src.shape, generator=generator)
    past = torch.arange(src.shape[1]).unsqueeze(0) >= lengths.unsqueeze(1)
    return torch.where(past, noise, src)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_greedy_generate_is_the_argmax_of_the_teacher_forced_forward(attention, cell):
    model = make_model(attention, cell)
    src, lengths = batch()
    with torch.no_grad():
        out = model.generate(src, lengths, max_len=9)
        tgt_in = torch.cat([torch.full_like(out[:, :1], BOS), out[:, :-1]], dim=1)
        logits = model(src, lengths, tgt_in)
    assert out.shape[0] == 5 and 1 <= out.shape[1] <= 9
    for row in out.tolist():
        steps = row.index(EOS) + 1 if EOS in row else len(row)
        assert all(token == PAD for token in row[steps:])
    ended = (out == EOS).long().cumsum(1) - (out == EOS).long()
    live = ended == 0  # positions up to and including each row's EOS
    assert torch.equal(logits.argmax(-1)[live], out[live])


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_teacher_forcing_equals_stepping_the_decoder(attention):
    model = make_model(attention, "gru")
    src, lengths = batch()
    tgt_in = torch.randint(3, 11, (5, 6))
    tgt_in[:, 0] = BOS
    with torch.no_grad():
        logits = model(src, lengths, tgt_in)
        encoding = model.encode(src, lengths)
        state = model.decoder.init_state(
            context=encoding.context, memory=encoding.memory, memory_mask=encoding.mask
        )
        for t in range(6):
            log_probs, state = model.decoder.step(tgt_in[:, t], state)
            expected = F.log_softmax(logits[:, t], -1)
            if model.decoder.all_steps_at_once:  # a different order of floating-point sums
                torch.testing.assert_close(log_probs, expected, rtol=0, atol=1e-6)
            else:  # literally the same step
                assert torch.equal(log_probs, expected)


def step_loop_logits(decoder, tgt_in, state):
    """The definition of teacher forcing: the decoder's own step, position by position."""
    logits = []
    for t in range(tgt_in.shape[1]):
        step_logits, _, state = decoder.step_logits(tgt_in[:, t], state)
        logits.append(step_logits)
    return torch.stack(logits, dim=1)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize(
    "attention, options",
    [
        (None, {}),
        (None, {"feed_context": True}),
        ("luong", {"input_feeding": False}),
        ("luong_dot", {"input_feeding": False, "feed_context": True}),
    ],
)
def test_all_steps_at_once_equals_the_step_loop_in_values_and_gradients(cell, attention, options):
    model = make_model(attention, cell, **options).double()
    assert model.decoder.all_steps_at_once
    src, lengths = batch()
    tgt_in = torch.randint(3, 11, (5, 6))
    tgt_in[:, 0] = BOS

    def run(forward):
        model.zero_grad()
        encoding = model.encode(src, lengths)
        state = model.decoder.init_state(
            context=encoding.context, memory=encoding.memory, memory_mask=encoding.mask
        )
        logits = forward(tgt_in, state)
        (logits * torch.linspace(-1, 1, logits.numel()).view_as(logits).double()).sum().backward()
        return logits.detach(), [p.grad.clone() for p in model.parameters()]

    fast, fast_grads = run(model.decoder)
    loop, loop_grads = run(lambda tokens, state: step_loop_logits(model.decoder, tokens, state))
    torch.testing.assert_close(fast, loop, rtol=0, atol=1e-12)
    for got, expected in zip(fast_grads, loop_grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_input_feeding_and_bahdanau_keep_the_step_loop():
    assert not make_model("luong").decoder.all_steps_at_once
    assert not make_model("bahdanau", input_feeding=False).decoder.all_steps_at_once
    assert make_model("luong", input_feeding=False).decoder.all_steps_at_once


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_padding_content_never_changes_logits_or_outputs(attention):
    model = make_model(attention)
    src, lengths = batch()
    tgt_in = torch.randint(3, 11, (5, 6))
    tgt_in[:, 0] = BOS
    with torch.no_grad():
        logits = model(src, lengths, tgt_in)
        greedy = model.generate(src, lengths, max_len=8)
        beam = model.generate(src, lengths, max_len=8, beam_size=3)
        noisy = with_random_padding(src, lengths, seed=7)
        assert torch.allclose(model(noisy, lengths, tgt_in), logits, atol=1e-6)
        assert torch.equal(model.generate(noisy, lengths, max_len=8), greedy)
        for row in range(5):
            alone = src[row : row + 1, : lengths[row]]
            one = lengths[row : row + 1]
            assert torch.allclose(model(alone, one, tgt_in[row : row + 1]), logits[row], atol=1e-5)
            for k, batched in ((1, greedy), (3, beam)):
                single = model.generate(alone, one, max_len=8, beam_size=k)[0]
                assert torch.equal(single, batched[row, : single.shape[0]])
                assert (batched[row, single.shape[0] :] == PAD).all()


@pytest.mark.parametrize("attention", ["bahdanau", "luong", "luong_dot"])
def test_attention_weights_sum_to_one_over_real_positions_only(attention):
    model = make_model(attention)
    src, lengths = batch()
    tgt_in = torch.full((5, 4), BOS)
    with torch.no_grad():
        _, weights = model(src, lengths, tgt_in, return_attention=True)
        out, generated = model.generate(src, lengths, max_len=6, return_attention=True)
    assert weights.shape == (5, 4, 7) and generated.shape == (*out.shape, 7)
    padding = torch.arange(7).unsqueeze(0) >= lengths.unsqueeze(1)  # (B, S)
    assert (weights.masked_select(padding.unsqueeze(1)) == 0).all()
    assert torch.allclose(weights.sum(-1), torch.ones(5, 4))
    ended = (out == EOS).long().cumsum(1) - (out == EOS).long()
    assert torch.allclose(generated.sum(-1), (ended == 0).float())


def log_prob(model, src, lengths, tokens):
    """Each row's log-probability of generated ``tokens`` (up to its EOS), teacher-forced."""
    tgt_in = torch.cat([torch.full_like(tokens[:, :1], BOS), tokens[:, :-1]], 1)
    with torch.no_grad():
        lp = model(src, lengths, tgt_in).log_softmax(-1)
    per_step = lp.gather(2, tokens.unsqueeze(2)).squeeze(2)
    live = ((tokens == EOS).long().cumsum(1) - (tokens == EOS).long()) == 0
    return (per_step * live).sum(1)


def test_beam_search_of_a_seq2seq_scores_at_least_greedy():
    model = make_model("luong")
    src, lengths = batch(rows=6)
    with torch.no_grad():
        greedy = model.generate(src, lengths, max_len=8)
        beam = model.generate(src, lengths, max_len=8, beam_size=4)
    assert (
        log_prob(model, src, lengths, beam) >= log_prob(model, src, lengths, greedy) - 1e-5
    ).all()


def test_nbest_are_different_outputs_best_first_scored_by_their_log_probability():
    model = make_model("luong")
    src, lengths = batch(rows=6)
    with torch.no_grad():
        best = model.generate(src, lengths, max_len=8, beam_size=4)
        tokens, scores = model.generate(src, lengths, max_len=8, beam_size=4, nbest=3)
    assert tokens.shape[:2] == (6, 3) and scores.shape == (6, 3)
    assert torch.equal(tokens[:, 0, : best.shape[1]], best)
    assert (scores[:, :-1] >= scores[:, 1:]).all()
    for n in range(3):
        torch.testing.assert_close(scores[:, n], log_prob(model, src, lengths, tokens[:, n]))
    for row in tokens.tolist():
        assert len({tuple(h[: h.index(EOS) + 1] if EOS in h else h) for h in row}) == 3
    with pytest.raises(ValueError, match="return_attention=True needs one output per row"):
        model.generate(src, lengths, beam_size=4, nbest=2, return_attention=True)
    with pytest.raises(ValueError, match="nbest ranks the hypotheses of a beam search"):
        model.generate(src, lengths, nbest=1, do_sample=True)


def test_scheduled_sampling_at_rate_one_ignores_the_gold_inputs():
    model = make_model("luong").train()
    src, lengths = batch()
    tgt_a = torch.randint(3, 11, (5, 6))
    tgt_b = torch.randint(3, 11, (5, 6))
    tgt_a[:, 0] = tgt_b[:, 0] = BOS

    def run(tgt_in, rate):
        generator = torch.Generator().manual_seed(0)
        return model(src, lengths, tgt_in, sampling_prob=rate, generator=generator)

    assert torch.equal(run(tgt_a, 1.0), run(tgt_b, 1.0))
    assert torch.equal(run(tgt_a, 0.0), model(src, lengths, tgt_a))
    assert not torch.allclose(run(tgt_a, 0.0), run(tgt_b, 0.0))


def test_feed_context_and_tied_embeddings_build_and_run():
    torch.manual_seed(0)
    model = rkp.Seq2Seq(9, 11, embed_dim=12, hidden_size=12, feed_context=True,
                        tie_embeddings=True, dropout=0.1)  # fmt: skip
    src, lengths = batch()
    logits = model(src, lengths, torch.full((5, 3), BOS))
    assert logits.shape == (5, 3, 11)
    assert model.decoder.out.weight is model.decoder.embedding.weight


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="attention must be None or one of"):
        rkp.Seq2Seq(9, 11, 8, 12, attention="dot-product")
    with pytest.raises(ValueError, match="cell must be one of"):
        rkp.Seq2Seq(9, 11, 8, 12, cell="transformer")
    with pytest.raises(ValueError, match="eos_id=11"):
        rkp.Seq2Seq(9, 11, 8, 12, eos_id=11)
    with pytest.raises(ValueError, match="tie_embeddings"):
        rkp.Seq2Seq(9, 11, 8, 12, tie_embeddings=True)
    model = make_model("luong")
    src, lengths = batch()
    with pytest.raises(ValueError, match="start with bos_id"):
        model(src, lengths, torch.full((5, 3), EOS))
    with pytest.raises(ValueError, match=r"tgt_in ids must lie in \[0, 11\)"):
        model(src, lengths, torch.full((5, 3), 11))
    with pytest.raises(ValueError, match="lengths"):
        model(src, torch.tensor([1, 2]), torch.full((5, 3), BOS))


def test_decoder_init_state_checks_its_inputs():
    decoder = rkp.RecurrentDecoder(5, 4, 8, context_size=6, attention="luong", memory_size=6)
    with pytest.raises(ValueError, match="needs memory"):
        decoder.init_state(context=torch.randn(2, 6))
    with pytest.raises(ValueError, match="context must have shape"):
        decoder.init_state(context=torch.randn(2, 5), memory=torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match="memory_mask must have shape"):
        mask = torch.ones(2, 4, dtype=torch.bool)
        decoder.init_state(context=torch.randn(2, 6), memory=torch.randn(2, 3, 6), memory_mask=mask)
    with pytest.raises(ValueError, match="hidden size == the memory's feature size"):
        rkp.Seq2Seq(9, 11, 8, 12, bidirectional=True, attention="luong_dot")
