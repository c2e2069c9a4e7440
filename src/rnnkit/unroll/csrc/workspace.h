// Workspaces reused across calls (DESIGN.md §3): the engine's large buffers come from a pool.
//
// Why: a training step at (B, T, I, H) = (64, 100, 256, 256) needs ~100 MB of fresh buffers, and
// glibc hands buffers that large out as newly mapped pages and unmaps them when they are freed,
// so every step pays a page fault per 4 KiB page (measured: a fifth to a third of a layer-norm
// LSTM's step, benchmarks/RESULTS.md). On GPU PyTorch's caching allocator already does this.
//
// How a buffer comes back: the pool holds one reference to each storage it made. A storage whose
// only reference is the pool's is free, whoever held it before: autograd (which drops the saved
// buffers when the graph is freed, not before, so retain_graph=True keeps them), the caller (an
// output sequence is a view of the state slots: it stays the caller's as long as it lives). So
// nothing is handed out twice, and no lifetime needs tracking by hand. A free buffer not reused
// for kForgetAfter requests is released, so shapes seen once do not pin memory.
#pragma once

#include <torch/extension.h>

#include <cstdint>
#include <mutex>
#include <vector>

namespace rnnkit {

class WorkspacePool {
 public:
  static WorkspacePool& instance() {
    static WorkspacePool pool;
    return pool;
  }

  // A tensor of `sizes` in like's dtype, on the CPU, its values undefined (as torch::empty's).
  torch::Tensor take(const torch::Tensor& like, at::IntArrayRef sizes) {
    int64_t numel = 1;
    for (int64_t s : sizes) numel *= s;
    std::lock_guard<std::mutex> guard(mutex_);
    if (!enabled_ || !like.device().is_cpu() || numel == 0) return like.new_empty(sizes);
    ++requests_;
    Entry* best = nullptr;
    for (Entry& e : entries_) {
      // a buffer serves requests from half its size up, so similar shapes share it
      const bool fits = e.buffer.dtype() == like.dtype() && e.buffer.numel() >= numel &&
                        e.buffer.numel() <= 2 * numel;
      if (fits && is_free(e) && (best == nullptr || e.buffer.numel() < best->buffer.numel())) {
        best = &e;
      }
    }
    torch::Tensor view;
    if (best != nullptr) {
      best->last_request = requests_;
      view = best->buffer.narrow(0, 0, numel).view(sizes);
    } else {
      entries_.push_back({torch::empty({numel}, like.options()), requests_});
      view = entries_.back().buffer.view(sizes);
    }
    forget_stale();
    return view;
  }

  // Off: every request is a fresh buffer, as before the pool (to measure what it saves).
  void set_enabled(bool enabled) {
    std::lock_guard<std::mutex> guard(mutex_);
    enabled_ = enabled;
  }

  // Release every free buffer (the counterpart of torch.cuda.empty_cache).
  void release() {
    std::lock_guard<std::mutex> guard(mutex_);
    std::vector<Entry> kept;
    for (Entry& e : entries_) {
      if (!is_free(e)) kept.push_back(std::move(e));
    }
    entries_ = std::move(kept);
  }

  // Bytes held by the pool: (all, of which free).
  std::pair<int64_t, int64_t> bytes() {
    std::lock_guard<std::mutex> guard(mutex_);
    int64_t all = 0, free = 0;
    for (const Entry& e : entries_) {
      const int64_t n = static_cast<int64_t>(e.buffer.nbytes());
      all += n;
      if (is_free(e)) free += n;
    }
    return {all, free};
  }

 private:
  // About a few training steps of a deep bidirectional model: longer than any shape keeps
  // coming back in a training loop, short enough that a shape seen once is soon let go.
  static constexpr int64_t kForgetAfter = 512;

  struct Entry {
    torch::Tensor buffer;  // 1-D, the pool's own reference to the storage
    int64_t last_request;
  };

  static bool is_free(const Entry& e) { return e.buffer.storage().use_count() == 1; }

  void forget_stale() {
    std::vector<Entry> kept;
    for (Entry& e : entries_) {
      if (!is_free(e) || requests_ - e.last_request < kForgetAfter) kept.push_back(std::move(e));
    }
    entries_ = std::move(kept);
  }

  std::mutex mutex_;
  bool enabled_ = true;
  std::vector<Entry> entries_;
  int64_t requests_ = 0;
};

inline torch::Tensor workspace(const torch::Tensor& like, at::IntArrayRef sizes) {
  return WorkspacePool::instance().take(like, sizes);
}

}  // namespace rnnkit
