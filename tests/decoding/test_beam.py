import itertools

import pytest
import torch

from rnnkit.decoding import beam_search, gnmt_length_penalty, greedy_search, map_state

BOS, EOS, PAD = 0, 1, 0  # BOS doubles as PAD here: the decoder never needs to emit either


def sequence_log_prob(decoder, state, tokens):
    """Sum of log p(y_t | y_<t) for one row, by stepping the decoder along ``tokens``."""
    total, previous = 0.0, torch.tensor([BOS])
    for token in tokens:
        log_probs, state = decoder.step(previous, state)
        total += float(log_probs[0, token])
        previous = torch.tensor([token])
    return total


def every_hypothesis(decoder, state, vocab, max_len, alpha):
    """(score, tokens) of every hypothesis, best first: those that end with EOS at length
    <= max_len, and those cut at max_len without EOS."""
    scored = []
    non_eos = [v for v in range(vocab) if v != EOS]
    for length in range(1, max_len + 1):
        for prefix in itertools.product(non_eos, repeat=length - 1):
            endings = [EOS] + (non_eos if length == max_len else [])
            for last in endings:
                tokens = [*prefix, last]
                score = sequence_log_prob(decoder, state, tokens)
                scored.append((score / gnmt_length_penalty(length, alpha), tokens))
    return sorted(scored, key=lambda pair: -pair[0])


def ended(tokens):
    """A row's tokens up to its EOS (all of them if it has none)."""
    return tokens[: tokens.index(EOS) + 1] if EOS in tokens else tokens


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_of_every_hypothesis_finds_the_exhaustive_optimum(toy_decoder, alpha):
    vocab, max_len, rows = 4, 3, 4
    decoder = toy_decoder(vocab=vocab)
    context = torch.randn(rows, 5)
    with torch.no_grad():
        tokens, scores = beam_search(
            decoder.step, decoder.init_state(context=context), batch_size=rows,
            beam_size=vocab**max_len, bos_id=BOS, eos_id=EOS, pad_id=PAD, max_len=max_len,
            length_penalty=alpha, return_scores=True,
        )  # fmt: skip
        for row in range(rows):
            state = decoder.init_state(context=context[row : row + 1])
            best_score, best_tokens = every_hypothesis(decoder, state, vocab, max_len, alpha)[0]
            assert ended(tokens[row].tolist()) == best_tokens
            assert scores[row].item() == pytest.approx(best_score, abs=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_nbest_of_a_beam_of_every_hypothesis_are_the_exhaustive_top_n(toy_decoder, alpha):
    vocab, max_len, rows, n = 4, 3, 3, 5
    decoder = toy_decoder(vocab=vocab, seed=4)
    context = torch.randn(rows, 5)
    with torch.no_grad():
        tokens, scores = beam_search(
            decoder.step, decoder.init_state(context=context), batch_size=rows,
            beam_size=vocab**max_len, bos_id=BOS, eos_id=EOS, pad_id=PAD, max_len=max_len,
            length_penalty=alpha, return_scores=True, nbest=n,
        )  # fmt: skip
        assert tokens.shape[:2] == (rows, n) and scores.shape == (rows, n)
        for row in range(rows):
            state = decoder.init_state(context=context[row : row + 1])
            expected = every_hypothesis(decoder, state, vocab, max_len, alpha)[:n]
            assert [ended(t) for t in tokens[row].tolist()] == [t for _, t in expected]
            assert scores[row].tolist() == pytest.approx([s for s, _ in expected], abs=1e-5)


def test_the_first_of_the_nbest_is_the_single_best_and_rows_decode_alone(toy_decoder):
    decoder = toy_decoder(vocab=6, seed=5)
    context = torch.randn(5, 5)
    ids = {"bos_id": BOS, "eos_id": EOS, "pad_id": PAD, "max_len": 8, "beam_size": 4}

    def search(ctx, **nbest):
        state = decoder.init_state(context=ctx)
        return beam_search(
            decoder.step, state, batch_size=ctx.shape[0], return_scores=True, **ids, **nbest
        )

    with torch.no_grad():
        best, best_scores = search(context)
        one, one_scores = search(context, nbest=1)
        assert torch.equal(one[:, 0], best) and torch.equal(one_scores[:, 0], best_scores)
        three, three_scores = search(context, nbest=3)
        assert torch.equal(three[:, 0, : best.shape[1]], best)
        assert (three_scores[:, :-1] >= three_scores[:, 1:]).all()
        assert torch.isfinite(three_scores).all()
        for row in range(5):
            hypotheses = {tuple(ended(t)) for t in three[row].tolist()}
            assert len(hypotheses) == 3  # three different hypotheses
            alone, alone_scores = search(context[row : row + 1], nbest=3)
            width = alone.shape[2]
            assert torch.equal(alone[0], three[row, :, :width])
            assert alone_scores[0].tolist() == pytest.approx(three_scores[row].tolist(), abs=1e-5)


def test_beam_size_one_is_greedy(toy_decoder):
    decoder = toy_decoder(vocab=7, seed=1)
    context = torch.randn(16, 5)
    ids = {"bos_id": BOS, "eos_id": EOS, "pad_id": PAD, "max_len": 12, "batch_size": 16}
    with torch.no_grad():
        greedy = greedy_search(decoder.step, decoder.init_state(context=context), **ids)
        beam = beam_search(decoder.step, decoder.init_state(context=context), beam_size=1, **ids)
    assert torch.equal(greedy, beam)


def test_wider_beams_never_score_worse_and_rows_decode_alone_as_in_the_batch(toy_decoder):
    decoder = toy_decoder(vocab=6, seed=2)
    context = torch.randn(6, 5)
    ids = {"bos_id": BOS, "eos_id": EOS, "pad_id": PAD, "max_len": 8}

    def search(ctx, k):
        state = decoder.init_state(context=ctx)
        return beam_search(
            decoder.step, state, batch_size=ctx.shape[0], beam_size=k, return_scores=True, **ids
        )

    with torch.no_grad():
        _, narrow_scores = search(context, 1)
        wide, wide_scores = search(context, 4)
        assert (wide_scores >= narrow_scores - 1e-6).all()
        for row in range(6):
            alone, alone_score = search(context[row : row + 1], 4)
            width = alone.shape[1]
            assert torch.equal(alone[0], wide[row, :width])
            assert (wide[row, width:] == PAD).all()
            assert alone_score.item() == pytest.approx(wide_scores[row].item(), abs=1e-5)


def test_beam_output_follows_the_generate_contract(toy_decoder):
    decoder = toy_decoder(vocab=5, seed=3)
    with torch.no_grad():
        decoder.out.bias[EOS] = -1e4  # never ends: every row is cut at max_len
        state = decoder.init_state(context=torch.randn(3, 5))
        cut = beam_search(decoder.step, state, batch_size=3, beam_size=2, bos_id=BOS,
                          eos_id=EOS, pad_id=PAD, max_len=5)  # fmt: skip
        assert cut.shape == (3, 5) and not (cut == EOS).any()
        decoder.out.bias[EOS] = 1e4  # ends at once: one EOS per row
        state = decoder.init_state(context=torch.randn(3, 5))
        ended = beam_search(decoder.step, state, batch_size=3, beam_size=2, bos_id=BOS,
                            eos_id=EOS, pad_id=PAD, max_len=5)  # fmt: skip
        assert ended.tolist() == [[EOS]] * 3


def test_a_memory_the_decoder_leaves_untouched_is_not_copied_and_changes_nothing(toy_decoder):
    decoder = toy_decoder(vocab=7, seed=4, memory=3)
    context, memory = torch.randn(5, 5), torch.randn(5, 6, 3)
    mask = torch.arange(6) < torch.tensor([6, 2, 4, 1, 5]).unsqueeze(1)
    ids = {"bos_id": BOS, "eos_id": EOS, "pad_id": PAD, "max_len": 9, "batch_size": 5}
    memories_seen = []

    def watched(tokens, state):
        memories_seen.append(state["memory"])
        return decoder.step(tokens, state)

    def copying(tokens, state):  # every tensor handed back anew: the search reorders them all
        log_probs, state = decoder.step(tokens, state)
        return log_probs, map_state(torch.clone, state)

    def search(step):
        state = decoder.init_state(context=context, memory=memory, memory_mask=mask)
        return beam_search(step, state, beam_size=3, return_scores=True, **ids)

    with torch.no_grad():
        runs = [search(watched), search(copying)]
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    assert len(memories_seen) > 2 and all(m is memories_seen[0] for m in memories_seen)


def test_a_state_written_in_place_is_still_reordered(toy_decoder):
    decoder = toy_decoder(vocab=9, seed=1)
    ids = {"bos_id": BOS, "eos_id": EOS, "pad_id": PAD, "max_len": 9, "batch_size": 6}

    def in_place(tokens, state):  # the same tensors come back, their values overwritten
        log_probs, new = decoder.step(tokens, state)
        for old, fresh in zip(state["cells"], new["cells"], strict=True):
            old.copy_(fresh)
        return log_probs, state

    context = torch.randn(6, 5)
    with torch.no_grad():
        runs = [
            beam_search(step, decoder.init_state(context=context), beam_size=4, **ids)
            for step in (decoder.step, in_place)
        ]
    assert torch.equal(runs[0], runs[1])


def test_inference_mode_gives_what_no_grad_gives(toy_decoder):
    # Tensors made under inference_mode have no version counter to tell in-place writes by.
    decoder = toy_decoder(vocab=7, seed=2, memory=3)
    context, memory = torch.randn(4, 5), torch.randn(4, 6, 3)
    ids = {"bos_id": BOS, "eos_id": EOS, "pad_id": PAD, "max_len": 8, "batch_size": 4}

    def search():
        state = decoder.init_state(context=context, memory=memory)
        return beam_search(decoder.step, state, beam_size=3, nbest=2, return_scores=True, **ids)

    with torch.no_grad():
        expected = search()
    with torch.inference_mode():
        got = search()
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_beam_search_rejects_bad_arguments(toy_decoder):
    decoder = toy_decoder()
    state = decoder.init_state(context=torch.randn(1, 5))
    ids = {"bos_id": BOS, "eos_id": EOS, "pad_id": PAD, "batch_size": 1}
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(decoder.step, state, beam_size=0, max_len=3, **ids)
    with pytest.raises(ValueError, match="max_len"):
        beam_search(decoder.step, state, beam_size=2, max_len=0, **ids)
    with pytest.raises(ValueError, match="length_penalty"):
        beam_search(decoder.step, state, beam_size=2, max_len=3, length_penalty=-1.0, **ids)
    for nbest in (0, 3, 1.0, True):
        with pytest.raises(ValueError, match="nbest must be an int from 1 to beam_size=2"):
            beam_search(decoder.step, state, beam_size=2, max_len=3, nbest=nbest, **ids)
