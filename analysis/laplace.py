"""The Laplace approximation of a cumulative link mixed model with crossed random effects.

The model is ``P(Y <= j | b) = F(theta_j - x'beta - z'b)`` with ``b = Lambda u`` and
``u ~ N(0, I)``, the parametrisation of R's ``ordinal::clmm`` and ``lme4``: each random term
(participant, image, item) has its own relative factor ``Lambda_t = I (x) L_t``, with ``L_t``
the lower-triangular Cholesky factor of the term's covariance (a single SD for an intercept).

For given parameters the conditional mode ``u_hat`` of
``h(u) = sum_i log P(y_i | eta_i(u)) - |u|^2 / 2`` is found by Newton's method; ``h`` is
concave because the logistic density is log-concave. The approximate marginal log-likelihood
is ``h(u_hat) - log|H| / 2`` with ``H = Lambda' Z' W Z Lambda + I``, the negative Hessian of
``h`` at the mode. ``H`` is never formed densely: the term with the most columns (usually
the participants, or the items) is block-diagonal and eliminated first, leaving a dense Schur
complement the size of the other terms, so the cost grows with the number of answers and the
smaller factors, not with the square of all levels. :meth:`LaplaceProblem.laplace_and_gradient`
adds the exact gradient in all parameters (:mod:`analysis.laplace_gradient`) for about half an
evaluation more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, special

from analysis.laplace_gradient import answer_derivatives, laplace_gradient

NEWTON_TOL = 1e-10
NEWTON_MAX_STEPS = 60


@dataclass(frozen=True)
class RandomTerm:
    """One grouping factor with its per-group design (an intercept, or intercept and slopes).

    Attributes
    ----------
    name
        Name of the factor, e.g. ``"participant"``.
    codes
        Group of each answer, integers ``0 .. n_groups - 1``, shape (N,).
    n_groups
        Number of groups.
    design
        Columns multiplied by the group's effects, shape (N, s): ones for an intercept.
    columns
        Names of the ``s`` columns, e.g. ``("(Intercept)",)``.
    """

    name: str
    codes: np.ndarray
    n_groups: int
    design: np.ndarray
    columns: tuple[str, ...]

    @property
    def size(self) -> int:
        """Columns per group."""
        return int(self.design.shape[1])

    @property
    def n_cov(self) -> int:
        """Free elements of the term's Cholesky factor."""
        return self.size * (self.size + 1) // 2


def cholesky_factor(values: np.ndarray, size: int) -> np.ndarray:
    """Lower-triangular factor from its elements in row order (natural scale)."""
    factor = np.zeros((size, size))
    factor[np.tril_indices(size)] = values
    return factor


class LaplaceProblem:
    """Data and sparsity pattern of one fit; evaluates the Laplace log-likelihood.

    Parameters
    ----------
    y
        Response codes ``0 .. J``, shape (N,).
    x
        Fixed-effect design without an intercept, shape (N, P).
    terms
        Random terms; at least one.
    n_levels
        ``J + 1``, the number of response categories.
    """

    def __init__(
        self, y: np.ndarray, x: np.ndarray, terms: list[RandomTerm], n_levels: int
    ) -> None:
        if not terms:
            raise ValueError("A mixed model needs at least one random term.")
        self.y = np.asarray(y, dtype=np.int64)
        self.x = np.asarray(x, dtype=float).reshape(len(self.y), -1)
        self.n_levels = n_levels
        widths = [t.n_groups * t.size for t in terms]
        # The widest term is block-diagonal in H and is eliminated in closed form.
        first = int(np.argmax(widths))
        self.terms = [terms[first]] + [t for i, t in enumerate(terms) if i != first]
        self.order = [first] + [i for i in range(len(terms)) if i != first]
        self.a = self.terms[0]
        self.rest = self.terms[1:]
        self.q_rest = sum(t.n_groups * t.size for t in self.rest)
        self._rest_columns = self._rest_pattern()
        self.u_a = np.zeros((self.a.n_groups, self.a.size))
        self.u_r = np.zeros(self.q_rest)

    def _rest_pattern(self) -> list[tuple[int, np.ndarray]]:
        # (term slot, column index into the other terms' q columns) for every column of every
        # other term: answer i touches column offset + code_i * s + c of Z Lambda.
        pattern, offset = [], 0
        for slot, term in enumerate(self.rest, start=1):
            for c in range(term.size):
                pattern.append((slot, offset + term.codes * term.size + c))
            offset += term.n_groups * term.size
        return pattern

    # -- parameters ---------------------------------------------------------------------------

    def n_thresholds(self) -> int:
        """Number of cut-points, ``J``."""
        return self.n_levels - 1

    def split(self, natural: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """(thresholds, beta, Cholesky factors in the caller's term order) from a vector."""
        k, p = self.n_thresholds(), self.x.shape[1]
        theta, beta = natural[:k], natural[k : k + p]
        factors, pos = [], k + p
        for term in self._caller_terms():
            factors.append(cholesky_factor(natural[pos : pos + term.n_cov], term.size))
            pos += term.n_cov
        return theta, beta, factors

    def _caller_terms(self) -> list[RandomTerm]:
        caller: list[RandomTerm | None] = [None] * len(self.terms)
        for slot, index in enumerate(self.order):
            caller[index] = self.terms[slot]
        return [t for t in caller if t is not None]

    # -- the conditional model ----------------------------------------------------------------

    def _scaled(self, factors: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Rows of Z Lambda: the A term's (N, s_A), and one value per answer per other column."""
        by_slot = [factors[i] for i in self.order]
        a_rows = self.a.design @ by_slot[0]
        values = []
        for term, factor in zip(self.rest, by_slot[1:], strict=True):
            scaled = term.design @ factor
            values += [scaled[:, c] for c in range(term.size)]
        return a_rows, values

    def _eta(
        self, fixed: np.ndarray, a_rows: np.ndarray, values: list[np.ndarray], u_a: np.ndarray,
        u_r: np.ndarray,
    ) -> np.ndarray:  # fmt: skip
        eta: np.ndarray = fixed + np.einsum("ns,ns->n", a_rows, u_a[self.a.codes])
        for (_, column), value in zip(self._rest_columns, values, strict=True):
            eta = eta + value * u_r[column]
        return eta

    def m_times(
        self, a_rows: np.ndarray, values: list[np.ndarray], v_a: np.ndarray, v_r: np.ndarray
    ) -> np.ndarray:
        """``Z Lambda v`` for ``v = (v_a (n_A, s), v_r (q,))``, one value per answer."""
        return self._eta(np.zeros(len(self.y)), a_rows, values, v_a, v_r)

    def m_transpose(
        self, z: np.ndarray, a_rows: np.ndarray, values: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(Z Lambda)' z`` for a per-answer ``z``, split as (A part (n_A, s), the rest (q,))."""
        g, n_a = self.a.codes, self.a.n_groups
        part_a = np.stack([np.bincount(g, z * a_rows[:, c], n_a) for c in range(self.a.size)], 1)
        part_r = np.zeros(self.q_rest)
        for (_, col), value in zip(self._rest_columns, values, strict=True):
            part_r += np.bincount(col, z * value, self.q_rest)
        return part_a, part_r

    def rest_columns(self) -> list[tuple[int, np.ndarray]]:
        """(term slot, column of every answer) of each column of the non-eliminated terms."""
        return self._rest_columns

    def _newton_system(
        self, d1: np.ndarray, w: np.ndarray, a_rows: np.ndarray, values: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Gradient of the log-likelihood part and the blocks of H, from counts and sums.

        Returns the A gradient (n_A, s), the other gradient (q,), the cross block
        (n_A s, q), the A blocks (n_A, s, s) with the identity added, and the other block
        (q, q) with the identity added.
        """
        s, g, n_a, q = self.a.size, self.a.codes, self.a.n_groups, self.q_rest
        grad_a, grad_r = self.m_transpose(d1, a_rows, values)
        block = np.empty((n_a, s, s))
        for c in range(s):
            for e in range(c, s):
                block[:, c, e] = np.bincount(g, w * a_rows[:, c] * a_rows[:, e], n_a)
                block[:, e, c] = block[:, c, e]
        block += np.eye(s)
        cross = np.zeros(n_a * s * q)
        h_rr = np.zeros(q * q)
        for (_, col), value in zip(self._rest_columns, values, strict=True):
            weighted = w * value
            for c in range(s):
                cross += np.bincount((g * s + c) * q + col, weighted * a_rows[:, c], n_a * s * q)
            for col2, value2 in zip(self._rest_columns, values, strict=True):
                h_rr += np.bincount(col * q + col2[1], weighted * value2, q * q)
        h_rr = h_rr.reshape(q, q) + np.eye(q)
        return grad_a, grad_r, cross.reshape(n_a * s, q), block, h_rr

    def laplace(self, natural: np.ndarray) -> float:
        """Approximate marginal log-likelihood at natural parameters (warm-started mode).

        ``-inf`` for unordered thresholds, and where ``H`` is not positive definite in floating
        point (wild trial points of a line search, far from any optimum), so they are rejected.
        """
        return self._evaluate(natural, gradient=False)[0]

    def laplace_and_gradient(self, natural: np.ndarray) -> tuple[float, np.ndarray]:
        """Laplace log-likelihood and its exact gradient in the natural parameters.

        Parameters
        ----------
        natural
            Thresholds, beta and every term's factor elements (as :meth:`split` reads them).

        Returns
        -------
        value : float
            As :meth:`laplace` (``-inf``, with a NaN gradient, where that is ``-inf``).
        gradient : numpy.ndarray
            Total derivative of the value, ordered as ``natural``; see
            :mod:`analysis.laplace_gradient` for the formulae.
        """
        value, grad = self._evaluate(natural, gradient=True)
        return value, np.full(natural.shape, np.nan) if grad is None else grad

    def _evaluate(self, natural: np.ndarray, gradient: bool) -> tuple[float, np.ndarray | None]:
        theta, beta, factors = self.split(natural)
        if np.any(np.diff(theta) <= 0):
            return -np.inf, None
        fixed = self.x @ beta
        a_rows, values = self._scaled(factors)
        try:
            objective = self._find_mode(theta, fixed, a_rows, values)
            eta = self._eta(fixed, a_rows, values, self.u_a, self.u_r)
            if not gradient:
                _, d1, w = conditional_terms(self.y, theta, eta)
                _, _, cross, block, h_rr = self._newton_system(d1, w, a_rows, values)
                return float(objective - 0.5 * _BlockSolver(block, cross, h_rr).logdet()), None
            deriv = answer_derivatives(self.y, theta, eta)
            _, _, cross, block, h_rr = self._newton_system(deriv.d1, deriv.w, a_rows, values)
            solver = _BlockSolver(block, cross, h_rr)
            grad = laplace_gradient(self, deriv, a_rows, values, solver)
        except np.linalg.LinAlgError:
            return -np.inf, None
        return float(objective - 0.5 * solver.logdet()), grad

    def _find_mode(
        self, theta: np.ndarray, fixed: np.ndarray, a_rows: np.ndarray, values: list[np.ndarray]
    ) -> float:
        """Newton's method for the mode of ``h``, from the last mode; stores it, returns ``h``."""
        u_a, u_r = self.u_a.copy(), self.u_r.copy()
        objective = self._h(theta, fixed, a_rows, values, u_a, u_r)
        for _ in range(NEWTON_MAX_STEPS):
            eta = self._eta(fixed, a_rows, values, u_a, u_r)
            _, d1, w = conditional_terms(self.y, theta, eta)
            grad_a, grad_r, cross, block, h_rr = self._newton_system(d1, w, a_rows, values)
            grad_a, grad_r = grad_a - u_a, grad_r - u_r
            solver = _BlockSolver(block, cross, h_rr)
            step_a, step_r = solver.solve(grad_a, grad_r)
            step, new = 1.0, -np.inf
            while step > 1e-8:
                cand_a, cand_r = u_a + step * step_a, u_r + step * step_r
                new = self._h(theta, fixed, a_rows, values, cand_a, cand_r)
                if new >= objective - 1e-12 * max(1.0, abs(objective)):
                    break
                step /= 2
            u_a, u_r, objective = cand_a, cand_r, new
            size = max(np.abs(step_a).max(initial=0.0), np.abs(step_r).max(initial=0.0))
            if step * size < NEWTON_TOL:
                break
        self.u_a, self.u_r = u_a, u_r
        return objective

    def _h(
        self, theta: np.ndarray, fixed: np.ndarray, a_rows: np.ndarray, values: list[np.ndarray],
        u_a: np.ndarray, u_r: np.ndarray,
    ) -> float:  # fmt: skip
        eta = self._eta(fixed, a_rows, values, u_a, u_r)
        loglik = conditional_terms(self.y, theta, eta)[0]
        return float(loglik.sum() - 0.5 * (np.sum(u_a**2) + np.sum(u_r**2)))

    def spherical_modes(self) -> dict[str, np.ndarray]:
        """Conditional modes ``u`` of the last evaluation, (n_groups, s) per term name."""
        modes = {self.a.name: self.u_a}
        offset = 0
        for term in self.rest:
            width = term.n_groups * term.size
            modes[term.name] = self.u_r[offset : offset + width].reshape(term.n_groups, -1)
            offset += width
        return modes


class _BlockSolver:
    """Solves and log-determinants with ``H = [[B, C], [C', D]]``, ``B`` block-diagonal."""

    def __init__(self, block: np.ndarray, cross: np.ndarray, h_rr: np.ndarray) -> None:
        self.chol_b = np.linalg.cholesky(block)
        self.inv_b = np.linalg.inv(block)
        self.cross = cross
        self.q = h_rr.shape[0]
        if self.q:
            n_a, s = block.shape[:2]
            left = np.matmul(self.inv_b, cross.reshape(n_a, s, self.q))
            self.left = left.reshape(n_a * s, self.q)
            schur = h_rr - cross.T @ self.left
            self.chol_s = linalg.cho_factor(schur, lower=True)

    def solve(self, r_a: np.ndarray, r_r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``H^-1 r`` for ``r = (r_a (n_A, s), r_r (q,))``."""
        binv_ra = np.matmul(self.inv_b, r_a[:, :, None])[:, :, 0]
        if not self.q:
            return binv_ra, np.zeros(0)
        x_r = linalg.cho_solve(self.chol_s, r_r - self.cross.T @ binv_ra.ravel())
        x_a = binv_ra - (self.left @ x_r).reshape(r_a.shape)
        return x_a, x_r

    def inverse_blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The parts of ``H^-1`` that single answers touch.

        Returns the diagonal blocks of its A part (n_A, s, s), ``B^-1 C S^-1`` (n_A s, q) --
        the A-by-rest part of ``H^-1`` is its negative -- and ``S^-1`` (q, q), the rest part,
        with ``S`` the Schur complement. Nothing of size ``(n_A s)^2`` is formed.
        """
        if not self.q:
            return (
                self.inv_b,
                np.zeros((self.inv_b.shape[0] * self.inv_b.shape[1], 0)),
                np.zeros((0, 0)),
            )
        n_a, s = self.inv_b.shape[:2]
        s_inv = linalg.cho_solve(self.chol_s, np.eye(self.q))
        x_ar = self.left @ s_inv
        # (B^-1 + B^-1 C S^-1 C' B^-1)_gg = B_g^-1 + (B^-1 C S^-1)_g (B^-1 C)_g'.
        diag = self.inv_b + np.einsum(
            "gsq,gtq->gst", x_ar.reshape(n_a, s, self.q), self.left.reshape(n_a, s, self.q)
        )
        return diag, x_ar, s_inv

    def logdet(self) -> float:
        """``log |H|``."""
        total = 2.0 * np.log(np.diagonal(self.chol_b, axis1=1, axis2=2)).sum()
        if self.q:
            total += 2.0 * np.log(np.diag(self.chol_s[0])).sum()
        return float(total)


def conditional_terms(
    y: np.ndarray, theta: np.ndarray, eta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-answer log-probability and its first and negated second derivative in ``eta``.

    Logit link: ``P(y | eta) = F(theta_y - eta) - F(theta_{y-1} - eta)``.
    """
    k = len(theta)
    cuts = np.r_[-np.inf, theta, np.inf]
    upper, lower = cuts[y + 1] - eta, cuts[y] - eta
    f_up, f_lo = special.expit(upper), special.expit(lower)
    # Where both bounds lie far in the right tail, the survival form keeps the digits.
    right = (lower > 0) & (y > 0)
    prob = np.where(right, special.expit(-lower) - special.expit(-upper), f_up - f_lo)
    prob = np.maximum(prob, 1e-300)
    dens_up = np.where(y < k, f_up * (1 - f_up), 0.0)
    dens_lo = np.where(y > 0, f_lo * (1 - f_lo), 0.0)
    slope_up = dens_up * (1 - 2 * f_up)
    slope_lo = dens_lo * (1 - 2 * f_lo)
    d1 = -(dens_up - dens_lo) / prob
    d2 = (slope_up - slope_lo) / prob - d1**2
    return np.log(prob), d1, -d2
