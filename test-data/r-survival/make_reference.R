# Writes reference.csv: R survival's numbers on two ancilla analysis tables, for tests/stats.rs.
# Run once from the repository root (R 4.2.2, survival 3.5.3, pROC 1.18.0: Debian 12's
# r-base-core, r-cran-survival, r-cran-proc):  Rscript test-data/r-survival/make_reference.R
# Columns: table, ci (KM interval, or "" where it does not apply), quantity, index (time point,
# feature name or ""), value (17 significant digits).
library(survival)
suppressMessages(library(pROC))
out <- file("test-data/r-survival/reference.csv", "w")
writeLines("table,ci,quantity,index,value", out)
put <- function(table, ci, quantity, index, value) {
  writeLines(sprintf("%s,%s,%s,%s,%s", table, ci, quantity, index,
                     ifelse(is.na(value), "NA", trimws(formatC(value, digits = 17, format = "g")))), out)
}
tables <- list(
  rossi = list(path = "test-data/lifelines/rossi_analysis.csv", features = c("age", "prio")),
  waltons = list(path = "test-data/r-survival/waltons_analysis.csv", features = c("grp"))
)
for (name in names(tables)) {
  d <- read.csv(tables[[name]]$path)
  for (ct in c("log-log", "log")) {
    f <- survfit(Surv(PFS_MONTHS, PFS_EVENT) ~ 1, data = d, conf.type = ct)
    for (i in seq_along(f$time)) {
      put(name, ct, "survival", f$time[i], f$surv[i])
      put(name, ct, "ci_lower", f$time[i], f$lower[i])
      put(name, ct, "ci_upper", f$time[i], f$upper[i])
    }
    q <- quantile(f, 0.5)
    put(name, ct, "median", "", q$quantile)
    put(name, ct, "median_lower", "", q$lower)
    put(name, ct, "median_upper", "", q$upper)
    s <- summary(f, times = c(12, 24), extend = TRUE)
    for (i in seq_along(s$time)) {
      put(name, ct, "rate", s$time[i], s$surv[i])
      put(name, ct, "rate_lower", s$time[i], s$lower[i])
      put(name, ct, "rate_upper", s$time[i], s$upper[i])
    }
  }
  for (v in tables[[name]]$features) {
    m <- coxph(as.formula(paste("Surv(PFS_MONTHS, PFS_EVENT) ~", v)), data = d, ties = "efron")
    sm <- summary(m)
    put(name, "", "cox_coef", v, coef(m)[[1]])
    put(name, "", "cox_se", v, sqrt(vcov(m))[1, 1])
    put(name, "", "cox_p_wald", v, sm$waldtest[["pvalue"]])
    put(name, "", "cox_p_lr", v, sm$logtest[["pvalue"]])
    put(name, "", "cox_concordance", v, sm$concordance[[1]])
    high <- d[[v]] > median(d[[v]])
    lr <- survdiff(Surv(PFS_MONTHS, PFS_EVENT) ~ high, data = d)
    put(name, "", "logrank_statistic", v, lr$chisq)
    put(name, "", "logrank_p", v, pchisq(lr$chisq, 1, lower.tail = FALSE))
    if ("VIABLE_TUMOR_PCT" %in% names(d)) {
      # Spearman with the viable tumour % (midranks; p from the t approximation, exact = FALSE).
      sp <- suppressWarnings(cor.test(d[[v]], d$VIABLE_TUMOR_PCT, method = "spearman", exact = FALSE))
      put(name, "", "spearman_rho", v, sp$estimate[[1]])
      put(name, "", "spearman_p", v, sp$p.value)
    }
    if ("PCR" %in% names(d)) {
      # ROC for pCR: a higher value predicts PCR = 1; DeLong's 95% interval.
      r <- roc(response = d$PCR, predictor = d[[v]], levels = c(0, 1), direction = "<", quiet = TRUE)
      ci <- ci.auc(r, method = "delong")
      put(name, "", "roc_auc", v, as.numeric(auc(r)))
      put(name, "", "roc_lower", v, ci[1])
      put(name, "", "roc_upper", v, ci[3])
    }
  }
}
close(out)
