"""Exact gradient of the Laplace log-likelihood of :mod:`analysis.laplace`.

With ``M = Z Lambda`` (rows ``m_i``), ``eta_i = x_i'beta + m_i'u``, per-answer log-probabilities
``l_i(eta)``, weights ``w_i = -l_i''`` and ``H = I + M'WM``, the approximation is
``L = sum_i l_i(eta_i(u_hat)) - |u_hat|^2 / 2 - log|H(u_hat)| / 2``. Its total derivative in a
parameter ``phi`` (a cut-point, a coefficient, an element of a Cholesky factor) is the explicit
one at fixed ``u`` plus ``(dL/du)' du_hat/dphi``. At the mode only the log-determinant has a
``u``-gradient, ``r = -M'(w' * lev) / 2`` with ``w' = dw/deta`` and the leverages
``lev_i = m_i'H^-1 m_i``; and ``du_hat/dphi = H^-1 dg/dphi`` by the implicit function theorem,
with ``g = M'l' - u`` the gradient of ``h``. So one more solve, ``v = H^-1 r``, gives the whole
implicit part as ``v'dg/dphi``. Collected per answer, with ``t = Mv`` and
``c_i = l_i' - w_i' lev_i / 2 - t_i w_i`` (the weight of anything that moves ``eta_i``):

* cut-point ``j``: ``sum_i dl_i/dtheta_j - lev_i dw_i/dtheta_j / 2 + t_i dl_i'/dtheta_j``;
* coefficients: ``X'c``;
* factor element ``(a, e)`` of a term, whose columns answer ``i`` meets through its design row
  ``D_i``: ``sum_i D_ia (c_i u_ie + l_i' v_ie - w_i (H^-1 m_i)_e)``, with ``u_ie``, ``v_ie``
  and ``(H^-1 m_i)_e`` the entries of column ``e`` of the answer's group. The last part is
  ``-tr(H^-1 M'W dM)``, from ``dH = M'(dW)M + (dM)'WM + M'W dM``.

Everything needs only ``H^-1`` on the few columns each answer touches: the per-group diagonal
blocks of the eliminated term, its cross part with the other terms and the (small) inverse Schur
complement, from :meth:`analysis.laplace._BlockSolver.inverse_blocks`; the cost is a few passes
over the answers and one ``q_A x q x q`` product, never an ``N x q`` or ``q_A x q_A`` matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

if TYPE_CHECKING:
    from analysis.laplace import LaplaceProblem, _BlockSolver


@dataclass(frozen=True)
class AnswerDerivatives:
    """Per-answer derivatives of ``l = log[F(theta_y - eta) - F(theta_{y-1} - eta)]``.

    ``d1 = dl/deta``, ``w = -d2l/deta2``, ``dw = dw/deta``; the ``_up`` arrays differentiate
    in the answer's upper cut-point ``theta_y`` (zero when ``y = J``), the ``_lo`` ones in its
    lower ``theta_{y-1}`` (zero when ``y = 0``): ``l`` itself, ``d1`` and ``w``.
    """

    loglik: np.ndarray
    d1: np.ndarray
    w: np.ndarray
    dw: np.ndarray
    l_up: np.ndarray
    l_lo: np.ndarray
    d1_up: np.ndarray
    d1_lo: np.ndarray
    w_up: np.ndarray
    w_lo: np.ndarray


def answer_derivatives(y: np.ndarray, theta: np.ndarray, eta: np.ndarray) -> AnswerDerivatives:
    """Derivatives up to third order of the logit log-probabilities (closed form).

    With ``a = theta_y - eta``, ``b = theta_{y-1} - eta`` and ``P = F(a) - F(b)``, ``l = log P``
    has ``l_a = f(a)/P``, ``l_b = -f(b)/P`` and, ``F`` logistic, ``f = F(1-F)``,
    ``f' = f(1-2F)``, ``f'' = f(1-6f)``; ``d/deta = -(d/da + d/db)``.
    """
    k = len(theta)
    cuts = np.r_[-np.inf, theta, np.inf]
    upper, lower = cuts[y + 1] - eta, cuts[y] - eta
    f_up, f_lo = special.expit(upper), special.expit(lower)
    s_up, s_lo = special.expit(-upper), special.expit(-lower)
    # As conditional_terms: the survival form keeps the digits deep in the right tail.
    right = (lower > 0) & (y > 0)
    prob = np.where(right, s_lo - s_up, f_up - f_lo)
    prob = np.maximum(prob, 1e-300)
    # F(x) F(-x) and F(-x) - F(x) rather than F(1-F) and 1-2F: no cancellation in either tail.
    dens_up = np.where(y < k, f_up * s_up, 0.0)
    dens_lo = np.where(y > 0, f_lo * s_lo, 0.0)
    # Derivatives of P in a and in b (P has no mixed ones); all divided by P.
    pa, pb = dens_up / prob, -dens_lo / prob
    paa, pbb = pa * (s_up - f_up), pb * (s_lo - f_lo)
    paaa = pa * (1 - 6 * dens_up)
    pbbb = pb * (1 - 6 * dens_lo)
    laa, lab, lbb = paa - pa**2, -pa * pb, pbb - pb**2
    laaa = paaa - 3 * pa * paa + 2 * pa**3
    lbbb = pbbb - 3 * pb * pbb + 2 * pb**3
    laab = -paa * pb + 2 * pa**2 * pb
    labb = -pbb * pa + 2 * pa * pb**2
    return AnswerDerivatives(
        loglik=np.log(prob),
        d1=-(pa + pb),
        w=-(laa + 2 * lab + lbb),
        dw=laaa + 3 * laab + 3 * labb + lbbb,
        l_up=pa,
        l_lo=pb,
        d1_up=-(laa + lab),
        d1_lo=-(lab + lbb),
        w_up=-(laaa + 2 * laab + labb),
        w_lo=-(laab + 2 * labb + lbbb),
    )


def hinv_m(
    problem: LaplaceProblem, solver: _BlockSolver, a_rows: np.ndarray, values: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``H^-1 m_i`` on the columns answer ``i`` touches.

    Returns the eliminated term's part (N, s_A) and one (N,) array per other column, in the
    order of :meth:`analysis.laplace.LaplaceProblem.rest_columns`.
    """
    diag, x_ar, s_inv = solver.inverse_blocks()
    g, s = problem.a.codes, problem.a.size
    h_a = np.zeros_like(a_rows)
    for c in range(s):
        for e in range(s):
            h_a[:, c] += diag[g, c, e] * a_rows[:, e]
    columns = [col for _, col in problem.rest_columns()]
    h_r = []
    for col, value in zip(columns, values, strict=True):
        acc = np.zeros(len(g))
        for c in range(s):
            # The A-by-rest part of H^-1 is -B^-1 C S^-1; it is symmetric across the two.
            cross = x_ar[g * s + c, col]
            acc -= cross * a_rows[:, c]
            h_a[:, c] -= cross * value
        for col2, value2 in zip(columns, values, strict=True):
            acc += s_inv[col, col2] * value2
        h_r.append(acc)
    return h_a, h_r


def laplace_gradient(
    problem: LaplaceProblem,
    deriv: AnswerDerivatives,
    a_rows: np.ndarray,
    values: list[np.ndarray],
    solver: _BlockSolver,
) -> np.ndarray:
    """Total gradient of the Laplace log-likelihood at the stored mode, in natural order.

    Parameters
    ----------
    problem
        The problem; its ``u_a``, ``u_r`` must be the mode at these parameters.
    deriv
        Per-answer derivatives at the mode.
    a_rows, values
        Rows of ``Z Lambda`` (see ``LaplaceProblem._scaled``).
    solver
        Factorisation of ``H`` at the mode.

    Returns
    -------
    numpy.ndarray
        Derivatives in thresholds, beta and the factor elements of the terms in caller order.
    """
    h_a, h_r = hinv_m(problem, solver, a_rows, values)
    lev = np.einsum("nc,nc->n", a_rows, h_a)
    for value, part in zip(values, h_r, strict=True):
        lev += value * part
    # v = H^-1 r, r = d(-log|H|/2)/du = -M'(w' lev)/2: the implicit part is v' dg/dphi.
    v_a, v_r = solver.solve(*problem.m_transpose(-0.5 * deriv.dw * lev, a_rows, values))
    t = problem.m_times(a_rows, values, v_a, v_r)
    weight = deriv.d1 - 0.5 * lev * deriv.dw - t * deriv.w
    k = problem.n_thresholds()
    grad_theta = _threshold_gradient(problem.y, k, deriv, lev, t)
    grad_beta = problem.x.T @ weight
    per_slot = _factor_gradients(problem, deriv, weight, (h_a, h_r), (v_a, v_r))
    caller = [np.zeros(0)] * len(per_slot)
    for slot, index in enumerate(problem.order):
        caller[index] = per_slot[slot]
    return np.concatenate([grad_theta, grad_beta, *caller])


def _threshold_gradient(
    y: np.ndarray, k: int, deriv: AnswerDerivatives, lev: np.ndarray, t: np.ndarray
) -> np.ndarray:
    up = deriv.l_up - 0.5 * lev * deriv.w_up + t * deriv.d1_up
    lo = deriv.l_lo - 0.5 * lev * deriv.w_lo + t * deriv.d1_lo
    has_up, has_lo = y < k, y > 0
    grad = np.bincount(y[has_up], up[has_up], k)
    grad += np.bincount(y[has_lo] - 1, lo[has_lo], k)
    return np.asarray(grad, dtype=float)


def _factor_gradients(
    problem: LaplaceProblem,
    deriv: AnswerDerivatives,
    weight: np.ndarray,
    hinv: tuple[np.ndarray, list[np.ndarray]],
    v: tuple[np.ndarray, np.ndarray],
) -> list[np.ndarray]:
    """Gradient in each term's factor elements (row order), terms in slot order."""
    h_a, h_r = hinv
    v_a, v_r = v
    g = problem.a.codes
    # Per term, (N, s) arrays of the answer's own columns: u, v and H^-1 m.
    own = [(problem.u_a[g], v_a[g], h_a)]
    columns = problem.rest_columns()
    for slot in range(1, len(problem.terms)):
        picked = [r for r, (term_slot, _) in enumerate(columns) if term_slot == slot]
        cols = [columns[r][1] for r in picked]
        own.append(
            (
                np.column_stack([problem.u_r[c] for c in cols]),
                np.column_stack([v_r[c] for c in cols]),
                np.column_stack([h_r[r] for r in picked]),
            )
        )
    grads = []
    for term, (u_own, v_own, h_own) in zip(problem.terms, own, strict=True):
        q = weight[:, None] * u_own + deriv.d1[:, None] * v_own - deriv.w[:, None] * h_own
        full = term.design.T @ q
        grads.append(full[np.tril_indices(term.size)])
    return grads
