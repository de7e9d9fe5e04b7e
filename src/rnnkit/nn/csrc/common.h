// What the compiled time loops share: the logistic function, layer-norm statistics and their
// backward over one row, row pointers, argument checks. Included by every loop's source.
#pragma once

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <optional>
#include <vector>

namespace rnnkit {

constexpr int64_t kGrain = 8;  // rows per task

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// mean and rstd of v[0..K), two passes (as torch's layer norm: no cancellation in the variance)
template <typename T>
inline void row_stats(const T* v, int64_t K, T eps, T& mean, T& rstd) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < K; ++k) s += v[k];
  mean = s / K;
  T ss = 0;
#pragma omp simd reduction(+ : ss)
  for (int64_t k = 0; k < K; ++k) ss += (v[k] - mean) * (v[k] - mean);
  rstd = T(1) / std::sqrt(ss / K + eps);
}

// out[k] = rstd (d[k] w[k] - mean(d w) - vhat[k] mean(d w vhat)), vhat = (v - mean) rstd;
// and the row's share of the gain and bias gradients: dw[k] += d[k] vhat[k], db[k] += d[k]
template <typename T>
inline void row_ln_backward(const T* d, const T* v, const T* w, int64_t K, T mean, T rstd, T* out,
                            T* dw, T* db) {
  T s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
  for (int64_t k = 0; k < K; ++k) {
    T dwk = d[k] * w[k];
    s1 += dwk;
    s2 += dwk * (v[k] - mean) * rstd;
  }
  s1 /= K;
  s2 /= K;
#pragma omp simd
  for (int64_t k = 0; k < K; ++k) {
    T vhat = (v[k] - mean) * rstd;
    out[k] = rstd * (d[k] * w[k] - s1 - vhat * s2);
    dw[k] += d[k] * vhat;
  }
  if (db != nullptr) {
#pragma omp simd
    for (int64_t k = 0; k < K; ++k) db[k] += d[k];
  }
}

// Refuses a tensor the loops cannot read row by row.
inline void check(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu(), name, " must be on the CPU");
  TORCH_CHECK(t.dim() == 1 || t.stride(-1) == 1, name, " must have unit stride in its last dim");
}

// Row pointer of a 2-D tensor (unit stride in its last dim).
template <typename T>
struct Rows {
  T* data;
  int64_t stride;
  explicit Rows(const torch::Tensor& t) : data(t.data_ptr<T>()), stride(t.stride(0)) {}
  T* operator[](int64_t n) const { return data + n * stride; }
};

using torch::Tensor;
using Opt = std::optional<Tensor>;

}  // namespace rnnkit
