"""Fit a cumulative logit mixed model with crossed random effects, as ``ordinal::clmm`` does.

The Laplace log-likelihood (:mod:`analysis.laplace`) is maximised by BFGS over the thresholds
(first cut-point and log increments, so they stay ordered), the location coefficients and
each random term's Cholesky factor (log diagonal). Standard errors come from a central
finite-difference Hessian in the natural parameters (cut-points, coefficients, factor elements
with the SD itself on the diagonal), which is what R's ``clmm`` reports; because the
likelihood is even in an SD, the Hessian stays defined when an SD is estimated at zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize
from threadpoolctl import threadpool_limits

from analysis.clmm import fit_clm
from analysis.laplace import LaplaceProblem, RandomTerm, cholesky_factor

# Below this SD a random term is reported as estimated at its boundary (no variance).
BOUNDARY_SD = 1e-4
# The largest gradient of the log-likelihood (in the optimiser's parameters) that still counts
# as converged; R's clmm warns above 1e-3.
GRADIENT_TOL = 1e-3
START_SD = 0.5
# Small dense factorisations run fastest on one BLAS thread; beyond this many columns in the
# Schur complement the threads pay for themselves.
SINGLE_THREAD_MAX = 1500


@dataclass(frozen=True)
class CrossedClmmResult:
    """Estimates of a crossed cumulative link mixed model.

    ``cov`` is ordered as (thresholds, beta, every term's factor elements in row order).
    """

    thresholds: np.ndarray
    beta: np.ndarray
    covariances: dict[str, np.ndarray]
    cov: np.ndarray
    loglik: float
    converged: bool
    max_gradient: float
    n_obs: int
    n_groups: dict[str, int]
    names: tuple[str, ...]
    levels: tuple[float, ...]
    term_columns: dict[str, tuple[str, ...]]

    def sd(self, term: str) -> float:
        """SD of a term's first column (its intercept)."""
        return float(np.sqrt(self.covariances[term][0, 0]))


def fit_crossed_clmm(
    y: np.ndarray,
    x: np.ndarray,
    terms: list[RandomTerm],
    names: tuple[str, ...] | None = None,
    start: np.ndarray | None = None,
    hessian: bool = True,
) -> CrossedClmmResult:
    """Fit ``P(Y <= j) = F(theta_j - x'beta - z'b)`` with crossed random terms (logit).

    Parameters
    ----------
    y
        Ordinal responses, shape (N,); their sorted distinct values are the levels.
    x
        Location covariates without an intercept, shape (N, P).
    terms
        Random terms (see :class:`analysis.laplace.RandomTerm`).
    names
        Names of the covariates.
    start
        Optional starting point in natural parameters (as ``cov`` is ordered).
    hessian
        Compute standard errors (the finite-difference Hessian costs about as much as the fit).

    Returns
    -------
    CrossedClmmResult
    """
    widths = sorted(t.n_groups * t.size for t in terms)
    threads = 1 if sum(widths[:-1]) <= SINGLE_THREAD_MAX else None
    with threadpool_limits(limits=threads):
        return _fit(y, x, terms, names, start, hessian)


def _fit(
    y: np.ndarray,
    x: np.ndarray,
    terms: list[RandomTerm],
    names: tuple[str, ...] | None,
    start: np.ndarray | None,
    hessian: bool,
) -> CrossedClmmResult:
    levels, codes = np.unique(np.asarray(y), return_inverse=True)
    if len(levels) < 2:
        raise ValueError("The response has a single level; a cumulative model needs two or more.")
    x = np.asarray(x, dtype=float).reshape(len(codes), -1)
    problem = LaplaceProblem(codes, x, terms, len(levels))
    k, p = len(levels) - 1, x.shape[1]
    if start is None:
        clm = fit_clm(codes, x)
        factors = [START_SD * np.eye(t.size)[np.tril_indices(t.size)] for t in terms]
        start = np.r_[clm.thresholds, clm.beta, *factors]
    sizes = [t.size for t in terms]
    phi0 = _to_free(start, k, p, sizes)

    def objective(phi: np.ndarray) -> float:
        value = problem.laplace(_to_natural(phi, k, p, sizes))
        return -value if np.isfinite(value) else 1e300

    res = optimize.minimize(objective, phi0, method="BFGS", options={"gtol": 1e-6})
    natural = _to_natural(res.x, k, p, sizes)
    grad = optimize.approx_fprime(res.x, objective, 1e-7)
    max_grad = float(np.abs(grad).max())
    loglik = problem.laplace(natural)
    cov = _covariance(problem, natural) if hessian else np.full((natural.size,) * 2, np.nan)
    _, _, chol = problem.split(natural)
    return CrossedClmmResult(
        thresholds=natural[:k],
        beta=natural[k : k + p],
        covariances={t.name: f @ f.T for t, f in zip(terms, chol, strict=True)},
        cov=cov,
        loglik=float(loglik),
        converged=max_grad < GRADIENT_TOL,
        max_gradient=max_grad,
        n_obs=len(codes),
        n_groups={t.name: t.n_groups for t in terms},
        names=tuple(names) if names is not None else tuple(f"x{i}" for i in range(p)),
        levels=tuple(float(v) for v in levels),
        term_columns={t.name: t.columns for t in terms},
    )


def _free_factor(values: np.ndarray, size: int) -> np.ndarray:
    factor = cholesky_factor(values, size)
    diag = np.abs(np.diag(factor))
    factor[np.diag_indices(size)] = np.log(np.maximum(diag, 1e-8))
    return factor[np.tril_indices(size)]


def _to_free(natural: np.ndarray, k: int, p: int, sizes: list[int]) -> np.ndarray:
    theta = natural[:k]
    parts = [theta[:1], np.log(np.maximum(np.diff(theta), 1e-8)), natural[k : k + p]]
    pos = k + p
    for s in sizes:
        n = s * (s + 1) // 2
        parts.append(_free_factor(natural[pos : pos + n], s))
        pos += n
    return np.concatenate(parts)


def _to_natural(phi: np.ndarray, k: int, p: int, sizes: list[int]) -> np.ndarray:
    theta = np.cumsum(np.r_[phi[0], np.exp(phi[1:k])])
    parts = [theta, phi[k : k + p]]
    pos = k + p
    for s in sizes:
        n = s * (s + 1) // 2
        factor = cholesky_factor(phi[pos : pos + n], s)
        factor[np.diag_indices(s)] = np.exp(np.diag(factor))
        parts.append(factor[np.tril_indices(s)])
        pos += n
    return np.concatenate(parts)


def _covariance(problem: LaplaceProblem, natural: np.ndarray) -> np.ndarray:
    hess = _central_hessian(problem.laplace, natural)
    try:
        return np.asarray(np.linalg.inv(-hess))
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.pinv(-hess))


def _central_hessian(func: object, point: np.ndarray) -> np.ndarray:
    """Central-difference Hessian, steps scaled to each coordinate."""
    f = func  # callable(np.ndarray) -> float
    assert callable(f)
    d = point.size
    steps = 1e-4 * np.maximum(np.abs(point), 0.1)
    hess = np.empty((d, d))
    f0 = f(point)
    for i in range(d):
        e_i = np.zeros(d)
        e_i[i] = steps[i]
        hess[i, i] = (f(point + e_i) - 2 * f0 + f(point - e_i)) / steps[i] ** 2
        for j in range(i):
            e_j = np.zeros(d)
            e_j[j] = steps[j]
            value = (
                f(point + e_i + e_j)
                - f(point + e_i - e_j)
                - f(point - e_i + e_j)
                + f(point - e_i - e_j)
            ) / (4 * steps[i] * steps[j])
            hess[i, j] = hess[j, i] = value
    return hess
