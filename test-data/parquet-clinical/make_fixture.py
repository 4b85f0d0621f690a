"""Parquet ADSL tables as pandas, pyarrow and polars write them, for ancilla's reader.

Run with pandas, pyarrow and polars installed: `python make_fixture.py` (writes the *.parquet
files beside it). The table is test-data/xpt/adam/adsl.csv's rows (synthetic, no PHI) with the
dates as the tools type them, not as text.
"""
import pathlib

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

here = pathlib.Path(__file__).parent
adsl = pd.read_csv(here.parent / "xpt" / "adam" / "adsl.csv", dtype=str, keep_default_na=False)
typed = adsl.copy()
for col in ("RANDDT", "NEPHRDT"):
    # pandas' datetime64[ns]: what to_datetime gives, and what to_parquet writes by default
    # (pyarrow keeps nanoseconds: TIMESTAMP(NANOS)).
    typed[col] = pd.to_datetime(typed[col].replace("", None))
typed.to_parquet(here / "adsl_pandas_ns_snappy.parquet", index=False)
# The same with the other pure-Rust codecs ancilla reads.
table = pa.Table.from_pandas(typed, preserve_index=False)
pq.write_table(table, here / "adsl_gzip.parquet", compression="gzip")
pq.write_table(table, here / "adsl_lz4.parquet", compression="lz4")
# Milliseconds, with a time of day on RANDDT (a date-time column).
ms = typed.copy()
ms["RANDDT"] = ms["RANDDT"] + pd.Timedelta(hours=9, minutes=30)
pq.write_table(
    pa.Table.from_pandas(ms, preserve_index=False),
    here / "adsl_ms_datetime.parquet",
    coerce_timestamps="ms",
    compression="snappy",
)
# Time-zone-aware: local midnight in Paris is 23:00 UTC the day before (refused: the local date
# is not in the timestamp); in UTC it is midnight (read as that date).
paris = typed.copy()
utc = typed.copy()
for col in ("RANDDT", "NEPHRDT"):
    paris[col] = paris[col].dt.tz_localize("Europe/Paris")
    utc[col] = utc[col].dt.tz_localize("UTC")
paris.to_parquet(here / "adsl_tz_paris.parquet", index=False)
utc.to_parquet(here / "adsl_tz_utc.parquet", index=False)
# polars' default codec (zstd), which ancilla refuses with what to do instead.
pl.from_pandas(typed).write_parquet(here / "adsl_polars_zstd.parquet")
