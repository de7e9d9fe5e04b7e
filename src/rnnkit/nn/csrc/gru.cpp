// The GRU's two time loops in C++: gru_forward and gru_backward run all L steps of _GRUScan
// (rnnkit/nn/scan/gru.py), the per-step matrix product through ATen and each step's element-wise
// work in one pass over each batch row. Same equations and gate order (r, z, n) as _GRUScan and
// its torch-op loops:
//
//   forward:   p = h_in W_hh^T + b_hh   (LN: p = LN_{g_hh, b_hh}(h_in W_hh^T))
//              r, z = sigmoid(x_{r,z} + p_{r,z}),  n = tanh(x_n + r p_n),  h' = n + z (h - n)
//   backward:  dn_pre = dh' (1 - z)(1 - n^2),  dz_pre = dh' (h - n) z (1 - z),
//              dr_pre = dn_pre p_n r (1 - r)
//              dp = [dr_pre, dz_pre, dn_pre r],  d x = [dr_pre, dz_pre, dn_pre]
//              LN: da = LN_hh backward of dp;  dh = (da W_hh) mask + dh' z
#include "common.h"

namespace rnnkit {
namespace {

template <typename T>
void forward_rows(const Tensor& x_, const Tensor& p_, const Tensor& h_, const Tensor& rz_,
                  const Tensor& n_, const Tensor& h_new_) {
  const int64_t N = x_.size(0), H = x_.size(1) / 3;
  Rows<T> x(x_), p(p_), h(h_), rz(rz_), n(n_), h_new(h_new_);
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const T *xr = x[row], *pr = p[row], *hr = h[row];
      T *rzr = rz[row], *nr = n[row], *hn = h_new[row];
#pragma omp simd
      for (int64_t j = 0; j < 2 * H; ++j) rzr[j] = sigmoid(xr[j] + pr[j]);
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T nj = std::tanh(xr[2 * H + j] + rzr[j] * pr[2 * H + j]);
        nr[j] = nj;
        hn[j] = nj + rzr[H + j] * (hr[j] - nj);
      }
    }
  });
}

// LN of a = h_in W_hh^T into p (gain w, bias b or none), then forward_rows' work.
template <typename T>
void ln_forward_rows(const Tensor& x_, const Tensor& a_, const Tensor& w_, const Opt& b_,
                     double eps, const Tensor& p_, const Tensor& mean_, const Tensor& rstd_,
                     const Tensor& h_, const Tensor& rz_, const Tensor& n_, const Tensor& h_new_) {
  const int64_t N = a_.size(0), G = a_.size(1);
  Rows<T> a(a_), p(p_);
  const T* w = w_.data_ptr<T>();
  const T* b = b_ ? b_->data_ptr<T>() : nullptr;
  T *mean = mean_.data_ptr<T>(), *rstd = rstd_.data_ptr<T>();
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const T* ar = a[row];
      T* pr = p[row];
      T m, r;
      row_stats<T>(ar, G, T(eps), m, r);
      mean[row] = m;
      rstd[row] = r;
#pragma omp simd
      for (int64_t k = 0; k < G; ++k) pr[k] = w[k] * (ar[k] - m) * r + (b ? b[k] : T(0));
    }
  });
  forward_rows<T>(x_, p_, h_, rz_, n_, h_new_);
}

template <typename T>
void backward_rows(const Tensor& dh_, const Tensor& rz_, const Tensor& n_, const Tensor& p_,
                   const Tensor& h_, const Tensor& dx_, const Tensor& dp_, const Tensor& dhz_) {
  const int64_t N = dh_.size(0), H = dh_.size(1);
  Rows<T> dh(dh_), rz(rz_), n(n_), p(p_), h(h_), dx(dx_), dp(dp_), dhz(dhz_);
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const T *dhr = dh[row], *rzr = rz[row], *nr = n[row], *pr = p[row], *hr = h[row];
      T *dxr = dx[row], *dpr = dp[row], *dhzr = dhz[row];
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T r = rzr[j], z = rzr[H + j], nj = nr[j], d = dhr[j];
        const T dn = d * (T(1) - z) * (T(1) - nj * nj);
        const T dz = d * (hr[j] - nj) * z * (T(1) - z);
        const T dr = dn * pr[2 * H + j] * r * (T(1) - r);
        dxr[j] = dr;
        dxr[H + j] = dz;
        dxr[2 * H + j] = dn;
        dpr[j] = dr;
        dpr[H + j] = dz;
        dpr[2 * H + j] = dn * r;
        dhzr[j] = d * z;
      }
    }
  });
}

template <typename T>
void ln_backward_rows(const Tensor& dp_, const Tensor& a_, const Tensor& w_, const Tensor& mean_,
                      const Tensor& rstd_, const Tensor& da_) {
  const int64_t N = dp_.size(0), G = dp_.size(1);
  Rows<T> dp(dp_), a(a_), da(da_);
  const T* w = w_.data_ptr<T>();
  const T *mean = mean_.data_ptr<T>(), *rstd = rstd_.data_ptr<T>();
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    std::vector<T> unused(G);  // the gain gradients are summed over all steps afterwards
    for (int64_t row = begin; row < end; ++row) {
      row_ln_backward<T>(dp[row], a[row], w, G, mean[row], rstd[row], da[row], unused.data(),
                         nullptr);
    }
  });
}

}  // namespace

// Forward over all L steps (the loop of _GRUScan.forward). Shapes: x (L, N, 3H) the projected
// input (b_ih folded in), h0 (N, H), mask (N, H) recurrent dropout, alive (L, N, 1) bool,
// w_hh (3H, H), b_hh (3H), g_hh (3H) LN gain of the recurrent term. Returns, undefined (None)
// where an option is off: p (L, N, 3H) the recurrent term after LN and bias, a_raw (L, N, 3H)
// (h_in W_hh^T, LN only), a_mean, a_rstd (L, N, 1) (LN only), rz (L, N, 2H), n (L, N, H),
// h_new (L, N, H), h_in (L, N, H) (mask only), h_st (L, N, H) (the state after each step;
// h_new without alive), h_n (N, H). Without `keep` (inference) only h_new and h_n are
// meaningful: every other buffer has two rotating slots.
std::vector<Tensor> gru_forward(const Tensor& x, const Tensor& h0, const Opt& mask,
                                const Opt& alive, const Tensor& w_hh, const Opt& b_hh,
                                const Opt& g_hh, double eps, bool keep) {
  check(x, "x");
  const int64_t L = x.size(0), N = x.size(1), G = x.size(2), H = G / 3;
  const bool ln = g_hh.has_value();
  const int64_t slots = keep ? L : std::min<int64_t>(L, 2);
  auto empty = [&](int64_t K) { return at::empty({slots, N, K}, x.options()); };
  auto step = [](const Tensor& buffer, int64_t t) { return buffer.select(0, t % buffer.size(0)); };
  Tensor p = empty(G), rz = empty(2 * H), n = empty(H);
  Tensor h_new = at::empty({L, N, H}, x.options());
  Tensor a_raw, a_mean, a_rstd;
  if (ln) a_raw = empty(G), a_mean = empty(1), a_rstd = empty(1);
  Tensor h_in = mask ? empty(H) : Tensor();
  Tensor h_st = alive ? empty(H) : h_new;
  const Tensor w_t = w_hh.t();
  Tensor h = h0.contiguous();
  for (int64_t t = 0; t < L; ++t) {
    Tensor hin = h, p_t = step(p, t), h_t = h_new[t];
    if (mask) {
      hin = step(h_in, t);
      at::mul_out(hin, h, *mask);
    }
    if (ln) {
      Tensor a_t = step(a_raw, t);
      at::mm_out(a_t, hin, w_t);
    } else if (b_hh) {
      at::addmm_out(p_t, *b_hh, hin, w_t);
    } else {
      at::mm_out(p_t, hin, w_t);
    }
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gru_forward", [&] {
      if (ln) {
        ln_forward_rows<scalar_t>(x[t], step(a_raw, t), *g_hh, b_hh, eps, p_t, step(a_mean, t),
                                  step(a_rstd, t), h, step(rz, t), step(n, t), h_t);
      } else {
        forward_rows<scalar_t>(x[t], p_t, h, step(rz, t), step(n, t), h_t);
      }
    });
    if (alive) {
      Tensor s_t = step(h_st, t);
      h = at::where_out(s_t, (*alive)[t], h_t, h);
    } else {
      h = h_t;
    }
  }
  return {p, a_raw, a_mean, a_rstd, rz, n, h_new, h_in, h_st, h.clone()};
}

// Backward over all L steps (the loop of _GRUScan.backward), given d_out (L, N, H) (already zero
// where a step is dead), d_hT (N, H) and forward's buffers. Returns d_x (L, N, 3H), d_h0 (N, H),
// d_p (L, N, 3H) (d of the recurrent term after LN and bias) and d_a (L, N, 3H) (d of
// h_in W_hh^T; d_p itself without LN).
std::vector<Tensor> gru_backward(const Tensor& d_out, const Tensor& d_hT, const Tensor& h0,
                                 const Opt& mask, const Opt& alive, const Tensor& w_hh,
                                 const Opt& g_hh, const Tensor& p, const Opt& a_raw,
                                 const Opt& a_mean, const Opt& a_rstd, const Tensor& rz,
                                 const Tensor& n, const Tensor& h_st) {
  const int64_t L = n.size(0), N = n.size(1), H = n.size(2), G = 3 * H;
  const bool ln = g_hh.has_value();
  auto empty = [&](int64_t K) { return at::empty({L, N, K}, n.options()); };
  Tensor d_x = empty(G), d_p = empty(G), d_a = ln ? empty(G) : d_p;
  Tensor dhz = at::empty({N, H}, n.options()), dh = at::empty({N, H}, n.options());
  const Tensor alive_f = alive ? alive->to(n.scalar_type()) : Tensor();
  const Tensor h0c = h0.contiguous();
  Tensor d_h = d_hT;  // gradient w.r.t. the state after step t
  for (int64_t t = L - 1; t >= 0; --t) {
    at::add_out(dh, d_out[t], alive ? d_h * alive_f[t] : d_h);
    const Tensor h_prev = t == 0 ? h0c : h_st[t - 1];
    AT_DISPATCH_FLOATING_TYPES(n.scalar_type(), "gru_backward", [&] {
      backward_rows<scalar_t>(dh, rz[t], n[t], p[t], h_prev, d_x[t], d_p[t], dhz);
      if (ln) ln_backward_rows<scalar_t>(d_p[t], (*a_raw)[t], *g_hh, (*a_mean)[t],
                                         (*a_rstd)[t], d_a[t]);
    });
    Tensor dh_prev = at::mm(d_a[t], w_hh);
    if (mask) dh_prev.mul_(*mask);
    dh_prev.add_(dhz);
    d_h = alive ? at::where((*alive)[t], dh_prev, d_h) : dh_prev;
  }
  return {d_x, d_h, d_p, d_a};
}

}  // namespace rnnkit
