import pytest
import torch

from rnnkit.decoding import greedy_search, sample, truncate_logits

IDS = {"bos_id": 0, "eos_id": 1, "pad_id": 0, "max_len": 10}


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    kept = lambda p: torch.isfinite(truncate_logits(logits, top_p=p)).view(-1).tolist()  # noqa: E731
    assert kept(0.5) == [True, False, False, False]
    assert kept(0.7) == [True, True, False, False]
    assert kept(0.81) == [True, True, True, False]
    assert kept(1.0) == [True, True, True, True]


def test_top_p_of_one_keeps_even_tokens_too_unlikely_for_a_float32_running_total():
    logits = torch.tensor([[0.0, -20.0, -20.0, -25.0]]).log_softmax(-1)
    assert torch.equal(truncate_logits(logits, top_p=1.0), logits)


def test_top_k_and_temperature():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    assert torch.isfinite(truncate_logits(logits, top_k=2)).view(-1).tolist() == [
        True, True, False, False,
    ]  # fmt: skip
    tempered = truncate_logits(logits, temperature=0.5).softmax(-1)
    assert torch.allclose(tempered, (2 * logits).softmax(-1))
    with pytest.raises(ValueError, match="temperature"):
        truncate_logits(logits, temperature=0.0)
    with pytest.raises(ValueError, match="top_p"):
        truncate_logits(logits, top_p=1.5)


def test_sampling_is_seeded_and_top_k_one_is_greedy(toy_decoder):
    decoder = toy_decoder(vocab=6)
    context = torch.randn(8, 5)

    def draw(seed, **options):
        generator = torch.Generator().manual_seed(seed)
        state = decoder.init_state(context=context)
        return sample(decoder.step, state, batch_size=8, generator=generator, **IDS, **options)

    with torch.no_grad():
        assert torch.equal(draw(3), draw(3))
        assert not torch.equal(draw(3, temperature=3.0), draw(4, temperature=3.0))
        greedy = greedy_search(
            decoder.step, decoder.init_state(context=context), batch_size=8, **IDS
        )
        assert torch.equal(draw(5, top_k=1), greedy)


def test_sample_frequencies_follow_the_model_distribution():
    """One step of a fixed distribution, drawn 20000 times: frequencies within 0.015."""
    probs = torch.tensor([0.05, 0.1, 0.25, 0.6])

    def step(tokens, state):
        return probs.log().expand(tokens.shape[0], -1), state

    generator = torch.Generator().manual_seed(0)
    tokens = sample(step, None, batch_size=20000, bos_id=0, eos_id=0, pad_id=0, max_len=1,
                    generator=generator)  # fmt: skip
    frequencies = torch.bincount(tokens[:, 0], minlength=4).float() / 20000
    assert torch.allclose(frequencies, probs, atol=0.015)
