"""Data parallelism: which process am I, how to start N of them, how to wrap the model.

Two ways to run N processes; both set the environment variables of torch.distributed
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) and the Trainer joins the process group
they describe (`init_from_env`), with the backend that suits its device: NCCL when training
on CUDA, gloo on the CPU.
  - `torchrun --nproc-per-node N script.py`.
  - `launch(fn, nproc)`: spawns N local processes on a free localhost port and runs
    `fn(*args)` in each (what `rnnkit train --nproc N` uses).
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import pickle
import socket
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel


@dataclasses.dataclass(frozen=True)
class DistInfo:
    """This process's place in the job (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, shows progress and writes checkpoints."""
        return self.rank == 0


def init_from_env(backend: str | None = None) -> DistInfo:
    """Join the process group described by torchrun's environment variables, if any.

    Does nothing when a group is already initialised or WORLD_SIZE is absent or 1.
    `backend` defaults to NCCL when CUDA is available and gloo otherwise.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if not dist.is_initialized() and world_size > 1:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend)
        # Leave the group before the interpreter tears itself down: a gloo group still alive at
        # exit can abort the process (under torchrun a rank now and then ended with code -6).
        atexit.register(_leave_group)
    return current()


def _leave_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def current() -> DistInfo:
    """The rank and world size of the initialised process group (0 of 1 when there is none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistInfo()
    local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank)


def wrap(model: torch.nn.Module, info: DistInfo, device: torch.device) -> torch.nn.Module:
    """Wrap `model` in DistributedDataParallel when distributed; otherwise return it as is.

    DDP broadcasts rank 0's parameters at construction (every rank starts identical) and
    averages gradients during backward, overlapping communication with computation.
    """
    if not info.enabled:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside a DistributedDataParallel wrapper (or `model` itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def all_mean(value: float, info: DistInfo, device: torch.device) -> float:
    """The mean of a Python number over all ranks (the number itself when not distributed)."""
    if not info.enabled:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.item() / info.world_size


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's `obj` on every rank (e.g. dev metrics computed by rank 0 alone)."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """`[obj of rank 0, obj of rank 1, ...]` on every rank (`[obj]` when not distributed)."""
    if not info.enabled:
        return [obj]
    gathered: list[Any] = [None] * info.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def launch(fn: Callable[..., Any], nproc: int, *args: Any, backend: str | None = None) -> Any:
    """Run `fn(*args)` in `nproc` local processes joined in one process group.

    Each process gets RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT in its environment,
    so a `Trainer` built inside `fn` joins the group and trains data-parallel. `fn` and `args`
    must be picklable (a module-level function), as with `torch.multiprocessing.spawn`.

    Args:
        fn: the per-process entry point.
        nproc: number of processes (1 runs `fn` in this process, without a group).
        backend: "gloo" or "nccl" to create the group before `fn` runs (for an `fn` that
            communicates before building a Trainer). None: the first Trainer creates it,
            with NCCL if it trains on CUDA and gloo otherwise.

    Returns:
        What `fn` returned on rank 0.

    Raises:
        ChildProcessError: a process raised; the message ends with the last line of its error
            (the whole traceback is the exception's cause).
    """
    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"launch: nproc must be an int >= 1, got {nproc!r}")
    if nproc == 1:
        return fn(*args)
    results = mp.get_context("spawn").SimpleQueue()
    processes = mp.start_processes(
        _worker,
        args=(fn, args, nproc, _free_port(), backend, results),
        nprocs=nproc,
        join=False,
        start_method="spawn",
    )
    # Drain the queue while waiting: a large result would otherwise block rank 0 in put()
    # while we block in join(). join() re-raises the first failure of any process.
    payload = None
    try:
        while not processes.join(timeout=0.1):
            if payload is None and not results.empty():
                payload = results.get()
    except mp.ProcessRaisedException as err:
        # Its message is the child's whole traceback; the last line says what went wrong.
        what = [line for line in str(err).splitlines() if line.strip()][-1]
        raise ChildProcessError(f"process {err.error_index} of {nproc} failed: {what}") from err
    if payload is None and not results.empty():
        payload = results.get()
    return pickle.loads(payload)


def _worker(rank: int, fn, args, nproc: int, port: int, backend: str | None, results) -> None:
    env = {"RANK": rank, "LOCAL_RANK": rank, "WORLD_SIZE": nproc, "MASTER_PORT": port}
    os.environ.update({key: str(value) for key, value in env.items()})
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    if backend is not None:
        init_from_env(backend)
    try:
        result = fn(*args)
        if rank == 0:
            # Pickled to bytes here: torch's queue reducers would pass tensors as shared-memory
            # handles, which die with this process. (Our own processes only, never user files.)
            results.put(pickle.dumps(result))
    finally:
        _leave_group()


def _free_port() -> int:
    """A TCP port that was free a moment ago (the usual race is acceptable for local runs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
