"""Write the SAS transport fixtures of tests/link.rs with an independent writer (pyreadstat 1.3.8,
on the ReadStat C library): one table as XPORT version 5 (names of 8 characters at most) and as
version 8 (a 20-character name too), and `expected.csv`, the table's values written from the
source data (not read back by any reader): numbers as Python's shortest repr, missing as empty,
dates and date-times in ISO, times as hh:mm:ss.

Also `adam/`: the small ADSL, ADTTE and pathology tables of tests/link.rs as CSV and as
transport files (ADSL and ADTTE version 5, their dates as DATE9. numbers; pathology version 8, for
VIABLE_TUMOR_PCT's 16 characters), for `ancilla link` on either.

Run once: python make_fixture.py  (pip install pyreadstat pandas). Synthetic values, no PHI; CC0.
"""
import datetime as dt
import os

import pandas as pd
import pyreadstat

here = os.path.dirname(os.path.abspath(__file__))
nan = float("nan")
rows = [
    ("ANC-01-0001", "A", 21.81, 0, dt.date(2024, 1, 17), dt.datetime(2024, 1, 17, 9, 30, 0), dt.time(9, 30), "Clear cell RCC"),
    ("ANC-01-0002", "B", 0.1, 1, dt.date(1959, 12, 31), dt.datetime(1960, 1, 1, 0, 0, 1), dt.time(0, 0, 1), "Papillary"),
    ("ANC-02-0003", "A", -118.625, 2, dt.date(2024, 2, 29), dt.datetime(2025, 12, 31, 23, 59, 59), dt.time(23, 59, 59), ""),
    ("ANC-02-0004", "A", nan, 0, None, None, None, "Chromophobe"),
    ("ANC-03-0005", "B", 1 / 3, 0, dt.date(1900, 3, 1), dt.datetime(2000, 2, 29, 12, 0, 0), dt.time(12, 0), "Collecting duct"),
    ("ANC-03-0006", "A", 1e-70, 7, dt.date(2099, 12, 31), dt.datetime(2024, 6, 1, 6, 15, 30), dt.time(6, 15, 30), "Unclassified"),
    ("ANC-03-0007", "A", -2.5e70, 0, dt.date(1970, 1, 1), dt.datetime(1970, 1, 1, 0, 0, 0), dt.time(0, 0), "Clear cell RCC"),
    ("ANC-04-0008", "B", 123456789.0, 1, dt.date(2024, 1, 1), dt.datetime(2024, 1, 1), dt.time(18, 45), "Medullary"),
]
columns = ["USUBJID", "ARMCD", "AVAL", "CNSR", "RANDDT", "ADTM", "ATM", "HISTOLOG"]
df = pd.DataFrame(rows, columns=columns)
formats = {"RANDDT": "DATE9", "ADTM": "DATETIME20", "ATM": "TIME8"}
pyreadstat.write_xport(df, os.path.join(here, "table_v5.xpt"), table_name="ADTAB",
                       file_format_version=5, variable_format=formats)
long = df.rename(columns={"HISTOLOG": "HISTOLOGY_SUBTYPE_TX"})
pyreadstat.write_xport(long, os.path.join(here, "table_v8.xpt"), table_name="ADTAB",
                       file_format_version=8, variable_format=formats)


def cell(v):
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.time):
        return v.strftime("%H:%M:%S")
    if isinstance(v, float):
        return repr(v)
    return str(v)


with open(os.path.join(here, "expected.csv"), "w") as f:
    f.write(",".join(columns) + "\n")
    for r in rows:
        f.write(",".join(cell(v) for v in r) + "\n")
ADSL = "STUDYID,USUBJID,SITEID,ARM,ARMCD,RANDDT,NEPHRDT,AGE,SEX\nS,A1,01,Nx,A,2024-01-01,2024-02-01,60,M\nS,A2,01,Nx,A,2024-01-02,2024-02-02,61,F\nS,B1,02,Cont,B,2024-01-03,,62,M\n"
ADTTE = "USUBJID,PARAMCD,PARAM,AVAL,AVALU,CNSR,STARTDT,ADT,EVNTDESC\nA1,PFS,p,12.5,MONTHS,0,,,\nA1,OS,o,30,MONTHS,1,,,\nA2,PFS,p,365.25,DAYS,1,,,\nA2,OS,o,24,MONTHS,2,,,\nB1,PFS,p,5,MONTHS,0,,,\n"
PATH = "USUBJID,HISTOLOGY,ISUP,YPT,YPN,VIABLE_TUMOR_PCT,NECROSIS_PCT,SARCOMATOID,RHABDOID,MARGIN\nA1,ccRCC,2,ypT1a,ypN0,40,20,N,N,R0\nA2,ccRCC,,ypT0,ypN0,0,80,N,N,R0\n"
numeric = {"AGE", "AVAL", "CNSR", "ISUP", "VIABLE_TUMOR_PCT", "NECROSIS_PCT"}
adam = os.path.join(here, "adam")
os.makedirs(adam, exist_ok=True)
for name, text, version in [("adsl", ADSL, 5), ("adtte", ADTTE, 5), ("pathology", PATH, 8)]:
    with open(os.path.join(adam, f"{name}.csv"), "w") as f:
        f.write(text)
    lines = [line.split(",") for line in text.strip().split("\n")]
    t = pd.DataFrame(lines[1:], columns=lines[0])
    dates = {}
    for c in t.columns:
        if c.endswith("DT"):
            t[c] = [dt.date.fromisoformat(v) if v else None for v in t[c]]
            dates[c] = "DATE9"
        elif c in numeric:
            t[c] = [float(v) if v else nan for v in t[c]]
    pyreadstat.write_xport(t, os.path.join(adam, f"{name}.xpt"), table_name=name.upper()[:8],
                           file_format_version=version, variable_format=dates)
print("written")
