"""AttentionWindow / WindowedDecoder: attention kept near its last position, EOS only at the end."""

import pytest
import torch

import rnnkit.patterns as rkp
from rnnkit.decoding import AttentionWindow, WindowedDecoder, beam_search, greedy_search
from rnnkit.decoding.window import POSITION

PAD, BOS, EOS = 0, 1, 2


def seq2seq(seed=0, attention="luong", eos_bias=0.0):
    """A small random Seq2Seq with sharp distributions; ``eos_bias`` makes it want to stop."""
    torch.manual_seed(seed)
    model = rkp.Seq2Seq(
        src_vocab=9, tgt_vocab=11, embed_dim=8, hidden_size=12, bidirectional=True,
        attention=attention, pad_id=PAD, bos_id=BOS, eos_id=EOS,
    )  # fmt: skip
    with torch.no_grad():
        model.decoder.out.weight.mul_(4.0)
        model.decoder.out.bias[EOS] += eos_bias
    return model.eval()


def source(rows=6, steps=9, seed=1):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, steps + 1, (rows,), generator=generator)
    lengths[0] = steps  # one row without padding
    return torch.randint(3, 9, (rows, steps), generator=generator), lengths


def reference_decode(model, src, lengths, window, max_len):
    """Greedy decoding of each row alone, with the window written out step by step."""
    rows = []
    for row in range(src.shape[0]):
        length = int(lengths[row])
        encoding = model.encode(src[row : row + 1, :length], lengths[row : row + 1])
        state = model.initial_state(encoding)
        token, position, out = torch.tensor([BOS]), 0, []
        for _ in range(max_len):
            allowed = torch.zeros(1, length, dtype=torch.bool)
            allowed[0, max(0, position - window.back) : position + window.ahead + 1] = True
            logits, weights, state = model.decoder.step_logits(token, {**state, "mask": allowed})
            position = int(weights.argmax())
            if window.end is not None and position < length - 1 - window.end:
                logits[0, EOS] = float("-inf")
            token = logits.argmax(dim=-1)
            out.append(int(token))
            if out[-1] == EOS:
                break
        rows.append(out)
    return rows


def trimmed(tokens):
    out = tokens.tolist()
    return out[: out.index(EOS) + 1] if EOS in out else out


def test_window_mask_is_the_real_positions_around_each_rows_position():
    source_mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    mask = AttentionWindow(back=1, ahead=2).mask(torch.tensor([3, 0]), source_mask)
    assert mask.tolist() == [
        [False, False, True, True, True, True],
        [True, True, True, False, False, False],
    ]


@pytest.mark.parametrize("attention", ["luong", "bahdanau"])
@pytest.mark.parametrize("window", [AttentionWindow(), AttentionWindow(0, 1, 0)])
def test_windowed_greedy_matches_a_reference_loop_row_by_row(attention, window):
    model = seq2seq(attention=attention, eos_bias=2.0)
    src, lengths = source()
    got = model.generate(src, lengths, max_len=14, window=window)
    expected = reference_decode(model, src, lengths, window, max_len=14)
    assert [trimmed(row) for row in got] == expected


def test_attention_stays_in_the_window_and_eos_waits_for_the_end():
    window = AttentionWindow(back=0, ahead=1, end=0)
    model = seq2seq(eos_bias=3.0)  # wants to stop at once
    src, lengths = source()
    assert (model.generate(src, lengths, max_len=20)[:, 0] == EOS).sum() >= 3  # it would
    tokens, weights = model.generate(
        src, lengths, max_len=20, beam_size=3, window=window, return_attention=True
    )
    ended = 0
    for row in range(src.shape[0]):
        out = trimmed(tokens[row])
        position = 0
        for t in range(len(out)):
            outside = torch.ones(src.shape[1], dtype=torch.bool)
            outside[position : position + 2] = False
            assert float(weights[row, t][outside].abs().max()) == 0.0
            position = int(weights[row, t].argmax())
        if out[-1] == EOS:  # (a row whose attention never gets there is cut at max_len)
            ended += 1
            assert position == int(lengths[row]) - 1  # only at the last letter
    assert ended >= src.shape[0] // 2


def test_a_window_over_everything_without_the_end_rule_changes_nothing():
    model = seq2seq()
    src, lengths = source()
    everything = AttentionWindow(back=src.shape[1], ahead=src.shape[1], end=None)
    for beam in (1, 4):
        plain = model.generate(src, lengths, max_len=12, beam_size=beam)
        windowed = model.generate(src, lengths, max_len=12, beam_size=beam, window=everything)
        assert torch.equal(plain, windowed)


def test_a_row_decodes_the_same_alone_and_in_a_padded_batch():
    model = seq2seq(eos_bias=1.0)
    src, lengths = source(rows=5)
    batch = model.generate(src, lengths, max_len=15, beam_size=3, window=AttentionWindow())
    for row in range(src.shape[0]):
        length = int(lengths[row])
        alone = model.generate(
            src[row : row + 1, :length], lengths[row : row + 1], max_len=15, beam_size=3,
            window=AttentionWindow(),
        )  # fmt: skip
        assert trimmed(alone[0]) == trimmed(batch[row])


def test_the_state_keeps_the_source_mask_itself_and_each_beams_position():
    model = seq2seq()
    src, lengths = source(rows=3)
    state = model.initial_state(model.encode(src, lengths))
    windowed = WindowedDecoder(model.decoder, EOS, AttentionWindow())
    _, state_after = windowed.step(torch.full((3,), BOS), state)
    assert state_after["mask"] is state["mask"]  # a search can leave it untouched
    assert state_after[POSITION].shape == (3,)
    ids = {"bos_id": BOS, "eos_id": EOS, "pad_id": PAD, "max_len": 10, "batch_size": 3}
    with torch.no_grad():
        greedy = greedy_search(windowed.step, state, **ids)
        beam = beam_search(windowed.step, state, beam_size=1, **ids)
    assert torch.equal(greedy, beam)


def test_unpadded_sources_without_a_mask_are_windowed_too():
    model = seq2seq()
    src, _ = source(rows=2)
    state = model.initial_state(model.encode(src, None))
    state.pop("mask", None)
    windowed = WindowedDecoder(model.decoder, EOS, AttentionWindow(back=0, ahead=0, end=None))
    _, weights, after = windowed.step_logits(torch.full((2,), BOS), state)
    assert "mask" not in after
    assert torch.equal(weights[:, 0], torch.ones(2))  # only position 0 may be read at first


def test_bad_windows_and_decoders_without_attention_are_refused():
    for bad in ({"back": -1}, {"ahead": 1.5}, {"end": -2}, {"back": True}):
        with pytest.raises(ValueError, match="AttentionWindow"):
            AttentionWindow(**bad)
    model = seq2seq(attention=None)
    src, lengths = source()
    with pytest.raises(ValueError, match="needs a decoder with attention"):
        model.generate(src, lengths, window=AttentionWindow())
