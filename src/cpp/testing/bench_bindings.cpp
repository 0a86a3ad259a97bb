// Measuring sticks for bench/: the same product through fastmlp's kernel and
// through Eigen (the GEMM ceiling), and a pass with Adam's memory traffic but
// none of its arithmetic (the memory ceiling). All release the GIL.
#include <pybind11/pybind11.h>

#include "bindings/arrays.hpp"
#include "bindings/compute_scope.hpp"
#include "kernels/gemm.hpp"
#include "optim/optimizer.hpp"

namespace fastmlp::bindings {
namespace {

using Sgemm = void (*)(Op, Op, Index, Index, Index, const float*, Index, const float*, Index, float*, Index, bool);

// out (M, N) = op(a) . op(b), or += with accumulate.
void matmul_py(Sgemm sgemm_fn, py::handle a_obj, py::handle b_obj, py::handle out_obj, bool ta, bool tb,
               bool accumulate) {
  auto a = require_array<float>(a_obj, "a", 2), b = require_array<float>(b_obj, "b", 2);
  auto out = require_array<float>(out_obj, "out", 2, /*writable=*/true);
  const Index M = ta ? a.shape(1) : a.shape(0), K = ta ? a.shape(0) : a.shape(1);
  const Index KB = tb ? b.shape(1) : b.shape(0), N = tb ? b.shape(0) : b.shape(1);
  if (KB != K || out.shape(0) != M || out.shape(1) != N)
    throw py::value_error("shapes do not match: op(a) is (" + std::to_string(M) + ", " + std::to_string(K) +
                          "), op(b) is (" + std::to_string(KB) + ", " + std::to_string(N) + "), out is " +
                          shape_string(out));
  const float* pa = a.data();
  const float* pb = b.data();
  float* pc = out.mutable_data();
  ComputeScope compute;
  sgemm_fn(ta ? Op::Transpose : Op::None, tb ? Op::Transpose : Op::None, M, N, K, pa, a.shape(1), pb, b.shape(1), pc, N,
           accumulate);
}

void stream_adam_shaped(py::handle p_obj, py::handle g_obj, py::handle m_obj, py::handle v_obj) {
  auto p = require_array<float>(p_obj, "p", 1, true), g = require_array<float>(g_obj, "g", 1);
  auto m = require_array<float>(m_obj, "m", 1, true), v = require_array<float>(v_obj, "v", 1, true);
  const Index n = p.shape(0);
  if (g.shape(0) != n || m.shape(0) != n || v.shape(0) != n)
    throw py::value_error("p, g, m and v must have the same length");
  float *pp = p.mutable_data(), *pm = m.mutable_data(), *pv = v.mutable_data();
  const float* pg = g.data();
  ComputeScope compute;
  // Reads p, g, m, v and writes p, m, v: 28 bytes per element, as Adam.
  fused_loop(n, [=](Index i) {
    const float gi = pg[i];
    pm[i] = pm[i] + gi;
    pv[i] = pv[i] - gi;
    pp[i] = pp[i] + pm[i] * pv[i];
  });
}

}  // namespace

void bind_bench(py::module_& m) {
  const auto doc = "out = op(a) @ op(b) (or += with accumulate), float32, C-contiguous";
  m.def(
      "matmul",
      [](py::handle a, py::handle b, py::handle out, bool ta, bool tb, bool acc) {
        matmul_py(&sgemm, a, b, out, ta, tb, acc);
      },
      py::arg("a"), py::arg("b"), py::arg("out"), py::arg("transpose_a") = false, py::arg("transpose_b") = false,
      py::arg("accumulate") = false, doc);
  m.def(
      "eigen_matmul",
      [](py::handle a, py::handle b, py::handle out, bool ta, bool tb, bool acc) {
        matmul_py(&gemm_eigen<float>, a, b, out, ta, tb, acc);
      },
      py::arg("a"), py::arg("b"), py::arg("out"), py::arg("transpose_a") = false, py::arg("transpose_b") = false,
      py::arg("accumulate") = false, doc);
  m.def("stream_adam_shaped", &stream_adam_shaped, py::arg("p"), py::arg("g"), py::arg("m"), py::arg("v"),
        "One pass with Adam's memory traffic (reads p, g, m, v; writes p, m, v): the memory ceiling.");
}

}  // namespace fastmlp::bindings
