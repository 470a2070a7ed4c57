"""Subspaces: PCA's principal subspace and the principal angles between two subspaces (lecture 08, ps5).

A linear autoencoder with k hidden units learns the same *subspace* as PCA's top k components, but not the same
basis: any invertible k x k matrix can be slipped between its encoder and its decoder. So the two are compared
by the **principal angles** between their column spaces, never entry by entry. For subspaces spanned by the
columns of A (d, a) and B (d, b), the cosines of the angles are the singular values of Q_A' Q_B, where Q_A and
Q_B are orthonormal bases; all angles 0 means one subspace contains the other.
"""

from __future__ import annotations

import numpy as np

from . import _reference, _validate
from ._reference import reference

_reference.reference_module(__name__)


def centre(X) -> np.ndarray:
    """X (n, d) minus its column means, shape (n, d)."""
    X = _validate.as_matrix(X, "X")
    return X - X.mean(axis=0)


@reference
def pca_subspace(X, k: int) -> np.ndarray:
    """An orthonormal basis (d, k) of the top-k principal subspace of the centred data X (n, d).

    The right singular vectors of the centred data with the k largest singular values (equivalently, the top-k
    eigenvectors of the covariance X_c' X_c / n). When singular values repeat at the cut, the subspace itself is
    not defined uniquely; any basis of it is as good as this one.
    """
    Xc = centre(X)
    k = _validate.as_int(k, "k")
    if k > Xc.shape[1]:
        raise ValueError(f"k = {k} is larger than the dimension d = {Xc.shape[1]} of the data")
    _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
    if k > Vt.shape[0]:  # fewer examples than k: complete the basis with directions of zero variance
        Vt = np.linalg.svd(np.vstack([Xc, np.zeros((k - Vt.shape[0], Xc.shape[1]))]), full_matrices=False)[2]
    return Vt[:k].T.copy()


def orthonormal_basis(A, name: str = "A", rtol: float = 1e-10) -> np.ndarray:
    """An orthonormal basis (d, r) of the column space of A (d, a), r its numerical rank (from the SVD)."""
    A = _validate.as_float_array(A, name, ndim=2)
    if A.shape[1] == 0 or A.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains nan or inf")
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    rank = int(np.sum(s > rtol * max(s[0], np.finfo(float).tiny)))
    if rank == 0:
        raise ValueError(f"{name} is zero: its columns span no subspace")
    return U[:, :rank]


@reference
def principal_angles(A, B) -> np.ndarray:
    """Principal angles (radians, ascending) between the column spaces of A (d, a) and B (d, b).

    Returns min(rank A, rank B) angles in [0, pi/2]. Small angles come from the sines (the singular values of
    the part of Q_B outside span(A)) and large ones from the cosines: arccos alone loses all accuracy near 0,
    where cos is flat (an angle of 1e-8 would read as 0 or 1e-8 at random).
    """
    Qa, Qb = orthonormal_basis(A, "A"), orthonormal_basis(B, "B")
    if Qa.shape[0] != Qb.shape[0]:
        raise ValueError(f"A and B must have the same number of rows, got {Qa.shape[0]} and {Qb.shape[0]}")
    if Qb.shape[1] > Qa.shape[1]:
        Qa, Qb = Qb, Qa
    M = Qa.T @ Qb  # (a, b), b <= a
    cos = np.clip(np.linalg.svd(M, compute_uv=False), 0.0, 1.0)  # descending: angles ascending
    sin = np.clip(np.linalg.svd(Qb - Qa @ M, compute_uv=False)[::-1], 0.0, 1.0)  # ascending
    return np.where(cos**2 > 0.5, np.arcsin(sin), np.arccos(cos))
