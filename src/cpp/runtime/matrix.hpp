// Row-major Eigen views over raw buffers: batches are (N, features) as NumPy
// holds them, weights (in, out) as Keras holds them.
#pragma once
#include <Eigen/Core>
#include <cstddef>

namespace fastmlp {

using Index = std::ptrdiff_t;

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixView = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMatrixView = Eigen::Map<const RowMatrix<T>>;
template <typename T>
using RowVectorView = Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>;
template <typename T>
using ConstRowVectorView = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;

}  // namespace fastmlp
