"""Reference values for Tests/MyelinTrainTests/ForecastingTests.swift.

Run: /work/venv-torch/bin/python scripts/fixtures_forecast.py
Writes Tests/MyelinTrainTests/Fixtures/forecast.safetensors (float64 tensors):

- lstsq_<case>.a [m, n], .b [m], .x [n]: numpy.linalg.lstsq solutions (a well-conditioned
  random case and an ill-conditioned polynomial Vandermonde case).
- ar.series [N]: a fixed series (the first 120 AirPassengers values, log, so the test needs no data file);
  ar<p>.params [p + 1] (c, phi_1..phi_p): statsmodels AutoReg(series, lags=p, trend="c").fit() (OLS),
  checked against numpy.linalg.lstsq on the same design matrix;
  ar<p>.forecast [12]: statsmodels' recursive 12-step forecast after the series.
"""
import os

import numpy as np
from safetensors.numpy import save_file
from statsmodels.tsa.ar_model import AutoReg

rng = np.random.default_rng(0)
out = {}

# A plain random tall system.
a = rng.normal(size=(30, 5))
b = rng.normal(size=30)
out["lstsq_random.a"], out["lstsq_random.b"] = a, b
out["lstsq_random.x"] = np.linalg.lstsq(a, b, rcond=None)[0]

# Ill-conditioned: polynomial of degree 7 in t on [0, 1] (cond ~ 1e5..1e6).
t = np.linspace(0, 1, 40)
a = np.vander(t, 8, increasing=True)
b = np.cos(3 * t) + 0.01 * rng.normal(size=40)
out["lstsq_vander.a"], out["lstsq_vander.b"] = a, b
out["lstsq_vander.x"] = np.linalg.lstsq(a, b, rcond=None)[0]

air = [112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, 115, 126, 141, 135, 125, 149, 170, 170, 158, 133,
       114, 140, 145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166, 171, 180, 193, 181, 183, 218, 230, 242,
       209, 191, 172, 194, 196, 196, 236, 235, 229, 243, 264, 272, 237, 211, 180, 201, 204, 188, 235, 227, 234, 264,
       302, 293, 259, 229, 203, 229, 242, 233, 267, 269, 270, 315, 364, 347, 312, 274, 237, 278, 284, 277, 317, 313,
       318, 374, 413, 405, 355, 306, 271, 306, 315, 301, 356, 348, 355, 422, 465, 467, 404, 347, 305, 336, 340, 318,
       362, 348, 363, 435, 491, 505, 404, 359, 310, 337]
series = np.log(np.array(air, dtype=np.float64))
out["ar.series"] = series
for p in (2, 12):
    res = AutoReg(series, lags=p, trend="c").fit()
    params = np.asarray(res.params)
    # The same fit by hand: rows t = p..N-1, columns [1, x_{t-1}, ..., x_{t-p}].
    design = np.column_stack([np.ones(len(series) - p)] + [series[p - i:len(series) - i] for i in range(1, p + 1)])
    by_hand = np.linalg.lstsq(design, series[p:], rcond=None)[0]
    assert np.allclose(params, by_hand, atol=1e-9), (params, by_hand)
    out[f"ar{p}.params"] = params
    out[f"ar{p}.forecast"] = np.asarray(res.predict(start=len(series), end=len(series) + 11))

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "MyelinTrainTests", "Fixtures", "forecast.safetensors")
save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in out.items()}, path)
print("wrote", os.path.normpath(path), len(out), "tensors")
