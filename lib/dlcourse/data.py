"""Data sets for the course: all offline, all seeded.

* toy 2-D problems: two Gaussian classes (shared or different covariances), moons, XOR, a disc inside a
  ring, two spirals, separable data with a margin, and (unlabelled, for GANs) a ring of Gaussians;
* scikit-learn's bundled 8x8 digits, with one fixed held-out split that every assignment uses;
* Fashion-MNIST, found locally or downloaded once into a cache with a sha256 check.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from . import _validate, runtime

# ---------------------------------------------------------------------------------------------------------
# Toy 2-D problems
# ---------------------------------------------------------------------------------------------------------


def gaussian_classes(n: int, mu0, mu1, Sigma0, Sigma1=None, prior1: float = 0.5, rng=0):
    """Sample ``n`` labelled points from two Gaussian classes.

    y ~ Bernoulli(prior1), then x | y ~ N(mu_y, Sigma_y). With ``Sigma1=None`` both classes share ``Sigma0``
    (the case where the Bayes posterior is exactly a logistic sigmoid of a linear function).

    Returns ``X`` of shape (n, d) and ``y`` of shape (n,), integer labels in {0, 1}.
    """
    n = _validate.as_int(n, "n")
    mu0 = _validate.as_vector(mu0, "mu0")
    d = mu0.shape[0]
    mu1 = _validate.as_vector(mu1, "mu1", d)
    Sigma0 = _validate.as_covariance(Sigma0, "Sigma0", d)
    Sigma1 = Sigma0 if Sigma1 is None else _validate.as_covariance(Sigma1, "Sigma1", d)
    prior1 = _validate.as_probability(prior1, "prior1")
    rng = _validate.as_rng(rng)
    y = (rng.random(n) < prior1).astype(np.int64)
    z = rng.standard_normal((n, d))
    L0, L1 = np.linalg.cholesky(Sigma0), np.linalg.cholesky(Sigma1)
    X = np.where(y[:, None] == 1, mu1 + z @ L1.T, mu0 + z @ L0.T)
    return X, y


def moons(n: int, noise: float = 0.1, rng=0):
    """Two interleaving half circles: ``X`` (n, 2), ``y`` (n,) in {0, 1}; not linearly separable."""
    n = _validate.as_int(n, "n", minimum=2)
    noise = _validate.as_nonnegative_float(noise, "noise")
    rng = _validate.as_rng(rng)
    y = np.arange(n) % 2
    t = rng.uniform(0.0, np.pi, n)
    X = np.where(
        y[:, None] == 0,
        np.c_[np.cos(t), np.sin(t)],
        np.c_[1.0 - np.cos(t), 0.5 - np.sin(t)],
    )
    return X + noise * rng.standard_normal((n, 2)), y.astype(np.int64)


def xor(n: int, noise: float = 0.3, rng=0):
    """The XOR problem: four blobs at (±1, ±1), label 1 where the signs of the coordinates differ.

    Returns ``X`` (n, 2), ``y`` (n,) in {0, 1}.
    """
    n = _validate.as_int(n, "n")
    noise = _validate.as_nonnegative_float(noise, "noise")
    rng = _validate.as_rng(rng)
    corners = rng.choice([-1.0, 1.0], size=(n, 2))
    y = (corners[:, 0] != corners[:, 1]).astype(np.int64)
    return corners + noise * rng.standard_normal((n, 2)), y


def disc_and_ring(n: int, rng=0, inner: float = 1.0, ring=(1.3, 2.0)):
    """A disc of radius ``inner`` (label 0) inside a ring of radii ``ring`` (label 1), centred at the origin.

    Labels alternate 0, 1, 0, ...; radii are uniform in [0, inner] or [ring[0], ring[1]], angles uniform. Not
    linearly separable in (x1, x2), separable by a circle: linear in the features (x1², x2², ...). Returns
    ``X`` (n, 2), ``y`` (n,) in {0, 1}.
    """
    n = _validate.as_int(n, "n")
    inner = _validate.as_positive_float(inner, "inner")
    lo, hi = (_validate.as_positive_float(r, "ring") for r in ring)
    if not inner < lo < hi:
        raise ValueError(f"need inner < ring[0] < ring[1] (a gap between disc and ring), got {inner}, {ring}")
    rng = _validate.as_rng(rng)
    y = np.arange(n) % 2
    radius = np.where(y == 1, rng.uniform(lo, hi, n), rng.uniform(0.0, inner, n))
    angle = rng.uniform(0.0, 2 * np.pi, n)
    return radius[:, None] * np.c_[np.cos(angle), np.sin(angle)], y.astype(np.int64)


def spirals(n: int, rng=0, turns: float = 2.0, noise: float = 0.05):
    """Two interleaved spiral arms, ``turns`` turns each, out to radius 2: ``X`` (n, 2), ``y`` (n,) in {0, 1}.

    Labels alternate 0, 1, 0, ...; arm 1 is arm 0 turned by 180 degrees. A point's angle along its arm is
    sqrt(u) · turns · 2π with u uniform in [0.02, 1] (so points are spread evenly along the arm's length), its
    radius grows linearly with that angle, and N(0, noise²) is added to each coordinate. Hard for a shallow
    network: the boundary winds around the origin.
    """
    n = _validate.as_int(n, "n")
    turns = _validate.as_positive_float(turns, "turns")
    noise = _validate.as_nonnegative_float(noise, "noise")
    rng = _validate.as_rng(rng)
    y = np.arange(n) % 2
    angle = np.sqrt(rng.uniform(0.02, 1.0, n)) * turns * 2 * np.pi
    radius = 2 * angle / (turns * 2 * np.pi)
    X = np.c_[radius * np.cos(angle + np.pi * y), radius * np.sin(angle + np.pi * y)]
    return X + noise * rng.standard_normal((n, 2)), y.astype(np.int64)


def separable(n: int, d: int = 2, margin: float = 0.1, rng=0):
    """Linearly separable data with a guaranteed margin, for the perceptron.

    Points are uniform in the box [-1, 1]^d with a constant 1 appended as the last feature (the bias folded
    into w), labelled in {-1, +1} by a random hyperplane through the origin of that (d + 1)-dimensional space;
    points closer than ``margin`` to it are rejected and redrawn. Returns ``X`` (n, d + 1), ``y`` (n,) and the
    unit normal ``w_true`` (d + 1,) of that hyperplane (a separator, not necessarily the max-margin one). Both
    labels occur (for n >= 2): a hyperplane with every point on one side is replaced by a new one.
    """
    n = _validate.as_int(n, "n")
    d = _validate.as_int(d, "d")
    margin = _validate.as_nonnegative_float(margin, "margin")
    rng = _validate.as_rng(rng)
    for _ in range(100):  # a new hyperplane whenever all the points fall on one side of it
        w_true = rng.standard_normal(d + 1)
        w_true[-1] *= 0.3  # keep the boundary near the centre of the box
        w_true /= np.linalg.norm(w_true)
        X = np.empty((0, d + 1))
        for _ in range(1000):
            cand = np.c_[rng.uniform(-1.0, 1.0, size=(4 * n, d)), np.ones(4 * n)]
            X = np.r_[X, cand[np.abs(cand @ w_true) >= margin]][:n]
            if len(X) == n:
                break
        else:
            break
        y = np.where(X @ w_true > 0, 1, -1).astype(np.int64)
        if n == 1 or len(np.unique(y)) == 2:
            return X, y, w_true
    raise ValueError(f"could not draw {n} points at distance >= {margin} from the boundary; use a smaller margin")


def ring_centres(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """The ``modes`` points (modes, 2) evenly spaced on the circle of ``radius`` around the origin, the first one
    on the positive x1 axis: (r cos 2πk/modes, r sin 2πk/modes) for k = 0, ..., modes - 1."""
    modes = _validate.as_int(modes, "modes")
    radius = _validate.as_positive_float(radius, "radius")
    angle = 2 * np.pi * np.arange(modes) / modes
    return radius * np.c_[np.cos(angle), np.sin(angle)]


def ring_of_gaussians(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.02, rng=0):
    """``n`` points from an equal mixture of ``modes`` isotropic Gaussians of standard deviation ``std`` centred on
    a ring (:func:`ring_centres`): the classic test of mode collapse in GANs (Metz et al. 2016).

    Each point picks its mode uniformly at random (independently, as samples from the mixture do), then adds
    N(0, std^2) noise to each coordinate. Returns ``(X, centres)``: ``X`` (n, 2) float64 and ``centres``
    (modes, 2). No labels: a generative model sees only X.
    """
    n = _validate.as_int(n, "n")
    std = _validate.as_positive_float(std, "std")
    centres = ring_centres(modes, radius)
    rng = _validate.as_rng(rng)
    which = rng.integers(0, len(centres), size=n)
    return centres[which] + std * rng.standard_normal((n, 2)), centres


# ---------------------------------------------------------------------------------------------------------
# Digits (bundled with scikit-learn)
# ---------------------------------------------------------------------------------------------------------

DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0


def load_digits():
    """The 1,797 8x8 handwritten digits: ``X`` (1797, 64) float64 in [0, 1], ``y`` (1797,) int64 in 0..9."""
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    return bunch.data / 16.0, bunch.target.astype(np.int64)


def digits_split():
    """The course's fixed, stratified train/test split of the digits (75 % / 25 %, seed 0).

    Every lecture and assignment uses this split, so "test accuracy on the held-out digits" means the same
    thing everywhere. Returns ``X_train, X_test, y_train, y_test`` (1347 and 450 rows).
    """
    X, y = load_digits()
    rng = np.random.default_rng(DIGITS_SPLIT_SEED)
    test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        k = int(round(DIGITS_TEST_FRACTION * len(idx)))
        test[rng.choice(idx, size=k, replace=False)] = True
    return X[~test], X[test], y[~test], y[test]


# ---------------------------------------------------------------------------------------------------------
# Fashion-MNIST
# ---------------------------------------------------------------------------------------------------------

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
# sha256 of the *decompressed* idx files: it holds whoever gzipped them (Debian recompresses the originals).
FASHION_MNIST_FILES = {
    "train": (
        ("train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        ("train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    ),
    "test": (
        ("t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        ("t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    ),
}


class DatasetNotFoundError(FileNotFoundError):
    """A data set is neither on disk nor downloadable; the message says how to get it."""


class ChecksumError(OSError):
    """A data file's content does not match its published sha256."""


def cache_dir() -> Path:
    """Where downloads go: ``$XDG_CACHE_HOME/dlcourse`` (default ``~/.cache/dlcourse``)."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dlcourse"


def parse_idx(raw: bytes) -> np.ndarray:
    """Decode an (uncompressed) idx file of unsigned bytes: header, big-endian dims, then the data."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError("not an idx file: it must start with two zero bytes")
    if raw[2] != 0x08:
        raise ValueError(f"only unsigned-byte idx files (type 0x08) are supported, got type 0x{raw[2]:02x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError("truncated idx header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape)) if shape else 1
    if len(raw) != header + size:
        raise ValueError(f"idx file holds {len(raw) - header} bytes of data, its header promises {size} {shape}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_verified(path: Path, sha256: str) -> bytes:
    """Decompress ``path`` and check the sha256 of its content."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as err:
        raise ChecksumError(f"{path} is not a readable gzip file ({err}); delete it and try again") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise ChecksumError(f"{path}: sha256 of the content is {digest}, expected {sha256}; the file is corrupted")
    return raw


def _download(url: str, dest: Path, sha256: str) -> None:
    """Fetch ``url`` into ``dest`` atomically: a temporary file next to it, verified, then renamed."""
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, leave=False) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
        _read_verified(tmp, sha256)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _not_found_message(filename: str, tried: list[Path], reason: str) -> str:
    places = "\n".join(f"  - {p}" for p in tried)
    return (
        f"Fashion-MNIST file {filename} was not found. Looked in:\n{places}\n"
        f"and could not download it ({reason}). Three ways to get it:\n"
        f"  1. put the four .gz files in a folder <dir>/fashion-mnist and set DLCOURSE_DATA=<dir>;\n"
        f"  2. install the Debian package: sudo apt-get install dataset-fashion-mnist "
        f"(files land in {FASHION_MNIST_DEBIAN_DIR});\n"
        f"  3. connect to the internet once: the files are downloaded into {cache_dir() / 'fashion-mnist'}."
    )


def fashion_mnist_file(filename: str, sha256: str, *, mirror: str = FASHION_MNIST_URL, download: bool = True) -> bytes:
    """The verified, decompressed content of one Fashion-MNIST file.

    Looks in ``$DLCOURSE_DATA/fashion-mnist``, then in the Debian package's folder, then in the cache; if it
    is in none of them and ``download`` is true, downloads it from ``mirror`` into the cache.
    """
    places = []
    if (root := runtime.data_dir()) is not None:
        places.append(root / "fashion-mnist")
    places += [FASHION_MNIST_DEBIAN_DIR, cache_dir() / "fashion-mnist"]
    for folder in places:
        if (folder / filename).is_file():
            return _read_verified(folder / filename, sha256)
    if not download:
        raise DatasetNotFoundError(_not_found_message(filename, places, "download=False"))
    url = mirror.rstrip("/") + "/" + filename
    try:
        _download(url, places[-1] / filename, sha256)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        reason = getattr(err, "reason", err)
        raise DatasetNotFoundError(_not_found_message(filename, places, f"{url}: {reason}")) from None
    return _read_verified(places[-1] / filename, sha256)


def load_fashion_mnist(split: str = "train", *, mirror: str = FASHION_MNIST_URL, download: bool = True):
    """Fashion-MNIST: ``X`` (n, 28, 28) float32 in [0, 1] and ``y`` (n,) int64 in 0..9.

    ``split`` is ``"train"`` (60,000 images) or ``"test"`` (10,000). Class names: ``FASHION_MNIST_CLASSES``.
    """
    if split not in FASHION_MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    (img_name, img_sha), (lbl_name, lbl_sha) = FASHION_MNIST_FILES[split]
    images = parse_idx(fashion_mnist_file(img_name, img_sha, mirror=mirror, download=download))
    labels = parse_idx(fashion_mnist_file(lbl_name, lbl_sha, mirror=mirror, download=download))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"inconsistent Fashion-MNIST files: images {images.shape}, labels {labels.shape}")
    X = images.astype(np.float32)  # one float32 copy, scaled in place (60,000 images: 188 MB, not twice that)
    X /= 255.0
    return X, labels.astype(np.int64)
