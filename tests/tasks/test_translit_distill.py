"""Distillation in the transliteration task: soft targets from teacher runs, kept per pair."""

from __future__ import annotations

import shutil

import pytest
import torch

from rnnkit.tasks.run import evaluate_trained, load_trained, train_task

from .translit_helpers import tiny_run

QUICK = {"batch_size": 8, "lr": 0.01, "progress": False}


@pytest.fixture(scope="module")
def teachers(lexicon_file, tmp_path_factory):
    """Two short runs of the tiny lexicon, seeds 0 and 1."""
    root = tmp_path_factory.mktemp("teachers")
    for seed in (0, 1):
        _, run = tiny_run(lexicon_file, seed=seed, max_steps=40, eval_every=40, **QUICK)
        train_task(run, root / f"seed{seed}")
    return [root / "seed0", root / "seed1"]


def student(lexicon_file, teacher_dirs, weight=0.5, data_seed=0, **train):
    """A tiny run that learns from ``teacher_dirs`` too, set the way ``--set`` sets them."""
    teachers = ",".join(str(d) for d in teacher_dirs)
    settings = [f"teachers={teachers}", f"distill_weight={weight}"]
    return tiny_run(lexicon_file, data_seed, settings, **train)


def batch_of(task, config, count=6):
    """The objective of ``config``, a collated batch of its first training pairs, the data."""
    data = task.build_data(config)
    objective = task.objective(config, data.metadata)
    return objective, objective.collate(list(data.train[:count])), data


def test_soft_targets_are_the_teachers_mean_distribution_kept_per_pair(lexicon_file, teachers):
    task, run = student(lexicon_file, teachers)
    objective, batch, data = batch_of(task, run.config)
    src, lengths, tgt_in, tgt_out, keys = batch
    models = [load_trained(task, d).model for d in teachers]
    with torch.no_grad():
        expected = sum(m(src, lengths, tgt_in).softmax(-1) for m in models) / 2

    calls = []
    soft = objective.distill(keys, src, lengths, tgt_in)
    for teacher in objective.distill.teachers():
        teacher.register_forward_hook(lambda *_: calls.append(1))
    phonemes = tgt_out != objective.phonemes.pad_id
    assert torch.allclose(soft[phonemes], expected[phonemes], atol=1e-3)  # kept as float16
    assert torch.allclose(soft[phonemes].sum(-1), torch.ones(int(phonemes.sum())), atol=1e-2)
    assert (soft[~phonemes] == 0).all()
    assert len(objective.distill) == len(keys)

    # Met again, in another batch and order: looked up, not worked out again.
    again = objective.collate([data.train[i] for i in (3, 1, 0)])
    soft_again = objective.distill(again[4], *again[:2], again[2])
    assert not calls
    assert torch.equal(soft_again[0, : soft.shape[1]], soft[3, : soft_again.shape[1]])
    # A new pair is worked out alone.
    new = objective.collate([data.train[len(keys)]])
    objective.distill(new[4], *new[:2], new[2])
    assert len(calls) == 2 and len(objective.distill) == len(keys) + 1


def test_the_loss_mixes_gold_and_teachers(lexicon_file, teachers):
    task, run = student(lexicon_file, teachers[:1], weight=0.0)
    objective, batch, data = batch_of(task, run.config)
    plain = task.objective(tiny_run(lexicon_file)[1].config, data.metadata)
    assert plain.distill is None and len(plain.collate(list(data.train[:6]))) == 4
    model = load_trained(task, teachers[1]).model
    assert objective.loss(model, batch).item() == pytest.approx(plain.loss(model, batch[:4]).item())

    # All weight on the teacher, and the model is the teacher: nothing to learn.
    _, run = student(lexicon_file, teachers[:1], weight=1.0)
    objective, batch, _ = batch_of(task, run.config)
    teacher = load_trained(task, teachers[0]).model
    assert objective.loss(teacher, batch).item() == pytest.approx(0.0, abs=1e-4)
    assert objective.loss(model, batch).item() > 0.01


def test_a_student_trains_and_needs_no_teachers_afterwards(lexicon_file, teachers, tmp_path):
    copies = [tmp_path / "t0", tmp_path / "t1"]
    for source, copy in zip(teachers, copies, strict=True):
        shutil.copytree(source, copy)
    task, run = student(lexicon_file, copies, max_steps=40, eval_every=40, **QUICK)
    train_task(run, tmp_path / "student")
    for copy in copies:
        shutil.rmtree(copy)
    trained = load_trained(task, tmp_path / "student")
    assert trained.config.teachers == ",".join(str(c) for c in copies)
    assert 0.0 <= evaluate_trained(trained, "test")["wer"] <= 1.0


def test_teachers_of_another_split_or_missing_are_refused(lexicon_file, teachers, tmp_path):
    task, run = student(lexicon_file, teachers, data_seed=1)
    objective, batch, _ = batch_of(task, run.config)
    with pytest.raises(ValueError, match=r"another split than this run: data_seed=0 \(student: 1"):
        objective.distill(batch[4], *batch[:3])

    _, run = student(lexicon_file, [tmp_path / "gone"])
    objective, batch, _ = batch_of(task, run.config)
    with pytest.raises(FileNotFoundError, match=r"teachers of this run: .*gone does not exist"):
        objective.distill(batch[4], *batch[:3])

    with pytest.raises(ValueError, match="distill_weight must be in"):
        student(lexicon_file, teachers, weight=1.5)
    with pytest.raises(ValueError, match="no run directory"):
        student(lexicon_file, [" "])
