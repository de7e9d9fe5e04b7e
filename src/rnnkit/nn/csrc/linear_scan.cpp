// The first-order linear recurrence of minGRU and minLSTM, h_t = a_t h_{t-1} + b_t, element by
// element over L steps, and its backward:
//
//   forward:   h_t = a_t h_{t-1} + b_t                     (h_{-1} = h0)
//   backward:  g_t = dh_t + a_{t+1} g_{t+1}                (g_L = 0: dh_t is d loss / d h_t)
//              db_t = g_t,  da_t = g_t h_{t-1},  dh0 = a_0 g_0
//
// The M = N*H independent recurrences are split across threads; each thread walks time over
// its contiguous slice, which the compiler vectorises. One pass over the (L, M) buffers, no
// logarithms: on a CPU this beats the log-space parallel scan (see docs/speed.md).
#include "common.h"

namespace rnnkit {
namespace {

constexpr int64_t kSlice = 256;  // recurrences per task

template <typename T>
void forward_slices(const T* a, const T* b, const T* h0, T* h, int64_t L, int64_t M) {
  at::parallel_for(0, M, kSlice, [&](int64_t begin, int64_t end) {
    const int64_t n = end - begin;
    const T* prev = h0 + begin;
    for (int64_t t = 0; t < L; ++t) {
      const int64_t o = t * M + begin;
      const T *at = a + o, *bt = b + o;
      T* ht = h + o;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) ht[j] = at[j] * prev[j] + bt[j];
      prev = ht;
    }
  });
}

template <typename T>
void backward_slices(const T* dh, const T* a, const T* h, const T* h0, T* da, T* db, T* dh0,
                     int64_t L, int64_t M) {
  at::parallel_for(0, M, kSlice, [&](int64_t begin, int64_t end) {
    const int64_t n = end - begin;
    std::vector<T> g_(n, T(0));  // a_{t+1} g_{t+1}: the gradient reaching h_t from later steps
    T* g = g_.data();
    for (int64_t t = L - 1; t >= 0; --t) {
      const int64_t o = t * M + begin;
      const T* prev = t > 0 ? h + o - M : h0 + begin;
      const T *at = a + o, *dht = dh + o;
      T *dat = da + o, *dbt = db + o;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) {
        const T gj = g[j] + dht[j];
        dbt[j] = gj;
        dat[j] = gj * prev[j];
        g[j] = gj * at[j];
      }
    }
    for (int64_t j = 0; j < n; ++j) dh0[begin + j] = g[j];
  });
}

void check_scan(const Tensor& t, const char* name, const Tensor& like) {
  TORCH_CHECK(t.device().is_cpu() && t.is_contiguous(), name, " must be contiguous on the CPU");
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), name, " must have the dtype of a");
}

}  // namespace

// h (L, ...) from a, b (L, ...) and h0 (...), all contiguous, one dtype.
Tensor linear_scan_forward(const Tensor& a, const Tensor& b, const Tensor& h0) {
  check_scan(a, "a", a), check_scan(b, "b", a), check_scan(h0, "h0", a);
  TORCH_CHECK(a.sizes() == b.sizes() && a.numel() == a.size(0) * h0.numel(), "shapes differ");
  const int64_t L = a.size(0), M = h0.numel();
  Tensor h = at::empty_like(a);
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "linear_scan_forward", [&] {
    forward_slices<scalar_t>(a.data_ptr<scalar_t>(), b.data_ptr<scalar_t>(),
                             h0.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(), L, M);
  });
  return h;
}

// d a, d b (L, ...) and d h0 (...) from dh (L, ...) (the gradient of every h_t), a, h and h0.
std::vector<Tensor> linear_scan_backward(const Tensor& dh, const Tensor& a, const Tensor& h,
                                         const Tensor& h0) {
  check_scan(dh, "dh", a), check_scan(h, "h", a), check_scan(h0, "h0", a);
  const int64_t L = a.size(0), M = h0.numel();
  Tensor da = at::empty_like(a), db = at::empty_like(a), dh0 = at::empty_like(h0);
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "linear_scan_backward", [&] {
    backward_slices<scalar_t>(dh.data_ptr<scalar_t>(), a.data_ptr<scalar_t>(),
                              h.data_ptr<scalar_t>(), h0.data_ptr<scalar_t>(),
                              da.data_ptr<scalar_t>(), db.data_ptr<scalar_t>(),
                              dh0.data_ptr<scalar_t>(), L, M);
  });
  return {da, db, dh0};
}

}  // namespace rnnkit
