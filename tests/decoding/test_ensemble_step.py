"""ensemble_step: the mean of the members' distributions, driven by the unchanged searches."""

import pytest
import torch

from rnnkit.decoding import beam_search, ensemble_step, greedy_search

BOS, EOS, PAD = 0, 1, 0


def test_one_member_is_the_member_itself(toy_decoder):
    decoder = toy_decoder(vocab=5)
    state = decoder.init_state(context=torch.randn(3, 5))
    tokens = torch.tensor([0, 2, 3])
    with torch.no_grad():
        alone, _ = decoder.step(tokens, state)
        together, (member_state,) = ensemble_step([decoder.step])(tokens, (state,))
    torch.testing.assert_close(together, alone)
    assert set(member_state) == set(state)


def test_two_members_give_the_mean_distribution_at_every_step(toy_decoder):
    first, second = toy_decoder(vocab=6, seed=0), toy_decoder(vocab=6, seed=1)
    context = torch.randn(4, 5)
    states = (first.init_state(context=context), second.init_state(context=context))
    first_state, second_state = states  # the members stepped on their own, for reference
    step = ensemble_step([first.step, second.step])
    tokens = torch.zeros(4, dtype=torch.long)
    with torch.no_grad():
        for _ in range(3):
            p_first, first_state = first.step(tokens, first_state)
            p_second, second_state = second.step(tokens, second_state)
            log_probs, states = step(tokens, states)
            mean = (p_first.exp() + p_second.exp()) / 2
            torch.testing.assert_close(log_probs.exp(), mean)
            torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(4))
            tokens = log_probs.argmax(-1)


def test_greedy_over_an_ensemble_follows_the_argmax_of_the_averaged_probabilities(toy_decoder):
    members = [toy_decoder(vocab=7, seed=seed) for seed in (2, 3, 4)]
    context = torch.randn(5, 5)
    ids = {"bos_id": BOS, "eos_id": EOS, "pad_id": PAD, "max_len": 6, "batch_size": 5}
    with torch.no_grad():
        state = tuple(m.init_state(context=context) for m in members)
        got = greedy_search(ensemble_step([m.step for m in members]), state, **ids)
        # Reference: a plain loop over rows that averages the probabilities by hand.
        for row in range(5):
            states = [m.init_state(context=context[row : row + 1]) for m in members]
            token, expected = torch.tensor([BOS]), []
            for _ in range(6):
                outputs = [m.step(token, s) for m, s in zip(members, states, strict=True)]
                states = [s for _, s in outputs]
                probs = sum(lp.exp() for lp, _ in outputs) / len(members)
                token = probs.argmax(-1)
                expected.append(int(token))
                if expected[-1] == EOS:
                    break
            assert got[row, : len(expected)].tolist() == expected


def test_beam_search_over_copies_of_one_model_is_beam_search_over_the_model(toy_decoder):
    decoder = toy_decoder(vocab=6, seed=5)
    context = torch.randn(4, 5)
    ids = {"bos_id": BOS, "eos_id": EOS, "pad_id": PAD, "max_len": 7, "batch_size": 4}
    with torch.no_grad():
        single, single_scores = beam_search(
            decoder.step, decoder.init_state(context=context), beam_size=3, return_scores=True,
            **ids,
        )  # fmt: skip
        state = (decoder.init_state(context=context),) * 2
        double, double_scores = beam_search(
            ensemble_step([decoder.step] * 2), state, beam_size=3, return_scores=True, **ids
        )
    assert torch.equal(single, double)
    torch.testing.assert_close(single_scores, double_scores)


def test_ensemble_step_names_its_errors(toy_decoder):
    small, large = toy_decoder(vocab=4), toy_decoder(vocab=6)
    context = torch.randn(2, 5)
    tokens = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="at least one"):
        ensemble_step([])
    step = ensemble_step([small.step, large.step])
    with pytest.raises(ValueError, match="tuple of 2 member states"):
        step(tokens, small.init_state(context=context))
    with torch.no_grad(), pytest.raises(ValueError, match=r"vocabularies differ in size: \[4, 6\]"):
        step(tokens, (small.init_state(context=context), large.init_state(context=context)))
