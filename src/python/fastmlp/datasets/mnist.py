"""The MNIST handwritten digits dataset, plus the loader shared by MNIST-format datasets."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy as np

from .download import (
    fetch_files,
    find_local_files,
    manual_install_hint,
    mirrors_from_env,
    resolve_data_folder,
)
from .idx import read_idx

__all__ = [
    "DatasetFormatError",
    "DatasetSpec",
    "MNIST",
    "load_data",
    "load_mnist_format",
]

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILENAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

ArrayPair = tuple[np.ndarray, np.ndarray]


class DatasetFormatError(ValueError):
    """Dataset files parse as IDX but do not have the layout the dataset needs."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Where an MNIST-format dataset comes from and what its files must contain.

    ``md5_by_file`` maps each of the four canonical ``.gz`` file names to the
    md5 a download must have. ``train_count``/``test_count`` are the expected
    numbers of examples (``None``: only check that images and labels agree).
    """

    name: str
    cache_subdir: str
    md5_by_file: Mapping[str, str]
    mirrors: tuple[str, ...]
    mirror_env_var: str
    train_count: int | None = None
    test_count: int | None = None
    image_shape: tuple[int, int] = (28, 28)
    num_classes: int = 10
    # The folder variable. Each dataset has its own: local files are not
    # md5-checked, so one shared variable would let one dataset pass for another.
    data_env_var: str = "FASTMLP_DATA"


MNIST = DatasetSpec(
    name="MNIST",
    cache_subdir="mnist",
    md5_by_file={
        TRAIN_IMAGES: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        TRAIN_LABELS: "d53e105ee54ea40749a09fcbcd1e9432",
        TEST_IMAGES: "9fb629c4189551a2d022fa330f9573f3",
        TEST_LABELS: "ec29112dd5afa0611ce80d1b7f02629c",
    },
    # Same mirrors, same order, as torchvision.datasets.MNIST.
    mirrors=(
        "http://yann.lecun.com/exdb/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ),
    mirror_env_var="FASTMLP_MNIST_MIRROR",
    train_count=60000,
    test_count=10000,
)


def load_mnist_format(
    spec: DatasetSpec,
    path: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
) -> tuple[ArrayPair, ArrayPair]:
    """Load an MNIST-format dataset described by ``spec``.

    Files are read from ``path`` if given, else ``$<spec.data_env_var>``, else the
    per-user cache folder for ``spec.cache_subdir``. Missing files are
    downloaded there when ``download`` is true (``DatasetDownloadError`` on
    failure); otherwise ``FileNotFoundError`` is raised. Files already present
    are not md5-checked but are parsed strictly (``IDXFormatError``,
    ``DatasetFormatError``).

    Returns ``((x_train, y_train), (x_test, y_test))`` as uint8 arrays.
    """
    folder = resolve_data_folder(path, spec.cache_subdir, spec.data_env_var)
    found, missing = find_local_files(folder, FILENAMES)
    if missing:
        if not download:
            raise FileNotFoundError(
                f"{spec.name} files missing from {folder}: {', '.join(missing)} "
                "(download=False, so nothing was fetched).\n"
                + manual_install_hint(folder, FILENAMES)
                + " Or call load_data(download=True) to fetch them."
            )
        mirrors = mirrors_from_env(spec.mirror_env_var, spec.mirrors)
        found.update(
            fetch_files(
                folder,
                {name: spec.md5_by_file[name] for name in missing},
                mirrors,
                dataset_name=spec.name,
                all_filenames=FILENAMES,
            )
        )
    train = _load_split(spec, found[TRAIN_IMAGES], found[TRAIN_LABELS], spec.train_count)
    test = _load_split(spec, found[TEST_IMAGES], found[TEST_LABELS], spec.test_count)
    return train, test


def _load_split(spec: DatasetSpec, images_path: str, labels_path: str, expected_count: int | None) -> ArrayPair:
    images = read_idx(images_path)
    labels = read_idx(labels_path)

    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != spec.image_shape:
        rows, cols = spec.image_shape
        raise DatasetFormatError(
            f"{images_path}: expected uint8 images of shape (N, {rows}, {cols}), "
            f"got {images.dtype} array of shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetFormatError(
            f"{labels_path}: expected a 1-D uint8 label array, got {labels.dtype} array of shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise DatasetFormatError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )
    if expected_count is not None and len(images) != expected_count:
        raise DatasetFormatError(f"{images_path}: expected {expected_count} {spec.name} examples, found {len(images)}")
    if labels.size and int(labels.max()) >= spec.num_classes:
        raise DatasetFormatError(
            f"{labels_path}: label {int(labels.max())} out of range (expected 0..{spec.num_classes - 1})"
        )
    return images, labels


def load_data(path: str | os.PathLike[str] | None = None, *, download: bool = True) -> tuple[ArrayPair, ArrayPair]:
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))``, like Keras.

    Images are uint8 arrays of shape (60000, 28, 28) and (10000, 28, 28);
    labels are uint8 arrays of shape (60000,) and (10000,). ``path`` is a
    folder holding the four IDX files (default: ``$FASTMLP_DATA``, else the
    cache folder ``$FASTMLP_CACHE/mnist``, ``$XDG_CACHE_HOME/fastmlp/mnist``
    or ``~/.cache/fastmlp/mnist``). Missing files are downloaded into that
    folder when ``download`` is true; ``$FASTMLP_MNIST_MIRROR`` (comma-separated
    base URLs) overrides the mirrors.
    """
    return load_mnist_format(MNIST, path, download=download)
