"""`unit_scale(values)`: the power of two that brings a series to magnitude ~1, exactly.

The zoo's universal models normalise each series inside the graph, in float32, with floors on
the scale that are partly absolute (the detector's 1e-6·(1 + |median|), the forecaster's
1e-3·mean|x| + 1e-8): a series of 1e-15 then reads as flat, and one of 1e30 overflows when
squared. Dividing a float64 series by 2^k, k = round(log2(max |observed value|)), is exact (only
the exponent changes), so a scale-free model gives the same result for ordinary magnitudes and
the result of the series' shape for extreme ones. The forecaster multiplies its outputs back by
the same 2^k; the detector's scores need nothing back.
"""

from __future__ import annotations

import numpy as np


def unit_scale(values) -> float:
    """2^round(log2(max |finite value|)) of `values`; 1.0 when none is finite and non-zero."""
    observed = np.abs(np.asarray(values, dtype="float64"))
    observed = observed[np.isfinite(observed)]
    top = float(observed.max()) if observed.size else 0.0
    return float(2.0 ** np.round(np.log2(top))) if top > 0 else 1.0
