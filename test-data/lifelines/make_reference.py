"""Generates the lifelines/scipy reference numbers committed in src/stats/lifelines_reference.rs
and the analysis-table fixture rossi_analysis.csv. Run once by hand; tests never call Python.
    python test-data/lifelines/make_reference.py   (in a venv with lifelines 0.30.3, scipy, pandas)
"""
import math, os, sys
import numpy as np, pandas as pd, scipy, scipy.stats as st, lifelines
from lifelines import KaplanMeierFitter, CoxPHFitter
from lifelines.statistics import logrank_test
from lifelines.utils import median_survival_times, concordance_index

here = os.path.dirname(os.path.abspath(__file__))
rossi = pd.read_csv(os.path.join(here, "rossi.csv"))
walt = pd.read_csv(os.path.join(here, "waltons.csv"))
out = []
def arr(name, xs):
    vals = ", ".join(repr(float(x)) if np.isfinite(x) else "f64::NAN" for x in xs)
    out.append(f"pub const {name}: &[f64] = &[{vals}];")
def num(name, x):
    out.append(f"pub const {name}: f64 = {repr(float(x)) if np.isfinite(x) else 'f64::INFINITY'};")

def km_block(prefix, T, E):
    k = KaplanMeierFitter().fit(T, E)
    sf = k.survival_function_.iloc[:, 0]
    ci = k.confidence_interval_
    arr(prefix + "_TIMELINE", sf.index.values)
    arr(prefix + "_SURVIVAL", sf.values)
    arr(prefix + "_CI_LOWER", ci.iloc[:, 0].values)
    arr(prefix + "_CI_UPPER", ci.iloc[:, 1].values)
    arr(prefix + "_AT_RISK", k.event_table["at_risk"].values)
    num(prefix + "_MEDIAN", k.median_survival_time_)
    mci = median_survival_times(k.confidence_interval_)
    num(prefix + "_MEDIAN_CI_LOWER", mci.iloc[0, 0])
    num(prefix + "_MEDIAN_CI_UPPER", mci.iloc[0, 1])
    for t in (12, 24):
        num(f"{prefix}_S{t}", k.survival_function_at_times(t).iloc[0])
        c = k.confidence_interval_
        row = c[c.index <= t].iloc[-1]
        num(f"{prefix}_S{t}_CI_LOWER", row.iloc[0])
        num(f"{prefix}_S{t}_CI_UPPER", row.iloc[1])

# Waltons: KM of all subjects, log-rank control vs miR-137.
km_block("WALTONS_KM", walt["T"], walt["E"])
a, b = walt[walt.group == "control"], walt[walt.group == "miR-137"]
lr = logrank_test(a["T"], b["T"], a["E"], b["E"])
num("WALTONS_LOGRANK_STAT", lr.test_statistic); num("WALTONS_LOGRANK_P", lr.p_value)
# Waltons control group alone (median CI with an open upper end or not), and Cox on the
# binary group indicator (heavy ties: Efron matters).
ctl = walt[walt.group == "control"]
km_block("WALTONS_CONTROL_KM", ctl["T"], ctl["E"])
wx = walt.assign(mir=(walt.group == "miR-137").astype(float))[["T", "E", "mir"]]
c = CoxPHFitter().fit(wx, "T", "E")
num("WALTONS_MIR_COEF", c.params_["mir"]); num("WALTONS_MIR_SE", c.standard_errors_["mir"])
num("WALTONS_MIR_CONCORDANCE", c.concordance_index_); num("WALTONS_MIR_LOGLIK", c.log_likelihood_)
# Rossi KM (week, arrest).
km_block("ROSSI_KM", rossi.week, rossi.arrest)
a, b = rossi[rossi.fin == 0], rossi[rossi.fin == 1]
lr = logrank_test(a.week, b.week, a.arrest, b.arrest)
num("ROSSI_FIN_LOGRANK_STAT", lr.test_statistic); num("ROSSI_FIN_LOGRANK_P", lr.p_value)

# Analysis-table fixture from rossi: PFS = (week, arrest); PCR = fin; VIABLE_TUMOR_PCT a fixed
# arithmetic mix of age and prio; features age and prio.
tab = pd.DataFrame({
    "USUBJID": [f"ROSSI-{i+1:03d}" for i in range(len(rossi))],
    "ARMCD": "A",
    "PFS_MONTHS": rossi.week, "PFS_EVENT": rossi.arrest,
    "OS_MONTHS": rossi.week, "OS_EVENT": rossi.arrest,
    "PCR": rossi.fin,
    "VIABLE_TUMOR_PCT": (rossi.age * 7 + rossi.prio * 13) % 101,
    "age": rossi.age, "prio": rossi.prio,
})
tab.to_csv(os.path.join(here, "rossi_analysis.csv"), index=False)
# Parquet copy (needs pyarrow): nullable PCR with one unknown, float age with one missing value.
pq = tab.copy()
pq["PCR"] = pq["PCR"].astype("Int64"); pq.loc[0, "PCR"] = pd.NA
pq["age"] = pq["age"].astype("float64"); pq.loc[1, "age"] = np.nan
pq.to_parquet(os.path.join(here, "rossi_analysis.parquet"), index=False, engine="pyarrow", compression="snappy")

pvals = []
for f in ("age", "prio"):
    F = f.upper()
    c = CoxPHFitter().fit(rossi[["week", "arrest", f]], "week", "arrest")
    s = c.summary.loc[f]
    num(f"ROSSI_{F}_COEF", s["coef"]); num(f"ROSSI_{F}_SE", s["se(coef)"])
    num(f"ROSSI_{F}_HR", s["exp(coef)"])
    num(f"ROSSI_{F}_HR_LOWER", s["exp(coef) lower 95%"]); num(f"ROSSI_{F}_HR_UPPER", s["exp(coef) upper 95%"])
    num(f"ROSSI_{F}_P_WALD", s["p"])
    lrt = c.log_likelihood_ratio_test()
    num(f"ROSSI_{F}_LR_STAT", lrt.test_statistic); num(f"ROSSI_{F}_P_LR", lrt.p_value)
    num(f"ROSSI_{F}_LOGLIK", c.log_likelihood_)
    num(f"ROSSI_{F}_CONCORDANCE", c.concordance_index_)
    num(f"ROSSI_{F}_HR_PER_SD", math.exp(s["coef"] * rossi[f].std(ddof=1)))
    # The interval per SD: lifelines fitted on the covariate standardised (sample SD, as R's scale()).
    z_cov = rossi[["week", "arrest"]].assign(**{f: (rossi[f] - rossi[f].mean()) / rossi[f].std(ddof=1)})
    zs = CoxPHFitter().fit(z_cov, "week", "arrest").summary.loc[f]
    num(f"ROSSI_{F}_HR_PER_SD_LOWER", zs["exp(coef) lower 95%"]); num(f"ROSSI_{F}_HR_PER_SD_UPPER", zs["exp(coef) upper 95%"])
    pvals.append(s["p"])
    # Median split: high = value > median (numpy median).
    hi = rossi[f] > np.median(rossi[f])
    lr = logrank_test(rossi.week[hi], rossi.week[~hi], rossi.arrest[hi], rossi.arrest[~hi])
    num(f"ROSSI_{F}_SPLIT_LOGRANK_STAT", lr.test_statistic); num(f"ROSSI_{F}_SPLIT_LOGRANK_P", lr.p_value)
    rho, p = st.spearmanr(tab[f], tab.VIABLE_TUMOR_PCT)
    num(f"ROSSI_{F}_SPEARMAN_RHO", rho); num(f"ROSSI_{F}_SPEARMAN_P", p)
    # DeLong (direct formula): positives PCR = 1.
    x, y = tab[f][tab.PCR == 1].values.astype(float), tab[f][tab.PCR == 0].values.astype(float)
    psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    auc = psi.mean(); v10 = psi.mean(axis=1); v01 = psi.mean(axis=0)
    var = v10.var(ddof=1) / len(x) + v01.var(ddof=1) / len(y)
    z = st.norm.ppf(0.975)
    num(f"ROSSI_{F}_AUC", auc); num(f"ROSSI_{F}_AUC_LOWER", max(0, auc - z * math.sqrt(var)))
    num(f"ROSSI_{F}_AUC_UPPER", min(1, auc + z * math.sqrt(var)))

num("ROSSI_Q_AGE", st.false_discovery_control(pvals)[0]); num("ROSSI_Q_PRIO", st.false_discovery_control(pvals)[1])
# Harrell's C of lifelines.utils.concordance_index on a tiny tied example.
num("TOY_CINDEX", concordance_index([1, 2, 2, 3, 4, 4, 5], [1, 3, 2, 2, 5, 4, 6], [1, 1, 0, 1, 1, 0, 1]))
bh_in = [0.01, 0.04, 0.03, 0.005, 0.5, 0.2, 0.04]
arr("BH_P", bh_in); arr("BH_Q", st.false_discovery_control(bh_in))
# Distributions (scipy).
for name, v in [("NORM_CDF_1_5", st.norm.cdf(1.5)), ("NORM_CDF_M3", st.norm.cdf(-3.0)),
                ("NORM_PPF_0975", st.norm.ppf(0.975)), ("NORM_PPF_1EM6", st.norm.ppf(1e-6)),
                ("CHI2_SF_3_84_DF1", st.chi2.sf(3.84, 1)), ("CHI2_SF_10_DF3", st.chi2.sf(10.0, 3)),
                ("CHI2_CDF_2_DF5", st.chi2.cdf(2.0, 5)), ("T_SF_2_DF10", st.t.sf(2.0, 10)),
                ("T_CDF_M1_3_DF3", st.t.cdf(-1.3, 3)), ("T_SF_0_5_DF430", st.t.sf(0.5, 430))]:
    num(name, v)

hdr = [f"// Reference numbers generated by test-data/lifelines/make_reference.py with lifelines {lifelines.__version__},",
       f"// scipy {scipy.__version__}, numpy {np.__version__}, pandas {pd.__version__} on the data sets rossi and waltons",
       "// shipped with lifelines (copies in test-data/lifelines/). Facts: do not edit by hand.",
       "#![allow(dead_code, clippy::excessive_precision, clippy::unreadable_literal)]", ""]
open(sys.argv[1] if len(sys.argv) > 1 else "/dev/stdout", "w").write("\n".join(hdr + out) + "\n")
