// The engine's time loop, compiled: the counterpart of unroll/timeloop.py's Run.
//
// At small shapes the Python engine's cost is per-step overhead, not arithmetic: each step runs a
// dozen tensor ops from Python, each paying dispatch. Here a step is the cell's products (BLAS on
// raw pointers, or oneDNN for large float32 ones, see product.h) and one plain C++ loop over its
// units for the pointwise maths. Time bookkeeping is the Python engine's: slot k + d holds the
// state after step k, slots 0 .. d-1 the initial state, so dilation is an offset; lengths are
// handled by the caller (the forward, given them in inference, zeroes the outputs past them);
// zoneout and the recurrent dropout mask are applied here.
//
// Built at first use by unroll/compiled.py; when it cannot be built the Python engine runs.
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "cell.h"
#include "elman.h"
#include "gru.h"
#include "lstm.h"
#include "rows.h"

namespace rnnkit {
namespace {

// The cell for one call. kind and flags as unroll/compiled.py's native_cell names them.
template <typename scalar_t>
std::unique_ptr<Cell<scalar_t>> make_cell(const std::string& kind,
                                          const std::vector<double>& flags,
                                          const std::vector<Tensor>& weights, int64_t steps,
                                          int64_t batch, bool saving, int64_t onednn_from,
                                          const std::vector<Tensor>& saved) {
  const bool flag = !flags.empty() && flags[0] != 0.0;
  if (kind == "lstm") {
    return std::make_unique<LSTMCell<scalar_t>>(flags, weights, steps, batch, saving, onednn_from,
                                                saved);
  }
  if (kind == "gru") {
    return std::make_unique<GRUCell<scalar_t>>(flag, weights, steps, batch, saving, onednn_from,
                                               saved);
  }
  if (kind == "elman") {
    return std::make_unique<ElmanCell<scalar_t>>(flag, weights, steps, batch, onednn_from);
  }
  if (kind == "leaky") {
    return std::make_unique<LeakyCell<scalar_t>>(weights, steps, batch, saving, onednn_from,
                                                 saved);
  }
  TORCH_CHECK(false, "rnnkit native engine: unknown cell kind '", kind, "'");
}

// Zoneout forward: the slot keeps the previous value where keep is 1 (training), or takes
// lerp(made, prev, p) (evaluation: keep is null), with torch.lerp's rounding.
template <typename scalar_t>
void zoneout_forward(const scalar_t* __restrict prev, const scalar_t* __restrict made,
                     const scalar_t* __restrict keep, scalar_t p, scalar_t* __restrict slot,
                     int64_t n) {
  if (keep != nullptr) {
    for (int64_t j = 0; j < n; ++j) slot[j] = keep[j] != scalar_t(0) ? prev[j] : made[j];
  } else if (p < scalar_t(0.5)) {
    for (int64_t j = 0; j < n; ++j) slot[j] = made[j] + p * (prev[j] - made[j]);
  } else {
    for (int64_t j = 0; j < n; ++j) slot[j] = prev[j] - (prev[j] - made[j]) * (scalar_t(1) - p);
  }
}

// Zoneout backward: a kept unit passes its gradient g straight to the previous state.
template <typename scalar_t>
void zoneout_backward(const scalar_t* __restrict g, const scalar_t* __restrict keep, scalar_t p,
                      scalar_t* __restrict d_new, scalar_t* __restrict d_prev, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const scalar_t k = keep != nullptr ? keep[j] : p;
    d_new[j] = g[j] - g[j] * k;
    d_prev[j] += g[j] * k;
  }
}

// out = a * b over n units (the recurrent dropout mask on h_in), or out += a * b.
template <typename scalar_t, bool kAccumulate>
void multiply(const scalar_t* __restrict a, const scalar_t* __restrict b,
              scalar_t* __restrict out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = (kAccumulate ? out[j] : scalar_t(0)) + a[j] * b[j];
}

// Zoneout as the loop sees it: per-state (T, B, H) keep masks (training) or p (evaluation).
struct Zoneout {
  std::vector<Tensor> keep;
  double p;  // < 0: no zoneout

  bool on() const { return !keep.empty() || p >= 0.0; }

  template <typename scalar_t>
  const scalar_t* keep_at(size_t state, int64_t offset) const {
    return keep.empty() ? nullptr : ptr<scalar_t>(keep[state]) + offset;
  }
};

std::vector<Tensor> narrowed(const std::vector<Tensor>& all, int64_t start, int64_t length) {
  std::vector<Tensor> out;
  for (const Tensor& a : all) out.push_back(a.narrow(0, start, length));
  return out;
}

using ForwardResult = std::tuple<std::vector<Tensor>, std::vector<Tensor>, std::vector<Tensor>>;

template <typename scalar_t>
ForwardResult forward_loop(const std::string& kind, const std::vector<double>& flags,
                           const Tensor& xp, const std::vector<Tensor>& initial,
                           const std::vector<Tensor>& weights, int64_t d,
                           const std::optional<Tensor>& mask, const Zoneout& zone, bool saving,
                           int64_t onednn_from, const std::optional<Tensor>& lengths) {
  TORCH_CHECK(xp.stride(2) == 1, "rnnkit native engine: xp's features must be contiguous");
  const int64_t steps = xp.size(0), batch = xp.size(1);
  const int64_t hidden = initial[0].size(1), units = batch * hidden;  // one state at one step
  const size_t n = initial.size();
  auto cell = make_cell<scalar_t>(kind, flags, weights, steps, batch, saving, onednn_from, {});
  // With zoneout the cell makes its states apart from the slots: every step's in training (the
  // backward reads them), one reused row in inference.
  const bool made_apart = zone.on(), made_each_step = !made_apart || saving;
  std::vector<Tensor> slots, made;
  for (const Tensor& s : initial) {
    Tensor slot = workspace(s, {steps + d, s.size(0), s.size(1)});
    slot.narrow(0, 0, d).copy_(s);
    made.push_back(made_apart ? workspace(s, {saving ? steps : 1, s.size(0), s.size(1)})
                              : slot.narrow(0, d, steps));
    slots.push_back(std::move(slot));
  }
  const Tensor h_in_buffer = workspace(initial[0], initial[0].sizes());
  const scalar_t* mask_p = mask ? ptr<scalar_t>(*mask) : nullptr;
  const int64_t* lengths_p = lengths ? lengths->data_ptr<int64_t>() : nullptr;
  for (int64_t t = 0; t < steps; ++t) {
    Step<scalar_t> step{t, ptr<scalar_t>(xp) + t * xp.stride(0), xp.stride(1), nullptr, {}, {}};
    for (size_t j = 0; j < n; ++j) {
      step.prev[j] = ptr<scalar_t>(slots[j]) + t * units;
      step.made[j] = ptr<scalar_t>(made[j]) + (made_each_step ? t * units : 0);
    }
    step.h_in = step.prev[0];
    if (mask_p != nullptr) {
      multiply<scalar_t, false>(step.prev[0], mask_p, ptr<scalar_t>(h_in_buffer), units);
      step.h_in = ptr<scalar_t>(h_in_buffer);
    }
    cell->forward(step);
    for (size_t j = 0; zone.on() && j < n; ++j) {
      const scalar_t* keep = zone.keep_at<scalar_t>(j, t * units);
      scalar_t* slot = ptr<scalar_t>(slots[j]) + (t + d) * units;
      for_each_row(batch, hidden, [&](int64_t b) {
        const int64_t u = b * hidden;
        zoneout_forward(step.prev[j] + u, step.made[j] + u, keep ? keep + u : nullptr,
                        static_cast<scalar_t>(zone.p), slot + u, hidden);
      });
    }
    // Past its length a row's output is zero. Its later states only feed its own later steps,
    // which are past its length too, so nothing that counts reads the zeros.
    for (int64_t b = 0; lengths_p != nullptr && b < batch; ++b) {
      if (t >= lengths_p[b]) {
        scalar_t* h = ptr<scalar_t>(slots[0]) + (t + d) * units + b * hidden;
        std::fill(h, h + hidden, scalar_t(0));
      }
    }
  }
  return {slots, made_apart && saving ? made : std::vector<Tensor>{}, cell->saved};
}

using BackwardResult = std::tuple<Tensor, std::vector<Tensor>, std::vector<Tensor>>;

// d_slots: per state (T + d, B, H), seeded by the caller with the gradients of the outputs and
// the final states; on return slots 0 .. d-1 hold the initial states' gradients.
template <typename scalar_t>
BackwardResult backward_loop(const std::string& kind, const std::vector<double>& flags,
                             const std::vector<Tensor>& weights, int64_t d,
                             const std::optional<Tensor>& mask, const Zoneout& zone,
                             int64_t onednn_from, const std::vector<Tensor>& slots,
                             const std::vector<Tensor>& made_in, const std::vector<Tensor>& saved,
                             const std::vector<Tensor>& d_slots) {
  const int64_t steps = slots[0].size(0) - d, batch = slots[0].size(1);
  const int64_t units = slots[0][0].numel();
  const size_t n = slots.size();
  auto cell = make_cell<scalar_t>(kind, flags, weights, steps, batch, true, onednn_from, saved);
  const std::vector<Tensor> made = made_in.empty() ? narrowed(slots, d, steps) : made_in;
  const std::vector<Tensor> prev_all = narrowed(slots, 0, steps);
  const Tensor h_in_all = mask ? prev_all[0] * *mask : prev_all[0];
  const Tensor d_new_buffer = zone.on() ? workspace(slots[0], {kMaxStates, units}) : Tensor();
  const Tensor d_h_in_buffer = workspace(slots[0], {batch, slots[0].size(2)});
  const scalar_t* mask_p = mask ? ptr<scalar_t>(*mask) : nullptr;
  for (int64_t t = steps - 1; t >= 0; --t) {
    const scalar_t* d_new[kMaxStates];
    scalar_t* d_prev[kMaxStates];
    Step<scalar_t> step{t, nullptr, 0, ptr<scalar_t>(h_in_all) + t * units, {}, {}};
    for (size_t j = 0; j < n; ++j) {
      scalar_t* d_after = ptr<scalar_t>(d_slots[j]) + (t + d) * units;
      d_prev[j] = ptr<scalar_t>(d_slots[j]) + t * units;
      d_new[j] = d_after;
      if (zone.on()) {
        scalar_t* buffer = ptr<scalar_t>(d_new_buffer) + j * units;
        zoneout_backward(d_after, zone.keep_at<scalar_t>(j, t * units),
                         static_cast<scalar_t>(zone.p), buffer, d_prev[j], units);
        d_new[j] = buffer;
      }
      step.prev[j] = ptr<scalar_t>(prev_all[j]) + t * units;
      step.made[j] = ptr<scalar_t>(made[j]) + t * units;
    }
    if (mask_p == nullptr) {
      cell->backward(step, d_new, d_prev, d_prev[0]);
    } else {  // the gradient reaching h_prev through h_in = h_prev * mask
      scalar_t* d_h_in = ptr<scalar_t>(d_h_in_buffer);
      std::fill(d_h_in, d_h_in + units, scalar_t(0));
      cell->backward(step, d_new, d_prev, d_h_in);
      multiply<scalar_t, true>(d_h_in, mask_p, d_prev[0], units);
    }
  }
  std::vector<Tensor> d_new_all = narrowed(d_slots, d, steps);
  for (size_t j = 0; zone.on() && j < n; ++j) {
    d_new_all[j] = zone.keep.empty() ? d_new_all[j] * (1.0 - zone.p)
                                     : d_new_all[j] * (1 - zone.keep[j]);
  }
  Grads grads = cell->finish(h_in_all, prev_all, made, d_new_all);
  return {grads.d_xp, grads.pairs, grads.others};
}

}  // namespace

ForwardResult forward(const std::string& kind, const std::vector<double>& flags, const Tensor& xp,
                      const std::vector<Tensor>& initial, const std::vector<Tensor>& weights,
                      int64_t dilation, const std::optional<Tensor>& mask,
                      const std::vector<Tensor>& keep, double zone_p, bool saving,
                      int64_t onednn_from, const std::optional<Tensor>& lengths) {
  ForwardResult result;
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "rnnkit_native_forward", [&] {
    result = forward_loop<scalar_t>(kind, flags, xp, initial, weights, dilation, mask,
                                    Zoneout{keep, zone_p}, saving, onednn_from, lengths);
  });
  return result;
}

BackwardResult backward(const std::string& kind, const std::vector<double>& flags,
                        const std::vector<Tensor>& weights, int64_t dilation,
                        const std::optional<Tensor>& mask, const std::vector<Tensor>& keep,
                        double zone_p, int64_t onednn_from, const std::vector<Tensor>& slots,
                        const std::vector<Tensor>& made, const std::vector<Tensor>& saved,
                        const std::vector<Tensor>& d_slots) {
  BackwardResult result;
  AT_DISPATCH_FLOATING_TYPES(slots[0].scalar_type(), "rnnkit_native_backward", [&] {
    result = backward_loop<scalar_t>(kind, flags, weights, dilation, mask, Zoneout{keep, zone_p},
                                     onednn_from, slots, made, saved, d_slots);
  });
  return result;
}

}  // namespace rnnkit

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &rnnkit::forward,
        "all steps of one cell: (slots, made, saved); given lengths, outputs past them are zero",
        py::call_guard<py::gil_scoped_release>());
  m.def("backward", &rnnkit::backward, "backpropagation through time: (d_xp, pairs, others)",
        py::call_guard<py::gil_scoped_release>());
  m.def("workspace", &rnnkit::workspace,
        "a (CPU) buffer of the given sizes and like's dtype from the engine's pool");
  m.def(
      "release_workspaces", [] { rnnkit::WorkspacePool::instance().release(); },
      "release the pool's free buffers");
  m.def(
      "set_workspace_pool",
      [](bool enabled) { rnnkit::WorkspacePool::instance().set_enabled(enabled); },
      "on (the default) or off: every buffer fresh");
  m.def(
      "workspace_bytes", [] { return rnnkit::WorkspacePool::instance().bytes(); },
      "bytes the pool holds: (all, of which free)");
}
