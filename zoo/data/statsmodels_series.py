"""The forecasting series statsmodels bundles: Mauna Loa CO2 (weekly), sunspots (yearly).

Both ship inside the `statsmodels` wheel (`statsmodels.datasets`), so loading them needs no network.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["co2_weekly", "series_provenance", "sunspots_yearly"]


def co2_weekly() -> pd.Series:
    """Weekly CO2 at Mauna Loa (ppm), March 1958 – December 2001, 2284 points.

    The 59 missing weeks are filled by linear interpolation in time
    (`pandas.Series.interpolate(method="time")`), so the series is gap-free and evenly spaced.
    """
    from statsmodels.datasets import co2

    raw = co2.load_pandas().data["co2"].astype("float64")
    filled = raw.interpolate(method="time")
    filled.name = "co2"
    if not np.isfinite(filled.to_numpy()).all():  # pragma: no cover - guards a changed data set
        raise ValueError("statsmodels' co2 still has gaps after time interpolation")
    return filled


def sunspots_yearly() -> pd.Series:
    """Yearly mean sunspot number (SUNACTIVITY), 1700–2008, 309 points, indexed by year."""
    from statsmodels.datasets import sunspots

    frame = sunspots.load_pandas().data
    series = pd.Series(
        frame["SUNACTIVITY"].to_numpy(dtype="float64"),
        index=pd.Index(frame["YEAR"].astype(int).to_numpy(), name="year"),
        name="sunspots",
    )
    return series


def series_provenance(name: str) -> dict:
    """Data set, version, licence and source of `name` ("co2" or "sunspots") for a model card."""
    import statsmodels
    from statsmodels.datasets import co2, sunspots

    modules = {"co2": co2, "sunspots": sunspots}
    if name not in modules:
        raise ValueError(f"`name` must be one of: co2, sunspots. Received: name={name!r}")
    module = modules[name]
    return {
        "name": f"statsmodels.datasets.{name}",
        "version": f"statsmodels {statsmodels.__version__}",
        "licence": " ".join(module.COPYRIGHT.split()),
        "source": " ".join(module.SOURCE.split())[:400],
    }
