"""Likelihood of cumulative link models on compressed cells, with an optional random intercept.

Identical (group, x, y) rows are merged into counts; the log-likelihood, its analytic gradient
in the natural parameters (thresholds, beta[, sigma]) and a finite-difference Hessian are
computed from those cells. The random intercept is integrated over quadrature nodes placed
per group (see :mod:`analysis.clmm` for how they are adapted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from scipy import optimize, special, stats

# Quadrature nodes per group (G, Q) and their log weights (G, Q).
Nodes = tuple[np.ndarray, np.ndarray]
# F(t) of a link, and its density f given (t, F(t), 1 - F(t)); elementwise on any shape.
Cdf = Callable[[np.ndarray], np.ndarray]
Pdf = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class CompressedData:
    """Distinct (group, y, x) cells with their counts, sorted by group."""

    y: np.ndarray
    x: np.ndarray
    count: np.ndarray
    group: np.ndarray
    starts: np.ndarray
    n_levels: int


def compress(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> tuple[CompressedData, np.ndarray]:
    """Merge identical (group, y, x) rows into counts, sorted by group.

    Parameters
    ----------
    y
        Ordinal responses, shape (N,); their sorted distinct values are the levels.
    x
        Covariates, shape (N, P); no intercept column.
    groups
        Group labels, shape (N,).
    """
    levels, y_code = np.unique(np.asarray(y), return_inverse=True)
    g_code = pd.factorize(np.asarray(groups), sort=True)[0]
    x = np.asarray(x, dtype=float).reshape(len(y_code), -1)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    frame.insert(0, "y", y_code)
    frame.insert(0, "g", g_code)
    cells = frame.groupby(list(frame.columns), sort=True).size().reset_index(name="count")
    group = cells["g"].to_numpy()
    starts = np.flatnonzero(np.r_[True, np.diff(group) != 0])
    return CompressedData(
        y=cells["y"].to_numpy(),
        x=cells[[c for c in cells.columns if c.startswith("x")]].to_numpy(dtype=float),
        count=cells["count"].to_numpy(dtype=float),
        group=group,
        starts=starts,
        n_levels=len(levels),
    ), levels


def cdf_pdf(link: str) -> tuple[Cdf, Pdf]:
    """CDF of the latent distribution of a link, and its density given (t, F(t), 1 - F(t))."""
    if link == "logit":
        return special.expit, lambda t, cdf, sf: cdf * sf
    if link == "probit":
        # Infinite edges are masked by the caller; evaluate them at 0 to avoid overflow.
        return special.ndtr, lambda t, cdf, sf: stats.norm.pdf(np.where(np.isinf(t), 0.0, t))
    raise ValueError(f"Unknown link {link!r}; use 'logit' or 'probit'.")


def category_terms(
    theta: np.ndarray, beta: np.ndarray, data: CompressedData, u: np.ndarray, link: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log P(y | u) and its derivatives for every cell (rows) and node (columns)."""
    cdf, pdf = cdf_pdf(link)
    edges = np.r_[-np.inf, theta, np.inf]
    eta = data.x @ beta
    upper = edges[data.y + 1][:, None] - eta[:, None] - u
    lower = edges[data.y][:, None] - eta[:, None] - u
    # The survival functions come from F(-t) rather than 1 - F(t), so subtracting them keeps
    # precision when both bounds sit in the upper tail.
    cdf_up, cdf_lo, sf_up, sf_lo = cdf(upper), cdf(lower), cdf(-upper), cdf(-lower)
    p = np.where(upper + lower > 0, sf_lo - sf_up, cdf_up - cdf_lo)
    p = np.maximum(p, 1e-300)
    # Densities vanish at the infinite outer edges (F(t)(1 - F(t)) = 0 there for the logit).
    f_up = np.where(np.isinf(upper), 0.0, pdf(upper, cdf_up, sf_up))
    f_lo = np.where(np.isinf(lower), 0.0, pdf(lower, cdf_lo, sf_lo))
    return np.log(p), f_up / p, f_lo / p


def loglik_grad(
    params: np.ndarray, data: CompressedData, nodes: Nodes, link: str, with_sigma: bool
) -> tuple[float, np.ndarray, np.ndarray]:
    """Log-likelihood and gradient in natural parameters (theta, beta[, sigma])."""
    k = data.n_levels - 1
    theta, beta = params[:k], params[k : k + data.x.shape[1]]
    u_gq, log_w = nodes
    u_rows = u_gq[data.group]
    logp, d_up, d_lo = category_terms(theta, beta, data, u_rows, link)
    l_gq = np.add.reduceat(data.count[:, None] * logp, data.starts, axis=0) + log_w
    if with_sigma:
        sigma = params[-1]
        l_gq = l_gq - np.log(sigma) - 0.5 * (u_gq / sigma) ** 2
    log_l = special.logsumexp(l_gq, axis=1)
    post = np.exp(l_gq - log_l[:, None])
    weight = data.count[:, None] * post[data.group]
    g_up, g_lo = (weight * d_up).sum(axis=1), (weight * d_lo).sum(axis=1)
    grad_theta = np.bincount(data.y, weights=g_up, minlength=k + 1)[:k]
    grad_theta -= np.bincount(data.y, weights=g_lo, minlength=k + 1)[1 : k + 1]
    grad_beta = -data.x.T @ (g_up - g_lo)
    grad = np.r_[grad_theta, grad_beta]
    if with_sigma:
        grad = np.r_[grad, (post * (-1 / sigma + u_gq**2 / sigma**3)).sum()]
    return float(log_l.sum()), grad, post


def to_natural(phi: np.ndarray, k: int, p: int, with_sigma: bool) -> np.ndarray:
    """Map optimiser parameters (theta_1, log increments, beta[, log sigma]) to natural ones."""
    theta = np.cumsum(np.r_[phi[0], np.exp(phi[1:k])])
    out: np.ndarray = np.r_[theta, phi[k : k + p]]
    if with_sigma:
        out = np.r_[out, np.exp(phi[-1])]
    return out


def chain_rule(phi: np.ndarray, grad: np.ndarray, k: int, with_sigma: bool) -> np.ndarray:
    """Gradient in optimiser parameters from the gradient in natural parameters."""
    # d theta_j / d phi_0 = 1 and d theta_j / d phi_l = exp(phi_l) for l <= j.
    g = grad.copy()
    tail = np.cumsum(grad[:k][::-1])[::-1]
    g[0] = tail[0]
    g[1:k] = np.exp(phi[1:k]) * tail[1:k]
    if with_sigma:
        g[-1] = grad[-1] * np.exp(phi[-1])
    return g


def quadrature_nodes(n_groups: int, mu: np.ndarray, scale: np.ndarray, n_nodes: int) -> Nodes:
    """Gauss-Hermite nodes ``u = mu + scale z`` per group and their log weights."""
    z, w = hermegauss(n_nodes)
    u = mu[:, None] + scale[:, None] * z[None, :]
    # Change of variables u = mu + s z: weight w(z) phi(z)^-1 s, prior density added separately.
    log_w = np.log(w / np.sqrt(2 * np.pi)) + 0.5 * z**2 + 0.5 * np.log(2 * np.pi)
    return u, log_w[None, :] + np.log(scale)[:, None] - 0.5 * np.log(2 * np.pi)


def start_params(data: CompressedData) -> np.ndarray:
    """Optimiser start: cut-points from the marginal cumulative shares, beta = 0."""
    props = np.bincount(data.y, weights=data.count, minlength=data.n_levels)
    cum = np.cumsum(props)[:-1] / props.sum()
    theta = special.logit(np.clip(cum, 1e-4, 1 - 1e-4))
    theta = np.maximum.accumulate(theta + np.arange(len(theta)) * 1e-3)
    start: np.ndarray = np.r_[theta[0], np.log(np.diff(theta)), np.zeros(data.x.shape[1])]
    return start


def objective(
    data: CompressedData, nodes: Nodes, link: str, with_sigma: bool
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """Mean negative log-likelihood and its gradient in optimiser parameters."""
    k, p, n = data.n_levels - 1, data.x.shape[1], data.count.sum()

    def fun(phi: np.ndarray) -> tuple[float, np.ndarray]:
        natural = to_natural(phi, k, p, with_sigma)
        ll, grad, _ = loglik_grad(natural, data, nodes, link, with_sigma)
        return -ll / n, -chain_rule(phi, grad, k, with_sigma) / n

    return fun


def adapt_nodes(
    natural: np.ndarray,
    data: CompressedData,
    nodes: Nodes,
    link: str,
    n_nodes: int,
    rounds: int = 3,
) -> Nodes:
    """Re-centre and re-scale each group's nodes on its current posterior of u."""
    # Moment-matched adaptive quadrature: centre and scale each group's nodes on the current
    # posterior of u. A few passes let a badly placed start grid move onto the posterior.
    for _ in range(rounds):
        _, _, post = loglik_grad(natural, data, nodes, link, True)
        mu = (post * nodes[0]).sum(axis=1)
        sd = np.sqrt((post * (nodes[0] - mu[:, None]) ** 2).sum(axis=1))
        nodes = quadrature_nodes(len(mu), mu, np.maximum(sd, 1e-6 * natural[-1]), n_nodes)
    return nodes


def numerical_hessian(
    natural: np.ndarray, data: CompressedData, nodes: Nodes, link: str, with_sigma: bool
) -> np.ndarray:
    """Central finite differences of the analytic gradient (natural parameters)."""
    step = 1e-5 * np.maximum(1.0, np.abs(natural))
    cols = []
    for i in range(natural.size):
        e = np.zeros_like(natural)
        e[i] = step[i]
        g_plus = loglik_grad(natural + e, data, nodes, link, with_sigma)[1]
        g_minus = loglik_grad(natural - e, data, nodes, link, with_sigma)[1]
        cols.append((g_plus - g_minus) / (2 * step[i]))
    h = np.array(cols)
    symmetric: np.ndarray = 0.5 * (h + h.T)
    return symmetric


def minimise(
    data: CompressedData,
    nodes: Nodes,
    link: str,
    with_sigma: bool,
    start: np.ndarray,
    hess_inv: np.ndarray | None = None,
) -> optimize.OptimizeResult:
    """BFGS on :func:`objective`, optionally warm-started with an inverse Hessian."""
    fun = objective(data, nodes, link, with_sigma)
    options = {"gtol": 1e-9, "hess_inv0": hess_inv}
    return optimize.minimize(fun, start, jac=True, method="BFGS", options=options)


def group_scores(natural: np.ndarray, data: CompressedData, link: str) -> np.ndarray:
    """Per-group sums of score vectors of a model without random effect, shape (G, K)."""
    k, p = data.n_levels - 1, data.x.shape[1]
    logp, d_up, d_lo = category_terms(
        natural[:k], natural[k : k + p], data, np.zeros((len(data.y), 1)), link
    )
    g_up, g_lo = data.count * d_up[:, 0], data.count * d_lo[:, 0]
    cell = np.zeros((len(data.y), k + p))
    rows = np.arange(len(data.y))
    has_up, has_lo = data.y < k, data.y > 0
    cell[rows[has_up], data.y[has_up]] += g_up[has_up]
    cell[rows[has_lo], data.y[has_lo] - 1] -= g_lo[has_lo]
    cell[:, k:] = -data.x * (g_up - g_lo)[:, None]
    return np.add.reduceat(cell, data.starts, axis=0)
