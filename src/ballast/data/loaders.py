"""Reading price files into a validated wide DataFrame (dates × assets).

Every check names the file, the asset and the date, and nothing is filled silently: gaps are
only forward-filled when the caller asks for it (``fill="forward"``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ballast.data.bundled import bundled_path
from ballast.errors import InputError

INDEX_COLUMNS = ("date", "datetime", "timestamp", "time", "period")
FILLS = (None, "forward")


def read_table(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if name.endswith((".csv", ".csv.gz", ".txt", ".csv.zip")):
            return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot read the file: {exc}") from None
    raise InputError(f"{path}: unknown file type; expected .csv, .csv.gz or .parquet")


SLASH_DATE = r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{4}"


def _to_dates(values: pd.Series, where: str, dayfirst: bool) -> pd.Series:
    """Parse dates; text like 03/04/2020 is read month first unless ``dayfirst``, and data that
    only makes sense day first (a first field above 12, or dates sorted only when read day first)
    is an error offering --dayfirst instead of a misleading "not sorted" later."""
    try:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed", dayfirst=dayfirst)
    except (TypeError, ValueError) as exc:  # e.g. mixed time zones
        raise InputError(f"{where}: cannot read the dates: {exc}") from None
    if dayfirst or values.dtype.kind != "O":
        return parsed
    parts = values.astype(str).str.extract(SLASH_DATE).dropna().astype(int)
    if parts.empty:
        return parsed
    first_over_12 = parts[0] > 12
    day_first = pd.to_datetime(values, errors="coerce", format="mixed", dayfirst=True)
    if first_over_12.any() or (not parsed.is_monotonic_increasing and day_first.is_monotonic_increasing):
        sample = values[first_over_12].iloc[0] if first_over_12.any() else values.iloc[0]
        raise InputError(
            f"{where}: dates like {sample!r} look day-first (DD/MM/YYYY); pass --dayfirst "
            "(or [data] dayfirst = true), or write them as YYYY-MM-DD"
        )
    return parsed


def _set_index(df: pd.DataFrame, where: str, dayfirst: bool = False) -> pd.DataFrame:
    lower = {str(c).lower(): c for c in df.columns}
    found = [lower[c] for c in INDEX_COLUMNS if c in lower]
    if not found:
        if isinstance(df.index, pd.DatetimeIndex):
            return df
        if isinstance(df.index, pd.RangeIndex) and all(pd.api.types.is_numeric_dtype(t) for t in df.dtypes):
            raise InputError(
                f"{where}: no dates: expected a date index (Parquet) or a column named {', '.join(INDEX_COLUMNS)}"
            )
        first = df.columns[0]
        parsed = _to_dates(df[first], where, dayfirst)
        if parsed.notna().all():
            return df.set_index(pd.DatetimeIndex(parsed, name="date")).drop(columns=[first])
        raise InputError(
            f"{where}: no date column; expected one named {', '.join(INDEX_COLUMNS)} (or dates in the first column)"
        )
    col = found[0]
    df = df.drop(columns=found[1:])  # e.g. OLPS files carry both 'date' and 'period'
    values = df[col]
    if str(col).lower() == "period" and pd.api.types.is_integer_dtype(values):
        return df.drop(columns=[col]).set_index(pd.Index(values.to_numpy(), name="period"))
    parsed = _to_dates(values, where, dayfirst)
    bad = parsed.isna()
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise InputError(f"{where}: column {col!r} row {row + 2}: {values.iloc[row]!r} is not a date")
    return df.drop(columns=[col]).set_index(pd.DatetimeIndex(parsed, name="date"))


def numeric_columns(df: pd.DataFrame, where: str) -> pd.DataFrame:
    """Every column as float64, gaps kept as NaN; text that is not a number is an InputError."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = pd.to_numeric(df[col], errors="coerce")
        bad_text = s.isna() & df[col].notna()
        if bad_text.any():
            at = df.index[bad_text.to_numpy()][0]
            raise InputError(f"{where}: asset {col!r} at {at}: {df[col][at]!r} is not a number")
        out[str(col)] = s.astype(np.float64)
    return out


def validate_prices(df: pd.DataFrame, where: str, fill: str | None = None) -> pd.DataFrame:
    """Check a wide price table; returns float64 prices. Raises InputError naming the problem."""
    if fill not in FILLS:
        raise InputError(f"fill must be 'forward' or not given, got {fill!r}")
    if df.shape[1] == 0:
        raise InputError(f"{where}: no asset columns")
    if len(df) < 2:
        raise InputError(f"{where}: need at least 2 rows of prices, got {len(df)}")
    dup_cols = df.columns[df.columns.duplicated()]
    if len(dup_cols):
        raise InputError(f"{where}: duplicate asset column {dup_cols[0]!r}")
    idx = df.index
    if idx.has_duplicates:
        raise InputError(f"{where}: duplicate date {idx[idx.duplicated()][0]}")
    if not idx.is_monotonic_increasing:
        arr = np.asarray(idx)
        pos = int(np.argmax(arr[1:] < arr[:-1]))
        raise InputError(f"{where}: dates are not sorted: {idx[pos + 1]} comes after {idx[pos]}")
    values = df.to_numpy()  # one numeric array when every column is int/float, else object
    if values.dtype.kind in "fiu":
        values = np.array(values, dtype=np.float64, order="C")  # our own copy, row-major
        if np.isfinite(values).all() and (values > 0).all():  # the common case: skip the slow scan
            # copy=False keeps `values` as the frame's data, so Market.from_frame does not copy again
            names = df.columns.tolist()
            columns = df.columns if all(isinstance(c, str) for c in names) else pd.Index(map(str, names))
            return pd.DataFrame(values, index=idx, columns=columns, copy=False)
    out = numeric_columns(df, where)
    missing = out.isna()
    if missing.any().any():
        if fill == "forward":
            out = out.ffill()
            still = out.isna()
            if still.any().any():
                col = still.any().idxmax()
                at = out.index[still[col].to_numpy()][0]
                raise InputError(
                    f"{where}: asset {col!r} has no price at {at} and nothing before it "
                    "to forward-fill; start the data later or drop the asset"
                )
        else:
            col = missing.any().idxmax()
            at = out.index[missing[col].to_numpy()][0]
            n = int(missing.to_numpy().sum())
            raise InputError(
                f"{where}: asset {col!r} has no price at {at} ({n} missing in all); "
                "fix the data or pass --fill forward to carry the last price forward"
            )
    values = out.to_numpy()
    nonpos = ~(values > 0) | ~np.isfinite(values)
    if nonpos.any():
        r, c = np.argwhere(nonpos)[0]
        raise InputError(
            f"{where}: asset {out.columns[c]!r} at {out.index[r]}: price {values[r, c]!r} "
            "is not a positive finite number"
        )
    return out


def relatives_to_prices(rel: pd.DataFrame) -> pd.DataFrame:
    """Price relatives (row t = p[t]/p[t−1]) to prices with an implied starting row of ones.

    The extra first row is the close before the first relative, where the portfolio is formed.
    """
    idx = rel.index
    if isinstance(idx, pd.DatetimeIndex):
        step = idx[1] - idx[0] if len(idx) > 1 else pd.Timedelta(days=1)
        first = idx[0] - step
    else:
        first = idx[0] - 1 if pd.api.types.is_integer_dtype(idx) else -1
    prices = np.vstack([np.ones(rel.shape[1]), np.cumprod(rel.to_numpy(), axis=0)])
    return pd.DataFrame(prices, index=idx.insert(0, first), columns=rel.columns)


def load_prices(
    source: str | Path | pd.DataFrame,
    relatives: bool = False,
    fill: str | None = None,
    assets: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    optional_assets: tuple[str, ...] = (),
    dayfirst: bool = False,
) -> pd.DataFrame:
    """Prices from a bundled dataset name, a CSV/Parquet path, or a DataFrame; validated.

    ``assets`` selects columns before validation (gaps in other columns do not matter);
    ``optional_assets`` may be absent (the cash asset, added later at price 1); ``dayfirst`` reads
    text dates as DD/MM/YYYY.
    """
    if isinstance(source, pd.DataFrame):
        where = "prices"
        df = source  # never modified in place: every step below builds a new frame
        if not isinstance(df.index, (pd.DatetimeIndex,)) and not pd.api.types.is_integer_dtype(df.index):
            df = _set_index(df.reset_index(), where, dayfirst)
    else:
        path = bundled_path(str(source)) or Path(source)
        where = str(source)
        if not path.exists():
            raise InputError(f"{source}: no such file, and not a bundled dataset (see `ballast datasets`)")
        df = _set_index(read_table(path), where, dayfirst)
    if assets:
        assets = [a for a in assets if a in df.columns or a not in optional_assets]
        missing = [a for a in assets if a not in df.columns]
        if missing:
            raise InputError(
                f"{where}: unknown asset(s) {', '.join(map(repr, missing))}; "
                f"the file has: {', '.join(map(str, df.columns))}"
            )
        df = df[list(assets)]
    if start is not None or end is not None:
        df = select_dates(df, where, start, end)
    df = validate_prices(df, where, fill)
    if relatives:
        check_relatives(df, where)
        df = relatives_to_prices(df)
    return df


def read_dated(source: str | Path, dayfirst: bool = False) -> pd.DataFrame:
    """A price file with its dates parsed (``dayfirst``: DD/MM/YYYY), not yet validated."""
    path = Path(source)
    if not path.exists():
        raise InputError(f"{source}: no such file")
    return _set_index(read_table(path), str(source), dayfirst)


def select_dates(df: pd.DataFrame, where: str, start: str | None, end: str | None) -> pd.DataFrame:
    """Rows from ``start`` to ``end``; a bound that is not a date, or a range that leaves fewer
    than two rows, names the bound and the data's own range."""
    span = f"the data runs from {df.index[0]} to {df.index[-1]}" if len(df) else "the data has no rows"
    if isinstance(df.index, pd.DatetimeIndex):
        for name, value in (("start", start), ("end", end)):
            try:
                stamp = pd.Timestamp(value) if value is not None else None
            except (TypeError, ValueError):
                stamp = None
            if value is not None and (stamp is None or stamp is pd.NaT):
                raise InputError(f"{where}: [data] {name} = {value!r} is not a date; expected YYYY-MM-DD ({span})")
    try:
        out = df.loc[start:end]
    except (TypeError, ValueError, KeyError) as exc:
        raise InputError(f"{where}: cannot select start = {start!r}, end = {end!r}: {exc} ({span})") from None
    if len(out) < 2:
        raise InputError(f"{where}: start = {start!r}, end = {end!r} leave {len(out)} row(s); {span}")
    return out


def check_relatives(df: pd.DataFrame, where: str) -> None:
    """Price relatives p[t]/p[t−1] sit near 1; prices (hundreds, thousands) are an InputError."""
    medians = np.median(df.to_numpy(), axis=0)
    off = np.flatnonzero((medians < 0.5) | (medians > 2.0))
    if len(off):
        k = int(off[0])
        raise InputError(
            f"{where}: these look like prices, not price relatives p[t]/p[t-1] (asset "
            f"{df.columns[k]!r} has median {medians[k]:,.4g}; relatives are near 1): "
            "drop --relatives (or [data] relatives)"
        )
