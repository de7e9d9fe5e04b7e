// The Elman RNN's two time loops in C++: rnn_forward and rnn_backward run all L steps of
// _RNNScan (rnnkit/nn/scan/rnn.py), the per-step matrix product through ATen and the activation
// (and layer norm) in one pass over each batch row. Same equations as _RNNScan:
//
//   forward:   h' = phi(x + a),  a = h_in W_hh^T  (LN: a = LN_{g_hh}(h_in W_hh^T)),  phi = tanh
//              or relu (b_hh is folded into x)
//   backward:  d pre = dh' phi'  (1 - h'^2, or [h' > 0]);  LN: da = LN_hh backward of d pre;
//              dh = (da W_hh) mask
#include "common.h"

namespace rnnkit {
namespace {

template <typename T>
void forward_rows(const Tensor& x_, const Tensor& a_, const Opt& w_, double eps,
                  const Tensor& mean_, const Tensor& rstd_, bool relu, const Tensor& h_new_) {
  const int64_t N = x_.size(0), H = x_.size(1);
  Rows<T> x(x_), a(a_), h_new(h_new_);
  const T* w = w_ ? w_->data_ptr<T>() : nullptr;
  T* mean = w ? mean_.data_ptr<T>() : nullptr;
  T* rstd = w ? rstd_.data_ptr<T>() : nullptr;
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const T *xr = x[row], *ar = a[row];
      T* hn = h_new[row];
      T m = 0, r = 1;
      if (w) {
        row_stats<T>(ar, H, T(eps), m, r);
        mean[row] = m;
        rstd[row] = r;
      }
      if (relu) {
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const T pre = xr[j] + (w ? w[j] * (ar[j] - m) * r : ar[j]);
          hn[j] = pre > T(0) ? pre : T(0);
        }
      } else {
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          hn[j] = std::tanh(xr[j] + (w ? w[j] * (ar[j] - m) * r : ar[j]));
        }
      }
    }
  });
}

template <typename T>
void backward_rows(const Tensor& dh_, const Tensor& h_new_, bool relu, const Opt& a_,
                   const Opt& w_, const Opt& mean_, const Opt& rstd_, const Tensor& d_pre_,
                   const Tensor& d_a_) {
  const int64_t N = dh_.size(0), H = dh_.size(1);
  Rows<T> dh(dh_), h_new(h_new_), d_pre(d_pre_), d_a(d_a_);
  const T* w = w_ ? w_->data_ptr<T>() : nullptr;
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    std::vector<T> unused(w ? H : 0);  // the gain gradient is summed over all steps afterwards
    for (int64_t row = begin; row < end; ++row) {
      const T *dhr = dh[row], *hn = h_new[row];
      T* dpr = d_pre[row];
      if (relu) {
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) dpr[j] = hn[j] > T(0) ? dhr[j] : T(0);
      } else {
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) dpr[j] = dhr[j] * (T(1) - hn[j] * hn[j]);
      }
      if (w) {
        const T* ar = Rows<T>(*a_)[row];
        row_ln_backward<T>(dpr, ar, w, H, mean_->data_ptr<T>()[row], rstd_->data_ptr<T>()[row],
                           d_a[row], unused.data(), nullptr);
      }
    }
  });
}

}  // namespace

// Forward over all L steps. Shapes: x (L, N, H) the projected input (both biases folded in),
// h0 (N, H), mask (N, H), alive (L, N, 1) bool, w_hh (H, H), g_hh (H) LN gain. Returns, None
// where an option is off: h_new (L, N, H), a_raw (L, N, H) (h_in W_hh^T, LN only), a_mean,
// a_rstd (L, N, 1) (LN only), h_in (mask only), h_st (the state after each step; h_new without
// alive), h_n (N, H). Without `keep` the buffers other than h_new have two rotating slots.
std::vector<Tensor> rnn_forward(const Tensor& x, const Tensor& h0, const Opt& mask,
                                const Opt& alive, const Tensor& w_hh, const Opt& g_hh, double eps,
                                bool relu, bool keep) {
  check(x, "x");
  const int64_t L = x.size(0), N = x.size(1), H = x.size(2);
  const bool ln = g_hh.has_value();
  const int64_t slots = keep ? L : std::min<int64_t>(L, 2);
  auto empty = [&](int64_t K) { return at::empty({slots, N, K}, x.options()); };
  auto step = [](const Tensor& buffer, int64_t t) { return buffer.select(0, t % buffer.size(0)); };
  Tensor h_new = at::empty({L, N, H}, x.options());
  // a_raw: h_in W_hh^T, every step kept for LN's backward, else one scratch slot
  Tensor a_raw = ln ? empty(H) : at::empty({1, N, H}, x.options()), a_mean, a_rstd;
  if (ln) a_mean = empty(1), a_rstd = empty(1);
  Tensor h_in = mask ? empty(H) : Tensor();
  Tensor h_st = alive ? empty(H) : h_new;
  const Tensor w_t = w_hh.t();
  Tensor h = h0.contiguous();
  for (int64_t t = 0; t < L; ++t) {
    Tensor hin = h, h_t = h_new[t], a_t = step(a_raw, t);
    if (mask) {
      hin = step(h_in, t);
      at::mul_out(hin, h, *mask);
    }
    at::mm_out(a_t, hin, w_t);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rnn_forward", [&] {
      forward_rows<scalar_t>(x[t], a_t, g_hh, eps, ln ? step(a_mean, t) : Tensor(),
                             ln ? step(a_rstd, t) : Tensor(), relu, h_t);
    });
    if (alive) {
      Tensor s_t = step(h_st, t);
      h = at::where_out(s_t, (*alive)[t], h_t, h);
    } else {
      h = h_t;
    }
  }
  return {h_new, ln ? a_raw : Tensor(), a_mean, a_rstd, h_in, h_st, h.clone()};
}

// Backward over all L steps, given d_out (L, N, H) (zero where a step is dead), d_hT (N, H) and
// forward's buffers. Returns d_pre (L, N, H) (= d x), d_h0 (N, H) and d_a (L, N, H) (d of
// h_in W_hh^T; d_pre itself without LN).
std::vector<Tensor> rnn_backward(const Tensor& d_out, const Tensor& d_hT, const Opt& mask,
                                 const Opt& alive, const Tensor& w_hh, const Opt& g_hh,
                                 const Tensor& h_new, const Opt& a_raw, const Opt& a_mean,
                                 const Opt& a_rstd, bool relu) {
  const int64_t L = h_new.size(0), N = h_new.size(1), H = h_new.size(2);
  const bool ln = g_hh.has_value();
  Tensor d_pre = at::empty({L, N, H}, h_new.options());
  Tensor d_a = ln ? at::empty({L, N, H}, h_new.options()) : d_pre;
  Tensor dh = at::empty({N, H}, h_new.options());
  const Tensor alive_f = alive ? alive->to(h_new.scalar_type()) : Tensor();
  Tensor d_h = d_hT;
  for (int64_t t = L - 1; t >= 0; --t) {
    at::add_out(dh, d_out[t], alive ? d_h * alive_f[t] : d_h);
    AT_DISPATCH_FLOATING_TYPES(h_new.scalar_type(), "rnn_backward", [&] {
      if (ln) {
        backward_rows<scalar_t>(dh, h_new[t], relu, (*a_raw)[t], g_hh, (*a_mean)[t],
                                (*a_rstd)[t], d_pre[t], d_a[t]);
      } else {
        backward_rows<scalar_t>(dh, h_new[t], relu, Opt(), Opt(), Opt(), Opt(), d_pre[t],
                                d_a[t]);
      }
    });
    Tensor dh_prev = at::mm(d_a[t], w_hh);
    if (mask) dh_prev.mul_(*mask);
    d_h = alive ? at::where((*alive)[t], dh_prev, d_h) : dh_prev;
  }
  return {d_pre, d_h, d_a};
}

}  // namespace rnnkit
