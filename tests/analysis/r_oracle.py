"""R as the referee: fit the same data with ``ordinal::clmm`` or ``lme4::lmer`` and read back.

R is a test oracle only (Debian's r-cran-ordinal and r-cran-lme4); the product never needs it.
Each call writes the data to a CSV file, runs one Rscript that fits the model and writes a
two-column CSV of named numbers, and returns them as a dict. Where R or a package is missing
the test skips, unless REQUIRE_SERVICES names ``r`` (as CI does).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd

from tests.conftest import require_tool

R_TIMEOUT_S = 600

# Writes coefficients, their SEs, every variance-covariance element and the log-likelihood
# of a fitted model `m` as (name, value) rows. For clmm, `m$beta` and `m$alpha` are the
# location and threshold estimates and `vcov(m)` covers both (thresholds first).
_CLMM_OUT = r"""
est <- c(m$alpha, m$beta)
se <- sqrt(diag(vcov(m)))[names(est)]
vc <- VarCorr(m)
vals <- c(est, setNames(se, paste0("se:", names(se))), logLik = as.numeric(logLik(m)))
for (g in names(vc)) {
  v <- as.matrix(vc[[g]])
  for (i in seq_len(nrow(v))) for (j in seq_len(i)) {
    vals[paste0("var:", g, ":", rownames(v)[i], ":", colnames(v)[j])] <- v[i, j]
  }
}
write.csv(data.frame(name = names(vals), value = unname(vals)), out, row.names = FALSE)
"""

_LMER_OUT = r"""
est <- lme4::fixef(m)
se <- sqrt(diag(as.matrix(vcov(m))))
vc <- as.data.frame(lme4::VarCorr(m))
vals <- c(est, setNames(se, paste0("se:", names(est))), logLik = as.numeric(logLik(m)))
for (i in seq_len(nrow(vc))) vals[paste0("var:", vc$grp[i])] <- vc$vcov[i]
write.csv(data.frame(name = names(vals), value = unname(vals)), out, row.names = FALSE)
"""


def require_r() -> str:
    """Path of Rscript with ordinal and lme4 loadable; skips (or fails under CI) otherwise."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        require_tool("r", "Rscript not found; install r-base-core r-cran-ordinal r-cran-lme4")
        raise AssertionError("unreachable")
    probe = subprocess.run(
        [rscript, "-e", "suppressMessages({library(ordinal); library(lme4)})"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.returncode != 0:
        require_tool("r", f"R packages ordinal/lme4 missing: {probe.stderr.strip()[:200]}")
    return rscript


def run_r(body: str, data: pd.DataFrame | None, tmp_path: Path) -> dict[str, float]:
    """Run an R snippet with ``d`` (the data, if given) and ``out`` (the result path) defined."""
    rscript = require_r()
    out = tmp_path / "r_out.csv"
    lines = ["suppressMessages({library(ordinal); library(lme4)})", f'out <- "{out}"']
    if data is not None:
        path = tmp_path / "r_in.csv"
        data.to_csv(path, index=False)
        lines.append(f'd <- read.csv("{path}", stringsAsFactors = TRUE)')
    script = tmp_path / "fit.R"
    script.write_text("\n".join([*lines, body]) + "\n")
    done = subprocess.run(
        [rscript, str(script)], capture_output=True, text=True, timeout=R_TIMEOUT_S
    )
    if done.returncode != 0:
        raise AssertionError(f"R failed:\n{done.stderr[-2000:]}")
    table = pd.read_csv(out)
    return dict(zip(table["name"].astype(str), table["value"].astype(float), strict=True))


def r_clmm(
    formula: str, data: pd.DataFrame | None, tmp_path: Path, prep: str = ""
) -> dict[str, float]:
    """``ordinal::clmm`` (Laplace, the default) of ``formula``; ``prep`` runs first."""
    body = f"{prep}\nm <- clmm({formula}, data = d)\n{_CLMM_OUT}"
    return run_r(body, data, tmp_path)


def r_lmer(formula: str, data: pd.DataFrame, tmp_path: Path, prep: str = "") -> dict[str, float]:
    """``lme4::lmer`` (REML) of ``formula``; ``prep`` runs first."""
    body = f"{prep}\nm <- lmer({formula}, data = d, REML = TRUE)\n{_LMER_OUT}"
    return run_r(body, data, tmp_path)
