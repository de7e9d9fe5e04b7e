// One LSTM step's element-wise work, forward and backward, in one pass over each batch row.
//
// The Python scan (rnnkit/nn/scan.py) does the matrix products and the bookkeeping (lengths,
// recurrent dropout, projection); these kernels replace the dozen small torch ops per step that
// follow each product. Same equations, names and gate order (i, f, g, o) as _LSTMScan:
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
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <cmath>

namespace {

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

void check(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu(), name, " must be on the CPU");
  TORCH_CHECK(t.dim() == 1 || t.stride(-1) == 1, name, " must have unit stride in its last dim");
}

}  // namespace

// Row pointer of a 2-D tensor (unit stride in its last dim).
template <typename T>
struct Rows {
  T* data;
  int64_t stride;
  explicit Rows(const torch::Tensor& t) : data(t.data_ptr<T>()), stride(t.stride(0)) {}
  T* operator[](int64_t n) const { return data + n * stride; }
};

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

// z (N, 4H) pre-activations, c (N, H) -> act (N, 4H), c_new (N, H), s (N, H), m (N, H)
void forward_step(torch::Tensor z, torch::Tensor c, torch::Tensor act, torch::Tensor c_new,
                  torch::Tensor s, torch::Tensor m) {
  for (auto* t : {&z, &c, &act, &c_new, &s, &m}) check(*t, "tensor");
  AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "lstm_forward_step",
                             [&] { forward_rows<scalar_t>(z, c, act, c_new, s, m); });
}

// With layer norm: a (N, 4H) = h_in W_hh^T, x (N, 4H), g_hh (4H), c (N, H), g_c, b_c (H)
// -> act, c_new (c' before its LN), s, m, and the stats of a and c' (N) each.
void ln_forward_step(torch::Tensor a, torch::Tensor x, torch::Tensor g_hh, double eps_hh,
                     torch::Tensor c, torch::Tensor g_c, torch::Tensor b_c, double eps_c,
                     torch::Tensor act, torch::Tensor c_new, torch::Tensor s, torch::Tensor m,
                     torch::Tensor a_mean, torch::Tensor a_rstd, torch::Tensor c_mean,
                     torch::Tensor c_rstd) {
  for (auto* t : {&a, &x, &g_hh, &c, &g_c, &b_c, &act, &c_new, &s, &m}) check(*t, "tensor");
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "lstm_ln_forward_step", [&] {
    ln_forward_rows<scalar_t>(a, x, g_hh, eps_hh, c, g_c, b_c, eps_c, act, c_new, s, m, a_mean,
                              a_rstd, c_mean, c_rstd);
  });
}

// dm (N, H), dc_next (N, H), act (N, 4H), s (N, H), c (N, H) -> dz (N, 4H), dcf (N, H)
void backward_step(torch::Tensor dm, torch::Tensor dc_next, torch::Tensor act, torch::Tensor s,
                   torch::Tensor c, torch::Tensor dz, torch::Tensor dcf) {
  for (auto* t : {&dm, &dc_next, &act, &s, &c, &dz, &dcf}) check(*t, "tensor");
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstm_backward_step",
                             [&] { backward_rows<scalar_t>(dm, dc_next, act, s, c, dz, dcf); });
}

// With layer norm: also c_raw (c' before LN) and its stats, g_c, a_raw and its stats, g_hh
// -> dz (N, 4H) (= d x_t), da (N, 4H) (= d (h_in W_hh^T)), dcf (N, H); and adds each row's
// share of d g_hh, d g_c, d b_c to the (N, 4H), (N, H), (N, H) accumulators dg_hh, dg_c, db_c
void ln_backward_step(torch::Tensor dm, torch::Tensor dc_next, torch::Tensor act, torch::Tensor s,
                      torch::Tensor c, torch::Tensor c_raw, torch::Tensor c_mean,
                      torch::Tensor c_rstd, torch::Tensor g_c, torch::Tensor a_raw,
                      torch::Tensor a_mean, torch::Tensor a_rstd, torch::Tensor g_hh,
                      torch::Tensor dz, torch::Tensor da, torch::Tensor dcf,
                      torch::Tensor dg_hh, torch::Tensor dg_c, torch::Tensor db_c) {
  for (auto* t : {&dm, &dc_next, &act, &s, &c, &c_raw, &g_c, &a_raw, &g_hh, &dz, &da, &dcf,
                  &dg_hh, &dg_c, &db_c})
    check(*t, "tensor");
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstm_ln_backward_step", [&] {
    ln_backward_rows<scalar_t>(dm, dc_next, act, s, c, c_raw, c_mean, c_rstd, g_c, a_raw, a_mean,
                               a_rstd, g_hh, dz, da, dcf, dg_hh, dg_c, db_c);
  });
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, module) {
  module.def("forward_step", &forward_step);
  module.def("ln_forward_step", &ln_forward_step);
  module.def("backward_step", &backward_step);
  module.def("ln_backward_step", &ln_backward_step);
}
