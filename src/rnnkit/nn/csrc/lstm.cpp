// The LSTM's two time loops in C++: lstm_forward and lstm_backward run all L steps of
// _LSTMScan (rnnkit/nn/scan/lstm.py), the per-step matrix products through ATen (at::mm) and each
// step's element-wise work in one pass over each batch row, so that no step returns to Python.
// Same equations, names and gate order (i, f, g, o) as _LSTMScan and its torch-op loops:
//
//   forward:   z = x_t + a  (a = h_in W_hh^T, or LN_{g_hh}(h_in W_hh^T) with layer norm)
//              i, f, o = sigmoid(z_{i,f,o}),  g = tanh(z_g)
//              c' = f c + i g,  s = tanh(c')  (tanh(LN_{g_c,b_c}(c')) with layer norm),  m = o s
//   backward:  dl = dm o (1 - s^2)                          (d of tanh's argument)
//              dc = dc_next + dl   (LN: + LN_c backward of dl)
//              dz = [dc g i(1-i), dc c f(1-f), dc i (1-g^2), dm s o(1-o)]
//              LN: da = LN_hh backward of dz;  dcf = dc f   (d c of the step's input state)
//
// LN over a row of K values with gain w: y = w (v - mean) rstd (+ b), rstd = 1/sqrt(var + eps);
// backward: dv = rstd (dy w - mean(dy w) - vhat mean(dy w vhat)), vhat = (v - mean) rstd.
//
// Rows are split across threads with at::parallel_for; the inner loops are written so that the
// compiler vectorises them (exp/tanh through glibc's libmvec with -ffast-math).
#include "common.h"

namespace rnnkit {
namespace {

// Gates and cell of one row, from the pre-activations z (4H) and the previous cell c.
template <typename T>
inline void row_cell(const T* z, const T* c, int64_t H, T* act, T* c_new) {
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    T i = sigmoid(z[j]), f = sigmoid(z[H + j]), g = std::tanh(z[2 * H + j]);
    T o = sigmoid(z[3 * H + j]);
    act[j] = i;
    act[H + j] = f;
    act[2 * H + j] = g;
    act[3 * H + j] = o;
    c_new[j] = f * c[j] + i * g;
  }
}

// dz and dc f of one row, given dc (H) and dm (H).
template <typename T>
inline void row_gate_grads(const T* dc, const T* dm, const T* act, const T* s, const T* c,
                           int64_t H, T* dz, T* dcf) {
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    T i = act[j], f = act[H + j], g = act[2 * H + j], o = act[3 * H + j];
    dz[j] = dc[j] * g * i * (T(1) - i);
    dz[H + j] = dc[j] * c[j] * f * (T(1) - f);
    dz[2 * H + j] = dc[j] * i * (T(1) - g * g);
    dz[3 * H + j] = dm[j] * s[j] * o * (T(1) - o);
    dcf[j] = dc[j] * f;
  }
}

template <typename T>
void forward_rows(const torch::Tensor& z_, const torch::Tensor& c_, const torch::Tensor& act_,
                  const torch::Tensor& c_new_, const torch::Tensor& s_, const torch::Tensor& m_) {
  const int64_t N = z_.size(0), H = z_.size(1) / 4;
  Rows<T> z(z_), c(c_), act(act_), c_new(c_new_), s(s_), m(m_);
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      T *ar = act[n], *cn = c_new[n], *sr = s[n], *mr = m[n];
      row_cell<T>(z[n], c[n], H, ar, cn);
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        sr[j] = std::tanh(cn[j]);
        mr[j] = ar[3 * H + j] * sr[j];
      }
    }
  });
}

template <typename T>
void ln_forward_rows(const torch::Tensor& a_, const torch::Tensor& x_, const torch::Tensor& g_hh,
                     double eps_hh, const torch::Tensor& c_, const torch::Tensor& g_c,
                     const torch::Tensor& b_c, double eps_c, const torch::Tensor& act_,
                     const torch::Tensor& c_new_, const torch::Tensor& s_,
                     const torch::Tensor& m_, const torch::Tensor& a_mean,
                     const torch::Tensor& a_rstd, const torch::Tensor& c_mean,
                     const torch::Tensor& c_rstd) {
  const int64_t N = a_.size(0), G = a_.size(1), H = G / 4;
  Rows<T> a(a_), x(x_), c(c_), act(act_), c_new(c_new_), s(s_), m(m_);
  const T *w = g_hh.data_ptr<T>(), *wc = g_c.data_ptr<T>(), *bc = b_c.data_ptr<T>();
  T *am = a_mean.data_ptr<T>(), *ar_ = a_rstd.data_ptr<T>();
  T *cm = c_mean.data_ptr<T>(), *cr = c_rstd.data_ptr<T>();
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    std::vector<T> z(G);
    T* zp = z.data();
    for (int64_t n = begin; n < end; ++n) {
      const T *arow = a[n], *xr = x[n];
      T mean, rstd;
      row_stats<T>(arow, G, T(eps_hh), mean, rstd);
      am[n] = mean;
      ar_[n] = rstd;
#pragma omp simd
      for (int64_t k = 0; k < G; ++k) zp[k] = xr[k] + w[k] * (arow[k] - mean) * rstd;
      T *actr = act[n], *cn = c_new[n], *sr = s[n], *mr = m[n];
      row_cell<T>(zp, c[n], H, actr, cn);
      row_stats<T>(cn, H, T(eps_c), mean, rstd);
      cm[n] = mean;
      cr[n] = rstd;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        sr[j] = std::tanh(wc[j] * (cn[j] - mean) * rstd + bc[j]);
        mr[j] = actr[3 * H + j] * sr[j];
      }
    }
  });
}

template <typename T>
void backward_rows(const torch::Tensor& dm_, const torch::Tensor& dc_next_,
                   const torch::Tensor& act_, const torch::Tensor& s_, const torch::Tensor& c_,
                   const torch::Tensor& dz_, const torch::Tensor& dcf_) {
  const int64_t N = act_.size(0), H = act_.size(1) / 4;
  Rows<T> dm(dm_), dc_next(dc_next_), act(act_), s(s_), c(c_), dz(dz_), dcf(dcf_);
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    std::vector<T> dc(H);
    T* dcp = dc.data();
    for (int64_t n = begin; n < end; ++n) {
      const T *dmr = dm[n], *dcn = dc_next[n], *ar = act[n], *sr = s[n];
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        dcp[j] = dcn[j] + dmr[j] * ar[3 * H + j] * (T(1) - sr[j] * sr[j]);
      }
      row_gate_grads<T>(dcp, dmr, ar, sr, c[n], H, dz[n], dcf[n]);
    }
  });
}

template <typename T>
void ln_backward_rows(const torch::Tensor& dm_, const torch::Tensor& dc_next_,
                      const torch::Tensor& act_, const torch::Tensor& s_, const torch::Tensor& c_,
                      const torch::Tensor& c_raw_, const torch::Tensor& c_mean,
                      const torch::Tensor& c_rstd, const torch::Tensor& g_c,
                      const torch::Tensor& a_raw_, const torch::Tensor& a_mean,
                      const torch::Tensor& a_rstd, const torch::Tensor& g_hh,
                      const torch::Tensor& dz_, const torch::Tensor& da_,
                      const torch::Tensor& dcf_, const torch::Tensor& dg_hh_,
                      const torch::Tensor& dg_c_, const torch::Tensor& db_c_) {
  const int64_t N = act_.size(0), G = act_.size(1), H = G / 4;
  Rows<T> dm(dm_), dc_next(dc_next_), act(act_), s(s_), c(c_), c_raw(c_raw_), a_raw(a_raw_);
  Rows<T> dz(dz_), da(da_), dcf(dcf_), dg_hh(dg_hh_), dg_c(dg_c_), db_c(db_c_);
  const T *wc = g_c.data_ptr<T>(), *w = g_hh.data_ptr<T>();
  const T *cm = c_mean.data_ptr<T>(), *cr = c_rstd.data_ptr<T>();
  const T *am = a_mean.data_ptr<T>(), *ar_ = a_rstd.data_ptr<T>();
  at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
    std::vector<T> dc(H), dl(H);
    T *dcp = dc.data(), *dlr = dl.data();
    for (int64_t n = begin; n < end; ++n) {
      const T *dmr = dm[n], *dcn = dc_next[n], *ar = act[n], *sr = s[n];
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) dlr[j] = dmr[j] * ar[3 * H + j] * (T(1) - sr[j] * sr[j]);
      row_ln_backward<T>(dlr, c_raw[n], wc, H, cm[n], cr[n], dcp, dg_c[n], db_c[n]);
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) dcp[j] += dcn[j];
      T* dzr = dz[n];
      row_gate_grads<T>(dcp, dmr, ar, sr, c[n], H, dzr, dcf[n]);
      row_ln_backward<T>(dzr, a_raw[n], w, G, am[n], ar_[n], da[n], dg_hh[n], nullptr);
    }
  });
}


}  // namespace

// Forward scan over all L steps (the loop of _LSTMScan.forward). Shapes: x (L, N, 4H) the
// projected input, h0 (N, R), c0 (N, H), mask (N, R) recurrent dropout, alive (L, N, 1) bool,
// w_hh (4H, R), g_hh (4H) LN gain of the recurrent term, g_c, b_c (H) LN of c', w_hr (P, H).
// Returns the buffers backward needs, undefined (None) where an option is off:
//   acts (L, N, 4H), c_new (L, N, H) (c', before its LN), tanh_c (L, N, H), h_new (L, N, R),
//   m (L, N, H) (h_new itself without projection), a_raw (L, N, 4H) (h_in W_hh^T, LN only),
//   a_mean, a_rstd, c_mean, c_rstd (L, N, 1) (LN only), h_in (L, N, R) (mask only),
//   h_st (L, N, R), c_st (L, N, H) (the state after each step; h_new, c_new without alive),
//   h_n (N, R), c_n (N, H).
// Without `keep` (inference) only h_new, h_n and c_n are meaningful: every other buffer has
// two rotating slots (2, N, .) instead of L steps.
std::vector<Tensor> lstm_forward(const Tensor& x, const Tensor& h0, const Tensor& c0,
                                 const Opt& mask, const Opt& alive, const Tensor& w_hh,
                                 const Opt& g_hh, const Opt& g_c, const Opt& b_c, const Opt& w_hr,
                                 double eps_hh, double eps_c, bool keep) {
  check(x, "x");
  const int64_t L = x.size(0), N = x.size(1), G = x.size(2), H = G / 4, R = w_hh.size(1);
  const bool ln = g_hh.has_value(), proj = w_hr.has_value();
  const int64_t slots = keep ? L : std::min<int64_t>(L, 2);
  auto empty = [&](int64_t K) { return at::empty({slots, N, K}, x.options()); };
  auto step = [](const Tensor& buffer, int64_t t) { return buffer.select(0, t % buffer.size(0)); };
  Tensor acts = empty(G), c_new = empty(H), tanh_c = empty(H);
  Tensor h_new = at::empty({L, N, R}, x.options());  // the output: every step, always
  Tensor m = proj ? empty(H) : h_new;
  Tensor a_raw, a_mean, a_rstd, c_mean, c_rstd;
  if (ln) {
    a_raw = empty(G), a_mean = empty(1), a_rstd = empty(1), c_mean = empty(1), c_rstd = empty(1);
  }
  Tensor h_in = mask ? empty(R) : Tensor();
  Tensor h_st = alive ? empty(R) : h_new, c_st = alive ? empty(H) : c_new;
  const Tensor w_t = w_hh.t(), w_hr_t = proj ? w_hr->t() : Tensor();
  Tensor gates = ln ? Tensor() : at::empty({N, G}, x.options());
  Tensor h = h0, c = c0.contiguous();
  for (int64_t t = 0; t < L; ++t) {
    Tensor hin = h, act_t = step(acts, t), c_t = step(c_new, t), s_t = step(tanh_c, t);
    Tensor m_t = step(m, t), h_t = h_new[t];
    if (mask) {
      hin = step(h_in, t);
      at::mul_out(hin, h, *mask);
    }
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lstm_scan_forward", [&] {
      if (ln) {
        Tensor a = step(a_raw, t);
        at::mm_out(a, hin, w_t);
        ln_forward_rows<scalar_t>(a, x[t], *g_hh, eps_hh, c, *g_c, *b_c, eps_c, act_t, c_t, s_t,
                                  m_t, step(a_mean, t), step(a_rstd, t), step(c_mean, t),
                                  step(c_rstd, t));
      } else {
        at::addmm_out(gates, x[t], hin, w_t);
        forward_rows<scalar_t>(gates, c, act_t, c_t, s_t, m_t);
      }
    });
    if (proj) at::mm_out(h_t, m_t, w_hr_t);
    if (alive) {  // the state is carried unchanged where the step is not alive
      const Tensor alive_t = (*alive)[t];
      Tensor h_next = step(h_st, t), c_next = step(c_st, t);
      h = at::where_out(h_next, alive_t, h_t, h);
      c = at::where_out(c_next, alive_t, c_t, c);
    } else {
      h = h_t;
      c = c_t;
    }
  }
  return {acts,   c_new,  tanh_c, h_new, m,    a_raw, a_mean,      a_rstd,
          c_mean, c_rstd, h_in,   h_st,  c_st, h.clone(), c.clone()};
}

// Backward scan over all L steps (the loop of _LSTMScan.backward), given the gradients of the
// outputs d_out (L, N, R) (already zero where a step is dead), of h_n and c_n, and forward's
// buffers (c_st and h_st as forward returned them). Returns
//   d_pre (L, N, 4H) (= d x), d_h0 (N, R), d_c0 (N, H), d_h_new (L, N, R) (dh' of every step),
//   d_m (L, N, H) (dh' W_hr; d_h_new itself without projection), d_a (L, N, 4H) (d of
//   h_in W_hh^T, LN only: without LN it is d_pre), and with LN the gradients of g_hh, g_c, b_c.
std::vector<Tensor> lstm_backward(const Tensor& d_out, const Tensor& d_hT, const Tensor& d_cT,
                                  const Tensor& c0, const Opt& mask, const Opt& alive,
                                  const Tensor& w_hh, const Opt& g_hh, const Opt& g_c,
                                  const Opt& w_hr, const Tensor& acts, const Tensor& tanh_c,
                                  const Tensor& c_st, const Opt& a_raw, const Opt& c_raw,
                                  const Opt& a_mean, const Opt& a_rstd, const Opt& c_mean,
                                  const Opt& c_rstd) {
  const int64_t L = acts.size(0), N = acts.size(1), G = acts.size(2), H = G / 4;
  const int64_t R = d_out.size(2);
  const bool ln = g_hh.has_value(), proj = w_hr.has_value();
  auto empty = [&](int64_t K) { return at::empty({L, N, K}, acts.options()); };
  Tensor d_pre = empty(G), d_h_new = empty(R), d_m = proj ? empty(H) : d_h_new;
  Tensor d_a = ln ? empty(G) : d_pre;
  Tensor dg_hh, dg_c, db_c;  // per-row sums of the LN gain and bias gradients
  if (ln) {
    dg_hh = at::zeros({N, G}, acts.options());
    dg_c = at::zeros({N, H}, acts.options());
    db_c = at::zeros({N, H}, acts.options());
  }
  const Tensor alive_f = alive ? alive->to(acts.scalar_type()) : Tensor();
  Tensor dc_f[2] = {at::empty({N, H}, acts.options()), at::empty({N, H}, acts.options())};
  Tensor d_h = d_hT, d_c = d_cT;  // gradients w.r.t. the state after step t
  for (int64_t t = L - 1; t >= 0; --t) {
    // the state after step t reaches step t only where it is alive (else it was carried)
    const Tensor d_h_t = alive ? d_h * alive_f[t] : d_h;
    Tensor dh = d_h_new[t], dm = d_m[t];
    at::add_out(dh, d_out[t], d_h_t);
    if (proj) at::mm_out(dm, dh, *w_hr);
    const Tensor dc = (alive ? d_c * alive_f[t] : d_c).contiguous();
    const Tensor c_in = t == 0 ? c0.contiguous() : c_st[t - 1];
    const Tensor dp = d_pre[t], dcf = dc_f[t % 2];
    AT_DISPATCH_FLOATING_TYPES(acts.scalar_type(), "lstm_scan_backward", [&] {
      if (ln) {
        ln_backward_rows<scalar_t>(dm, dc, acts[t], tanh_c[t], c_in, (*c_raw)[t], (*c_mean)[t],
                                   (*c_rstd)[t], *g_c, (*a_raw)[t], (*a_mean)[t], (*a_rstd)[t],
                                   *g_hh, dp, d_a[t], dcf, dg_hh, dg_c, db_c);
      } else {
        backward_rows<scalar_t>(dm, dc, acts[t], tanh_c[t], c_in, dp, dcf);
      }
    });
    Tensor dh_prev = at::mm(d_a[t], w_hh);
    if (mask) dh_prev.mul_(*mask);
    if (alive) {
      const Tensor alive_t = (*alive)[t];
      d_h = at::where(alive_t, dh_prev, d_h);
      d_c = at::where(alive_t, dcf, d_c);
    } else {
      d_h = dh_prev;
      d_c = dcf;
    }
  }
  if (ln) {
    dg_hh = dg_hh.sum(0), dg_c = dg_c.sum(0), db_c = db_c.sum(0);
  }
  return {d_pre, d_h, d_c, d_h_new, d_m, d_a, dg_hh, dg_c, db_c};
}

}  // namespace rnnkit
