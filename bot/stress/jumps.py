"""Price paths from a Merton jump diffusion fitted to the history (pure: arrays in, arrays out).

Per bar, the close-to-close log return is ``σ·Z + Σ jumps`` with a Poisson(λ) number of
normal jumps N(μ_J, σ_J²), compensated so the log price has no drift (like the bootstrap: the paths move by volatility, not by
the history's trend). Fitted to the history's bars: returns beyond ``THRESHOLD`` robust
standard deviations (1.4826 · MAD) are jumps — λ their share of bars, μ_J their mean, σ_J
their spread less the diffusion's — and σ is the standard deviation of the rest. Each bar's
high and low extend beyond its open and close by the history's median wick (in units of σ),
scaled by a half-normal draw; volume is the history's median quote volume.

Reproducible per path as the bootstrap: path ``i`` draws only from ``default_rng([seed, i])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

THRESHOLD = 4.0  # robust standard deviations beyond which a bar's return is a jump


@dataclass(frozen=True)
class JumpDiffusion:
    sigma: float  # per-bar diffusion volatility of log returns
    jump_rate: float  # jumps per bar
    jump_mean: float
    jump_sd: float
    wick: float  # median wick beyond the bar's body, in units of sigma
    quote_volume: float  # per bar


def fit(bars: np.ndarray) -> JumpDiffusion:
    """Fit to ``(n, 5)`` gap/up/down/body/quote-volume bars (``paths.BarHistory.bars``)."""
    ret = bars[:, 0] + bars[:, 3]
    mad = float(np.median(np.abs(ret - np.median(ret))))
    robust_sd = 1.4826 * mad or float(np.std(ret)) or 1e-9
    is_jump = np.abs(ret - np.median(ret)) > THRESHOLD * robust_sd
    normal = ret[~is_jump]
    jumps = ret[is_jump]
    sigma = float(np.std(normal)) if normal.size > 1 else robust_sd
    body_hi = np.maximum(0.0, bars[:, 3])  # close above open: the body's top in log terms
    body_lo = np.minimum(0.0, bars[:, 3])
    wick = float(np.median(np.concatenate([bars[:, 1] - body_hi, body_lo - bars[:, 2]]))) / (sigma or 1.0)
    return JumpDiffusion(
        sigma=sigma,
        jump_rate=float(is_jump.mean()),
        jump_mean=float(jumps.mean()) if jumps.size else 0.0,
        # a jump bar's return also holds that bar's diffusion: take its variance out
        jump_sd=math.sqrt(max(0.0, float(jumps.var()) - sigma * sigma)) if jumps.size > 1 else 0.0,
        wick=max(0.0, wick),
        quote_volume=float(np.median(bars[:, 4])),
    )


def simulate(model: JumpDiffusion, path_ids: np.ndarray, *, seed: int, horizon: int) -> np.ndarray:
    """``(len(path_ids), horizon, 5)`` OHLC opening at 1.0 and quote volume."""
    ids = np.asarray(path_ids, dtype=np.int64)
    out = np.empty((len(ids), horizon, 5))
    for row, i in enumerate(ids):
        rng = np.random.default_rng([seed, int(i)])
        # compensated: the jumps' mean move is taken out of the diffusion, so the paths have no drift
        diffusion = model.sigma * rng.standard_normal(horizon) - model.jump_rate * model.jump_mean
        count = rng.poisson(model.jump_rate, horizon)
        jumps = model.jump_mean * count + model.jump_sd * np.sqrt(count) * rng.standard_normal(horizon)
        log_close = np.cumsum(diffusion + jumps)
        log_open = np.concatenate([[0.0], log_close[:-1]])
        up = model.wick * model.sigma * np.abs(rng.standard_normal(horizon)) * np.sqrt(np.pi / 2)
        down = model.wick * model.sigma * np.abs(rng.standard_normal(horizon)) * np.sqrt(np.pi / 2)
        o, c = np.exp(log_open), np.exp(log_close)
        out[row, :, 0] = o
        out[row, :, 1] = np.maximum(o, c) * np.exp(up)
        out[row, :, 2] = np.minimum(o, c) * np.exp(-down)
        out[row, :, 3] = c
        out[row, :, 4] = model.quote_volume
    return out
