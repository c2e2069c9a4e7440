"""The patterns on CUDA: the CPU's numbers, and decoding keeps every tensor on the device."""

import copy

import pytest
import torch

import rnnkit as rk

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("attention", [None, "bahdanau", "luong"])
def test_seq2seq_on_cuda_matches_the_cpu_and_decodes_on_the_device(attention):
    torch.manual_seed(0)
    cpu = rk.Seq2Seq(9, 11, 8, 16, cell="lstm", num_layers=2, bidirectional=True,
                     attention=attention).eval()  # fmt: skip
    gpu = copy.deepcopy(cpu).cuda()
    src = torch.randint(3, 9, (4, 6))
    lengths = torch.tensor([6, 2, 5, 1])
    tgt_in = torch.randint(3, 11, (4, 5))
    tgt_in[:, 0] = 1
    with torch.no_grad():
        expected = cpu(src, lengths, tgt_in)
        got = gpu(src.cuda(), lengths.cuda(), tgt_in.cuda())
        torch.testing.assert_close(got.cpu(), expected, rtol=1e-4, atol=1e-5)
        for options in ({}, {"beam_size": 3}, {"do_sample": True, "top_p": 0.9}):
            if options.get("do_sample"):
                options["generator"] = torch.Generator(device="cuda").manual_seed(0)
            out = gpu.generate(src.cuda(), lengths, max_len=7, **options)  # lengths on the CPU
            assert out.is_cuda and out.shape[0] == 4 and out.shape[1] <= 7


def test_acceptor_transducer_and_recursive_on_cuda():
    torch.manual_seed(0)
    tokens = torch.randint(0, 10, (3, 5), device="cuda")
    lengths = torch.tensor([5, 2, 3], device="cuda")
    acceptor = rk.Acceptor(rk.GRU(4, 6, bidirectional=True), 2, pooling="attention",
                           embedding=(10, 4)).cuda()  # fmt: skip
    assert acceptor(tokens, lengths).is_cuda
    tagger = rk.Transducer(rk.LSTM(4, 6), 3, crf=True, embedding=(10, 4)).cuda()
    targets = torch.randint(0, 3, (3, 5), device="cuda")
    tagger.loss(tokens, lengths, targets).backward()
    assert tagger.decode(tokens, lengths).is_cuda
    model = rk.Recursive(rk.ChildSumTreeLSTMCell(4, 6), embedding=(10, 4)).cuda()
    states = model([rk.Tree.from_nested(((1, 2), 3, 4)), rk.Tree(token=5)])
    assert states.roots.is_cuda and states.roots.shape == (2, 6)
