import gzip
import hashlib
import http.server
import os
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from dlcourse import data

# --- toy problems ------------------------------------------------------------------------------------------


def test_gaussian_classes_match_their_parameters():
    mu0, mu1 = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    S0, S1 = np.array([[1.0, 0.5], [0.5, 2.0]]), np.array([[0.5, 0.0], [0.0, 0.2]])
    X, y = data.gaussian_classes(40000, mu0, mu1, S0, S1, prior1=0.3, rng=0)
    assert X.shape == (40000, 2) and y.shape == (40000,) and set(np.unique(y)) == {0, 1}
    assert abs(y.mean() - 0.3) < 0.01
    for k, mu, S in [(0, mu0, S0), (1, mu1, S1)]:
        np.testing.assert_allclose(X[y == k].mean(axis=0), mu, atol=0.05)
        np.testing.assert_allclose(np.cov(X[y == k].T), S, atol=0.06)


def test_gaussian_classes_are_reproducible_and_share_covariance_by_default():
    a = data.gaussian_classes(50, [0, 0], [1, 1], np.eye(2), rng=5)
    b = data.gaussian_classes(50, [0, 0], [1, 1], np.eye(2), rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("kwargs, message", [
    (dict(mu1=[1.0, 2.0, 3.0]), "mu1 must have shape"),
    (dict(Sigma0=[[1.0, 2.0], [2.0, 1.0]]), "positive definite"),
    (dict(Sigma0=[[1.0, 0.5], [0.0, 1.0]]), "symmetric"),
    (dict(prior1=1.0), "prior1 must lie strictly between 0 and 1"),
    (dict(n=0), "n must be >= 1"),
    (dict(mu0=["a", "b"]), "mu0 must be numeric"),
    (dict(rng="seed"), "rng must be"),
])
def test_gaussian_classes_reject_bad_input(kwargs, message):
    args = dict(n=10, mu0=[0.0, 0.0], mu1=[1.0, 1.0], Sigma0=np.eye(2))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        data.gaussian_classes(**args)


@pytest.mark.parametrize("make", [data.moons, data.xor])
def test_moons_and_xor(make):
    X, y = make(400, noise=0.1, rng=1)
    assert X.shape == (400, 2) and y.shape == (400,)
    assert 0.4 < y.mean() < 0.6
    np.testing.assert_array_equal(make(400, noise=0.1, rng=1)[0], X)
    with pytest.raises(ValueError, match="noise"):
        make(10, noise=-1.0)


def test_xor_labels_follow_the_quadrant():
    X, y = data.xor(500, noise=0.0, rng=0)
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))


def test_moons_are_not_linearly_separable():
    from sklearn.linear_model import LogisticRegression

    X, y = data.moons(1000, noise=0.05, rng=0)
    assert LogisticRegression(C=np.inf).fit(X, y).score(X, y) < 0.95


def test_digits_and_the_fixed_split():
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.min() == 0.0 and X.max() == 1.0
    Xtr, Xte, ytr, yte = data.digits_split()
    assert Xtr.shape == (1347, 64) and Xte.shape == (450, 64)
    # stratified: every class has about 25 % of its examples in the test split
    for label in range(10):
        frac = (yte == label).sum() / (y == label).sum()
        assert abs(frac - 0.25) < 0.01
    # disjoint, complete and the same every time
    rows = {r.tobytes() for r in Xtr} | {r.tobytes() for r in Xte}
    assert len(rows) == len({r.tobytes() for r in X})
    np.testing.assert_array_equal(data.digits_split()[1], Xte)


# --- idx parsing -----------------------------------------------------------------------------------------


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_parse_idx_roundtrip_and_errors():
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(arr)), arr)
    with pytest.raises(ValueError, match="not an idx file"):
        data.parse_idx(b"\x01\x00\x08\x01")
    with pytest.raises(ValueError, match="header promises"):
        data.parse_idx(idx_bytes(arr)[:-1])
    with pytest.raises(ValueError, match="type 0x0d"):
        data.parse_idx(bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]))


# --- Fashion-MNIST: a tiny fixture, a local server, an isolated cache -----------------------------------


@pytest.fixture
def tiny_fashion(tmp_path, monkeypatch):
    """Fake Fashion-MNIST files (7 train, 3 test images) with the lib's checksum table pointed at them."""
    rng = np.random.default_rng(0)
    files, table = {}, {}
    for split, n in [("train", 7), ("test", 3)]:
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        entries = []
        for kind, arr in [("images", images), ("labels", labels)]:
            name = f"{split}-{kind}.gz"
            raw = idx_bytes(arr)
            files[name] = gzip.compress(raw)
            entries.append((name, hashlib.sha256(raw).hexdigest()))
        table[split] = tuple(entries)
        files[f"{split}-arrays"] = (images, labels)
    monkeypatch.setattr(data, "FASHION_MNIST_FILES", table)
    monkeypatch.setattr(data, "FASHION_MNIST_DEBIAN_DIR", tmp_path / "no-debian-package")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DLCOURSE_DATA", raising=False)
    return files


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/mirror; yields (folder, base URL)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _cache_files(tmp_path: Path) -> list[str]:
    folder = tmp_path / "cache" / "dlcourse" / "fashion-mnist"
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_download_into_the_cache_then_reuse_it(tiny_fashion, mirror, tmp_path):
    folder, url = mirror
    for name, blob in tiny_fashion.items():
        if name.endswith(".gz"):
            (folder / name).write_bytes(blob)
    X, y = data.load_fashion_mnist("train", mirror=url)
    images, labels = tiny_fashion["train-arrays"]
    assert X.dtype == np.float32 and X.shape == (7, 28, 28) and y.dtype == np.int64
    np.testing.assert_allclose(X, images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)
    assert _cache_files(tmp_path) == ["train-images.gz", "train-labels.gz"]
    # second call: the mirror is gone, the cache answers
    for f in folder.iterdir():
        f.unlink()
    X2, _ = data.load_fashion_mnist("train", mirror=url)
    np.testing.assert_array_equal(X2, X)


def test_corrupted_download_is_rejected_and_leaves_nothing(tiny_fashion, mirror, tmp_path):
    folder, url = mirror
    (folder / "test-images.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02ab"))
    (folder / "test-labels.gz").write_bytes(tiny_fashion["test-labels.gz"])
    with pytest.raises(data.ChecksumError, match="sha256"):
        data.load_fashion_mnist("test", mirror=url)
    assert _cache_files(tmp_path) == []  # no half-written file, no .part left behind


def test_truncated_download_is_rejected(tiny_fashion, mirror, tmp_path):
    folder, url = mirror
    (folder / "test-images.gz").write_bytes(tiny_fashion["test-images.gz"][:50])
    with pytest.raises(data.ChecksumError):
        data.load_fashion_mnist("test", mirror=url)
    assert _cache_files(tmp_path) == []


def test_offline_error_names_the_three_ways(tiny_fashion, mirror):
    _, url = mirror  # serves nothing: every file is a 404
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load_fashion_mnist("train", mirror=url)
    message = str(err.value)
    assert "DLCOURSE_DATA" in message and "apt-get install dataset-fashion-mnist" in message
    assert "connect to the internet" in message and "train-images.gz" in message
    with pytest.raises(data.DatasetNotFoundError, match="download=False"):
        data.load_fashion_mnist("train", download=False)


def test_unreachable_mirror(tiny_fashion):
    with pytest.raises(data.DatasetNotFoundError, match="could not download"):
        data.load_fashion_mnist("test", mirror="http://127.0.0.1:9/")  # the discard port: connection refused


def test_dlcourse_data_comes_first_and_is_verified(tiny_fashion, tmp_path, monkeypatch):
    folder = tmp_path / "mydata" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name in ("test-images.gz", "test-labels.gz"):
        (folder / name).write_bytes(tiny_fashion[name])
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path / "mydata"))
    X, y = data.load_fashion_mnist("test", download=False)
    assert X.shape == (3, 28, 28)
    (folder / "test-labels.gz").write_bytes(gzip.compress(b"junk"))
    with pytest.raises(data.ChecksumError, match="corrupted"):
        data.load_fashion_mnist("test", download=False)


def test_bad_split():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load_fashion_mnist("validation")


@pytest.mark.skipif(not data.FASHION_MNIST_DEBIAN_DIR.exists() and not os.environ.get("DLCOURSE_REQUIRE_SYSTEM"),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.delenv("DLCOURSE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing may come from (or go to) a cache
    X, y = data.load_fashion_mnist("test", download=False)
    assert X.shape == (10000, 28, 28) and y.shape == (10000,)
    assert np.bincount(y).tolist() == [1000] * 10
    assert 0.0 <= X.min() and X.max() <= 1.0


# --- the ring of Gaussians (lecture 09, ps6) -----------------------------------------------------------------


def test_ring_of_gaussians_spreads_its_samples_over_the_modes():
    X, centres = data.ring_of_gaussians(8000, modes=8, radius=2.0, std=0.02, rng=0)
    assert X.shape == (8000, 2) and X.dtype == np.float64 and centres.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0)
    np.testing.assert_allclose(centres[0], [2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(centres, data.ring_centres(8, 2.0))
    nearest = np.argmin(np.linalg.norm(X[:, None] - centres[None], axis=2), axis=1)
    counts = np.bincount(nearest, minlength=8)
    assert np.all(np.abs(counts / 8000 - 1 / 8) < 0.015)              # each mode about equally often
    assert not np.all(nearest[:8] == np.arange(8))                     # in random order
    offsets = X - centres[nearest]
    assert np.std(offsets) == pytest.approx(0.02, rel=0.03) and np.abs(offsets.mean(axis=0)).max() < 0.002
    np.testing.assert_array_equal(X, data.ring_of_gaussians(8000, rng=0)[0])
    assert not np.array_equal(X, data.ring_of_gaussians(8000, rng=1)[0])
    np.testing.assert_allclose(data.ring_centres(4, 1.0), [[1, 0], [0, 1], [-1, 0], [0, -1]], atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0), "n must be >= 1"),
    (dict(modes=0), "modes must be >= 1"),
    (dict(radius=-1.0), "radius must be > 0"),
    (dict(std=0.0), "std must be > 0"),
])
def test_ring_of_gaussians_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.ring_of_gaussians(**{"n": 10, **kwargs})
