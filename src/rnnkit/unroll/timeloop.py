"""The engine's time loop in Python: one call's steps forward and backward around a kernel.

Time bookkeeping lives here, once for every cell: state slot ``k + d`` holds the state after step
``k`` and slots ``0 .. d-1`` hold the initial state, so step t reads slot t and dilation is just an
offset ``d``. Zoneout and the recurrent dropout mask are applied here too; lengths are the caller's
(``engine.py``). ``compiled.py`` runs the same loop compiled, where it can.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .pointwise import Kernel


class Run:
    """One engine call: the loops forward and backward, and the time bookkeeping around a kernel."""

    def __init__(self, kernel: type[Kernel], config, dilation, lengths, recurrent_mask, zone):
        self.kernel_class = kernel
        self.config = config
        self.dilation = dilation
        self.lengths = lengths
        self.mask = recurrent_mask
        self.zone = zone  # None, a float p (evaluation) or per-state keep masks (training)
        self.zeroed_padding = False  # whether forward left zeros in the outputs past lengths

    def project(self, cell, x: Tensor) -> Tensor:
        """The projected input of all steps, ``(..., G)`` for ``x`` of ``(..., I)`` in either
        layout (time-major or batch-major: the projection is row by row)."""
        return self.kernel_class.project(cell, x)

    def weights(self, cell) -> list[Tensor]:
        """The weights the loops read (``forward``'s), whose gradients ``backward`` returns."""
        return self.kernel_class.weights(cell)

    def forward(self, xp: Tensor, initial: list[Tensor], weights: list[Tensor], saving: bool):
        """Run all steps. Returns the state slots ``(T + d, B, H)`` per state, the states as the
        cell made them before zoneout (``(T, B, H)``; the slots' views when there is no zoneout)
        and the kernel, which holds what its backward needs."""
        steps, batch = xp.shape[:2]
        d = self.dilation
        kernel = self.kernel_class(self.config, weights, steps, batch, saving)
        slots = [s.new_empty(steps + d, *s.shape) for s in initial]
        for slot, s in zip(slots, initial, strict=True):
            slot[:d] = s
        made = (
            [slot[d:] for slot in slots]
            if self.zone is None
            else [torch.empty_like(slot[d:]) for slot in slots]
        )
        slot_rows = [slot.unbind(0) for slot in slots]
        made_rows = [m.unbind(0) for m in made]
        xp_rows = xp.unbind(0)
        for t in range(steps):
            prev = [rows[t] for rows in slot_rows]
            h_in = prev[0] if self.mask is None else prev[0] * self.mask
            new = [rows[t] for rows in made_rows]
            kernel.step(t, xp_rows[t], h_in, prev, new)
            if self.zone is not None:
                for j, rows in enumerate(slot_rows):
                    if isinstance(self.zone, float):
                        torch.lerp(new[j], prev[j], self.zone, out=rows[t + d])
                    else:
                        torch.where(self.zone[j][t], prev[j], new[j], out=rows[t + d])
        return slots, made, kernel

    def outputs(self, slots: list[Tensor]) -> list[Tensor]:
        """The output sequence (time-major) and the final state at each row's own last step."""
        d = self.dilation
        if self.lengths is None:
            finals = [slot[-1] for slot in slots]
        else:
            rows = torch.arange(self.lengths.shape[0], device=self.lengths.device)
            finals = [slot[self.lengths - 1 + d, rows] for slot in slots]
        return [slots[0][d:], *finals]

    def seed_gradients(self, slots, d_out, d_finals) -> list[Tensor]:
        """Per state, ``(T + d, B, H)`` zeros holding the gradients of the outputs and the final
        states: ``d_slots[j][k + d]`` becomes the gradient of state j after step k, complete once
        the backward has done step k + d."""
        d = self.dilation
        steps, batch = slots[0].shape[0] - d, slots[0].shape[1]
        d_slots = [self.zeros_like(slot) for slot in slots]
        if d_out is not None:
            d_slots[0][d:] += d_out
        last = (
            torch.full((batch,), steps - 1, device=slots[0].device)
            if self.lengths is None
            else self.lengths - 1
        )
        rows = torch.arange(batch, device=last.device)
        for d_slot, d_final in zip(d_slots, d_finals, strict=True):
            if d_final is not None:
                d_slot.index_put_((last + d, rows), d_final, accumulate=True)
        return d_slots

    def zeros_like(self, t: Tensor) -> Tensor:
        """A zeroed buffer shaped like ``t`` (the compiled loop's come from its workspace pool)."""
        return torch.zeros_like(t)

    def backward(self, kernel, slots, made, d_out, d_finals):
        """Gradients of the projected input, the initial states and the kernel's weights."""
        d = self.dilation
        steps = made[0].shape[0]
        d_slots = self.seed_gradients(slots, d_out, d_finals)
        prev_all = [slot[:steps] for slot in slots]
        h_in_all = prev_all[0] if self.mask is None else prev_all[0] * self.mask
        kernel.prepare_backward(h_in_all, prev_all, made)
        keep = self._keep_weights(slots)
        d_rows = [d_slot.unbind(0) for d_slot in d_slots]
        prev_rows = [p.unbind(0) for p in prev_all]
        made_rows = [m.unbind(0) for m in made]
        for t in range(steps - 1, -1, -1):
            d_after = [r[t + d] for r in d_rows]
            d_prev = [r[t] for r in d_rows]
            if keep is None:
                d_new = d_after
            else:  # zoneout: a kept unit passes its gradient straight to the previous state
                d_new = [g - g * k[t] for g, k in zip(d_after, keep, strict=True)]
                for dp, g, k in zip(d_prev, d_after, keep, strict=True):
                    dp.addcmul_(g, k[t])
            prev = [r[t] for r in prev_rows]
            new = [r[t] for r in made_rows]
            extra, d_mat, back = kernel.step_backward(t, d_new, prev, new, d_prev)
            self._add_recurrent_grad(d_prev[0], extra, d_mat, back)

        d_new_all = [d_slot[d:] for d_slot in d_slots]
        if keep is not None:
            d_new_all = [g * (1 - k) for g, k in zip(d_new_all, keep, strict=True)]
        d_xp, d_weights = kernel.grads(h_in_all, prev_all, made, d_new_all)
        d_initial = [d_slot[:d].sum(0) for d_slot in d_slots]
        return d_xp, d_initial, d_weights

    def _keep_weights(self, slots: list[Tensor]) -> list[Tensor] | None:
        """Zoneout as per-step weights on the previous state: 0/1 masks, or p in evaluation."""
        if self.zone is None:
            return None
        like = slots[0]
        if isinstance(self.zone, float):
            steps = like.shape[0] - self.dilation
            return [like.new_full((steps, 1, 1), self.zone)] * len(slots)
        return [k.to(like.dtype) for k in self.zone]

    def _add_recurrent_grad(self, dest: Tensor, extra, d_mat: Tensor, back) -> None:
        """``dest += (extra + back(d_mat)) * mask``: the gradient reaching h_prev through h_in."""
        if self.mask is None:
            back.accumulate(dest, d_mat)
            if extra is not None:
                dest.add_(extra)
            return
        d_h_in = back(d_mat) if extra is None else back(d_mat).add_(extra)
        dest.addcmul_(d_h_in, self.mask)
