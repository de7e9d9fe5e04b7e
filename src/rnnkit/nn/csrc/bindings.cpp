// The Python module of the compiled loops (rnnkit.nn.kernels): one function per loop.
#include "common.h"

namespace rnnkit {
std::vector<Tensor> lstm_forward(const Tensor& x, const Tensor& h0, const Tensor& c0,
                                 const Opt& mask, const Opt& alive, const Tensor& w_hh,
                                 const Opt& g_hh, const Opt& g_c, const Opt& b_c, const Opt& w_hr,
                                 double eps_hh, double eps_c, bool keep);
std::vector<Tensor> lstm_backward(const Tensor& d_out, const Tensor& d_hT, const Tensor& d_cT,
                                  const Tensor& c0, const Opt& mask, const Opt& alive,
                                  const Tensor& w_hh, const Opt& g_hh, const Opt& g_c,
                                  const Opt& w_hr, const Tensor& acts, const Tensor& tanh_c,
                                  const Tensor& c_st, const Opt& a_raw, const Opt& c_raw,
                                  const Opt& a_mean, const Opt& a_rstd, const Opt& c_mean,
                                  const Opt& c_rstd);
std::vector<Tensor> gru_forward(const Tensor& x, const Tensor& h0, const Opt& mask,
                                const Opt& alive, const Tensor& w_hh, const Opt& b_hh,
                                const Opt& g_hh, double eps, bool keep);
std::vector<Tensor> gru_backward(const Tensor& d_out, const Tensor& d_hT, const Tensor& h0,
                                 const Opt& mask, const Opt& alive, const Tensor& w_hh,
                                 const Opt& g_hh, const Tensor& p, const Opt& a_raw,
                                 const Opt& a_mean, const Opt& a_rstd, const Tensor& rz,
                                 const Tensor& n, const Tensor& h_st);
std::vector<Tensor> rnn_forward(const Tensor& x, const Tensor& h0, const Opt& mask,
                                const Opt& alive, const Tensor& w_hh, const Opt& g_hh, double eps,
                                bool relu, bool keep);
std::vector<Tensor> rnn_backward(const Tensor& d_out, const Tensor& d_hT, const Opt& mask,
                                 const Opt& alive, const Tensor& w_hh, const Opt& g_hh,
                                 const Tensor& h_new, const Opt& a_raw, const Opt& a_mean,
                                 const Opt& a_rstd, bool relu);
Tensor linear_scan_forward(const Tensor& a, const Tensor& b, const Tensor& h0);
std::vector<Tensor> linear_scan_backward(const Tensor& dh, const Tensor& a, const Tensor& h,
                                         const Tensor& h0);
}  // namespace rnnkit

PYBIND11_MODULE(TORCH_EXTENSION_NAME, module) {
  module.def("lstm_forward", &rnnkit::lstm_forward);
  module.def("lstm_backward", &rnnkit::lstm_backward);
  module.def("gru_forward", &rnnkit::gru_forward);
  module.def("gru_backward", &rnnkit::gru_backward);
  module.def("rnn_forward", &rnnkit::rnn_forward);
  module.def("rnn_backward", &rnnkit::rnn_backward);
  module.def("linear_scan_forward", &rnnkit::linear_scan_forward);
  module.def("linear_scan_backward", &rnnkit::linear_scan_backward);
}
