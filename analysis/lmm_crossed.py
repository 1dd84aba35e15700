"""REML linear mixed model with crossed participant and question random intercepts.

statsmodels fits crossed effects as variance components of one big group; on this design its
optimiser can take tens of seconds and stop short. Here the model is profiled the way lme4
does it: for relative standard deviations ``t = (t_p, t_q)`` of the two intercepts, the
penalised least-squares system ``[L Z'Z L + I, L Z'X; X'Z L, X'X]`` (``L = diag(t)``) is
solved by a dense Cholesky factorisation, and the REML criterion

    -2 l = log|L Z'Z L + I| + log|R_X'R_X| + (n - p) (1 + log(2 pi r2 / (n - p)))

is minimised over ``t`` alone. The cross-products are built from counts and sums, so the
cost depends on the numbers of participants and questions, not on the number of answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

# The smaller factor's Schur complement is factorised densely; beyond this many levels in
# both factors the caller falls back to the participant-only model.
MAX_SCHUR = 4000


@dataclass(frozen=True)
class _CrossProducts:
    """Counts and sums of the two factors, built once per fit (a: larger, b: smaller factor)."""

    # Eigendecomposition of N'N on balanced designs, else None.
    eig: tuple[np.ndarray, np.ndarray] | None
    d_a: np.ndarray
    d_b: np.ndarray
    incidence: np.ndarray
    rhs_a: np.ndarray
    rhs_b: np.ndarray


@dataclass(frozen=True)
class CrossedResult:
    """Estimates of the crossed model (attribute names mirror statsmodels where they exist)."""

    fe_params: np.ndarray
    bse: np.ndarray
    scale: float
    participant_variance: float
    question_variance: float
    llf: float
    converged: bool


def _cross_products(
    y: np.ndarray, x: np.ndarray, a_code: np.ndarray, b_code: np.ndarray
) -> _CrossProducts:
    n_a, n_b = a_code.max() + 1, b_code.max() + 1
    incidence = np.bincount(a_code * n_b + b_code, minlength=n_a * n_b).reshape(n_a, n_b)

    def sums(code: np.ndarray, m: int) -> np.ndarray:
        columns = [*x.T, y]
        return np.column_stack([np.bincount(code, weights=col, minlength=m) for col in columns])

    d_a = np.bincount(a_code, minlength=n_a).astype(float)
    d_b = np.bincount(b_code, minlength=n_b).astype(float)
    eig: tuple[np.ndarray, np.ndarray] | None = None
    if np.ptp(d_a) == 0 and np.ptp(d_b) == 0:
        # Balanced design (every participant answers as many questions, every question gets
        # as many answers): the Schur complement is a I - b N'N for scalars a and b, so one
        # eigendecomposition of N'N serves every step of the optimiser.
        eig = np.linalg.eigh(incidence.T.astype(float) @ incidence)
    return _CrossProducts(
        eig=eig,
        d_a=d_a,
        d_b=d_b,
        incidence=incidence.astype(float),
        rhs_a=sums(a_code, n_a),
        rhs_b=sums(b_code, n_b),
    )


def _reml_pieces(
    t_a: float,
    t_b: float,
    cp: _CrossProducts,
    xtx: np.ndarray,
    xty: np.ndarray,
    yty: float,
    n: int,
    p: int,
) -> tuple[float, np.ndarray, float, np.ndarray]:
    # A = L Z'Z L + I = [[D_a, B], [B', D_b]] with diagonal D_a, D_b. The larger factor is
    # eliminated through its diagonal, so only the smaller factor's Schur complement
    # S = D_b - B' D_a^-1 B needs a dense Cholesky factorisation.
    d_a = t_a**2 * cp.d_a + 1
    d_b = t_b**2 * cp.d_b + 1
    b = (t_a * t_b) * cp.incidence
    r_a, r_b = t_a * cp.rhs_a, t_b * cp.rhs_b
    rhs = r_b - b.T @ (r_a / d_a[:, None])
    if cp.eig is not None:
        values, vectors = cp.eig
        s_eig = d_b[0] - (t_a * t_b) ** 2 / d_a[0] * values
        sol_b = vectors @ ((vectors.T @ rhs) / s_eig[:, None])
        logdet_s = np.log(s_eig).sum()
    else:
        schur = np.diag(d_b) - b.T @ (b / d_a[:, None])
        # numpy's LAPACK rather than scipy's: on a busy machine scipy's separate thread pool
        # made this factorisation tens of times slower.
        logdet_s = 2 * np.log(np.diag(np.linalg.cholesky(schur))).sum()
        sol_b = np.linalg.solve(schur, rhs)
    sol_a = (r_a - b @ sol_b) / d_a[:, None]
    m = r_a.T @ sol_a + r_b.T @ sol_b
    rx = xtx - m[:p, :p]
    beta = np.linalg.solve(rx, xty - m[:p, p])
    # Penalised residual sum of squares at the solution.
    r2 = yty - (m[p, p] - beta @ m[:p, p]) - beta @ xty
    logdet_a = np.log(d_a).sum() + logdet_s
    crit = logdet_a + np.linalg.slogdet(rx)[1] + (n - p) * (1 + np.log(2 * np.pi * r2 / (n - p)))
    return crit, beta, r2, rx


def fit_crossed(
    y: np.ndarray, x: np.ndarray, participants: np.ndarray, questions: np.ndarray
) -> CrossedResult:
    """Fit ``y = X beta + u_participant + v_question + e`` by REML.

    Parameters
    ----------
    y
        Response, shape (N,).
    x
        Fixed-effect design with the intercept column, shape (N, P).
    participants, questions
        Labels of the two crossed grouping factors, shape (N,).
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    p_code = pd.factorize(np.asarray(participants))[0]
    q_code = pd.factorize(np.asarray(questions))[0]
    n_small = min(p_code.max(), q_code.max()) + 1
    if n_small > MAX_SCHUR:
        raise ValueError(
            f"Both factors have more than {MAX_SCHUR} levels; fit the participant-intercept "
            "model instead."
        )
    swap = p_code.max() < q_code.max()
    a_code, b_code = (q_code, p_code) if swap else (p_code, q_code)
    cp = _cross_products(y, x, a_code, b_code)
    xtx, xty, yty = x.T @ x, x.T @ y, float(y @ y)
    n, p = x.shape

    def crit(t: np.ndarray) -> tuple[float, np.ndarray, float, np.ndarray]:
        t_p, t_q = t
        t_a, t_b = (t_q, t_p) if swap else (t_p, t_q)
        return _reml_pieces(t_a, t_b, cp, xtx, xty, yty, n, p)

    res = optimize.minimize(
        lambda t: crit(t)[0],
        x0=np.array([0.5, 0.5]),
        method="L-BFGS-B",
        bounds=[(0.0, None), (0.0, None)],
        options={"ftol": 1e-13, "gtol": 1e-9},
    )
    value, beta, r2, rx = crit(res.x)
    s2 = r2 / (n - p)
    cov = s2 * np.linalg.inv(rx)
    return CrossedResult(
        beta,
        np.sqrt(np.diag(cov)),
        float(s2),
        float(s2 * res.x[0] ** 2),
        float(s2 * res.x[1] ** 2),
        float(-value / 2),
        bool(res.success),
    )
