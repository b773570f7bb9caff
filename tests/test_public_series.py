"""zoo.data.public_series: each bundled series loads offline with the documented frequency."""

import re

import numpy as np
import pytest

from zoo.data.public_series import (
    CONFIRMATION_SERIES,
    FRESH_SERIES,
    PUBLIC_SERIES,
    SECOND_FRESH_SERIES,
    load_public_series,
)

ALL_SERIES = {**PUBLIC_SERIES, **CONFIRMATION_SERIES, **FRESH_SERIES, **SECOND_FRESH_SERIES}


@pytest.mark.parametrize("name", list(ALL_SERIES))
def test_public_series_load_with_their_frequency_and_length(name):
    entry = ALL_SERIES[name]
    pytest.importorskip(entry.package)
    series = load_public_series(name)
    assert series.freq == entry.frequency
    # Gaps are filled only where the description says how many.
    missing = re.search(r"(\d+) missing", entry.description)
    assert series.filled.count == (int(missing.group(1)) if missing else 0)
    assert np.all(np.isfinite(series.values))
    # The description states the length in parentheses, as the source documents it.
    assert len(series) == int(re.search(r"\((\d+)\)$", entry.description).group(1))
    assert entry.licence and entry.source
    # The last fifth holds at least one horizon of test values.
    assert len(series) - int(0.8 * len(series)) >= entry.horizon


def test_unknown_public_series_lists_the_names():
    with pytest.raises(ValueError, match="Choose one of: wineind"):
        load_public_series("co2")
