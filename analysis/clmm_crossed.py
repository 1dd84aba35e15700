"""Fit a cumulative logit mixed model with crossed random effects, as ``ordinal::clmm`` does.

The Laplace log-likelihood (:mod:`analysis.laplace`) is maximised by BFGS over the thresholds
(first cut-point and log increments, so they stay ordered), the location coefficients and
each random term's Cholesky factor (log diagonal). Standard errors come from the Hessian in the
natural parameters (cut-points, coefficients, factor elements with the SD itself on the
diagonal), which is what R's ``clmm`` reports; because the likelihood is even in an SD, the
Hessian stays defined when an SD is estimated at zero.

By default the optimiser gets the exact gradient of the Laplace log-likelihood
(:mod:`analysis.laplace_gradient`, mapped to the free parameters by the chain rule) and the
Hessian is a central difference of that gradient: ``2 d`` gradients instead of about ``2 d^2``
likelihoods. ``gradient="numeric"`` keeps the finite-difference path (BFGS's own differences,
a Hessian from likelihood values) for comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

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
# Relative step of the central differences in the Hessian (of values or of gradients).
HESSIAN_STEP = 1e-4

Gradient = Literal["analytic", "numeric"]


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
    gradient: Gradient = "analytic",
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
    gradient
        ``"analytic"`` (exact gradients for the optimiser and the Hessian) or ``"numeric"``
        (finite differences of the likelihood throughout, the slower reference).

    Returns
    -------
    CrossedClmmResult
    """
    if gradient not in ("analytic", "numeric"):
        raise ValueError(f"gradient must be 'analytic' or 'numeric', not {gradient!r}.")
    widths = sorted(t.n_groups * t.size for t in terms)
    threads = 1 if sum(widths[:-1]) <= SINGLE_THREAD_MAX else None
    with threadpool_limits(limits=threads):
        return _fit(y, x, terms, names, start, hessian, gradient)


def _fit(
    y: np.ndarray,
    x: np.ndarray,
    terms: list[RandomTerm],
    names: tuple[str, ...] | None,
    start: np.ndarray | None,
    hessian: bool,
    gradient: Gradient,
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
    if gradient == "analytic":
        natural, loglik, max_grad = _optimise_analytic(problem, phi0, k, p, sizes)
    else:
        natural, loglik, max_grad = _optimise_numeric(problem, phi0, k, p, sizes)
    cov = (
        _covariance(problem, natural, gradient) if hessian else np.full((natural.size,) * 2, np.nan)
    )
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


def _optimise_numeric(
    problem: LaplaceProblem, phi0: np.ndarray, k: int, p: int, sizes: list[int]
) -> tuple[np.ndarray, float, float]:
    """BFGS on finite differences; (natural estimates, log-likelihood, largest gradient)."""

    def objective(phi: np.ndarray) -> float:
        value = problem.laplace(_to_natural(phi, k, p, sizes))
        return -value if np.isfinite(value) else 1e300

    res = optimize.minimize(objective, phi0, method="BFGS", options={"gtol": 1e-6})
    natural = _to_natural(res.x, k, p, sizes)
    grad = optimize.approx_fprime(res.x, objective, 1e-7)
    return natural, problem.laplace(natural), float(np.abs(grad).max())


def _optimise_analytic(
    problem: LaplaceProblem, phi0: np.ndarray, k: int, p: int, sizes: list[int]
) -> tuple[np.ndarray, float, float]:
    """BFGS on exact gradients; (natural estimates, log-likelihood, largest gradient)."""

    def objective(phi: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = problem.laplace_and_gradient(_to_natural(phi, k, p, sizes))
        if not np.isfinite(value):
            return 1e300, np.zeros_like(phi)
        return -value, -_free_gradient(grad, phi, k, p, sizes)

    res = optimize.minimize(objective, phi0, jac=True, method="BFGS", options={"gtol": 1e-6})
    value, grad = objective(res.x)
    return _to_natural(res.x, k, p, sizes), -value, float(np.abs(grad).max())


def _free_gradient(
    grad: np.ndarray, phi: np.ndarray, k: int, p: int, sizes: list[int]
) -> np.ndarray:
    """Chain rule from a gradient in natural parameters to one in the free parameters."""
    out = grad.copy()
    # theta_j = phi_0 + sum_{m=1..j} exp(phi_m): phi_m moves every cut-point from the m-th on.
    tail = np.cumsum(grad[:k][::-1])[::-1]
    out[0] = tail[0]
    out[1:k] = tail[1:] * np.exp(phi[1:k])
    pos = k + p
    for s in sizes:
        n = s * (s + 1) // 2
        rows, cols = np.tril_indices(s)
        diagonal = pos + np.flatnonzero(rows == cols)
        out[diagonal] = grad[diagonal] * np.exp(phi[diagonal])
        pos += n
    return out


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


def _covariance(problem: LaplaceProblem, natural: np.ndarray, gradient: Gradient) -> np.ndarray:
    if gradient == "analytic":
        hess = _gradient_hessian(lambda point: problem.laplace_and_gradient(point)[1], natural)
    else:
        hess = _central_hessian(problem.laplace, natural)
    try:
        return np.asarray(np.linalg.inv(-hess))
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.pinv(-hess))


def _gradient_hessian(grad: Callable[[np.ndarray], np.ndarray], point: np.ndarray) -> np.ndarray:
    """Hessian as central differences of an exact gradient, symmetrised; steps as below."""
    d = point.size
    steps = HESSIAN_STEP * np.maximum(np.abs(point), 0.1)
    hess = np.empty((d, d))
    for i in range(d):
        e_i = np.zeros(d)
        e_i[i] = steps[i]
        hess[:, i] = (grad(point + e_i) - grad(point - e_i)) / (2 * steps[i])
    return 0.5 * (hess + hess.T)


def _central_hessian(f: Callable[[np.ndarray], float], point: np.ndarray) -> np.ndarray:
    """Central-difference Hessian, steps scaled to each coordinate."""
    d = point.size
    steps = HESSIAN_STEP * np.maximum(np.abs(point), 0.1)
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
