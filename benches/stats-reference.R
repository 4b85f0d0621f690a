# R's answers for the analysis tables of benches/stats-r-differential.py: R's survival package
# (Therneau) and pROC (Robin et al.), written independently of lifelines and of ancilla.
#
# Usage: Rscript benches/stats-reference.R CASE_DIR...
# Reads CASE_DIR/table.csv (USUBJID, ARMCD, PFS_MONTHS, PFS_EVENT, OS_*, PCR, VIABLE_TUMOR_PCT
# and feature columns) and writes CASE_DIR/r.tsv: one line per number, the key, then the values
# separated by tabs (NA where R gives none). Needs Debian's r-base-core, r-cran-survival and
# r-cran-proc.
suppressMessages({
  library(survival)
  library(pROC)
})

fixed <- c("USUBJID", "ARMCD", "PFS_MONTHS", "PFS_EVENT", "OS_MONTHS", "OS_EVENT", "PCR",
           "VIABLE_TUMOR_PCT")

reference <- function(dir) {
  tab <- read.csv(file.path(dir, "table.csv"))
  out <- character()
  put <- function(key, values) {
    values <- ifelse(is.na(values), "NA", format(values, digits = 17, scientific = TRUE))
    out <<- c(out, paste(c(key, values), collapse = "\t"))
  }
  y <- Surv(tab$PFS_MONTHS, tab$PFS_EVENT)
  for (type in c("log-log", "log")) {
    fit <- survfit(y ~ 1, conf.type = type)
    put(paste0("km.", type, ".time"), fit$time)
    put(paste0("km.", type, ".surv"), fit$surv)
    put(paste0("km.", type, ".lower"), fit$lower)
    put(paste0("km.", type, ".upper"), fit$upper)
    put(paste0("km.", type, ".n.risk"), fit$n.risk)
    q <- quantile(fit, probs = 0.5)
    put(paste0("km.", type, ".median"), c(q$quantile, q$lower, q$upper))
    months <- c(12, 24)
    # Beyond the last follow-up only where the curve has reached 0 (then 0, extend = TRUE).
    ended <- tail(fit$surv, 1) == 0
    months <- months[months <= max(tab$PFS_MONTHS) | ended]
    if (length(months) > 0) {
      s <- summary(fit, times = months, extend = ended)
      for (k in seq_along(months)) {
        put(paste0("km.", type, ".rate.", months[k]), c(s$surv[k], s$lower[k], s$upper[k]))
      }
    }
  }
  features <- setdiff(names(tab), fixed)
  p_fitted <- rep(NA, length(features))
  for (k in seq_along(features)) {
    name <- features[k]
    x <- tab[[name]]
    warned <- FALSE
    cox <- withCallingHandlers(
      coxph(y ~ x, ties = "efron"),
      warning = function(w) {
        warned <<- TRUE
        invokeRestart("muffleWarning")
      }
    )
    s <- summary(cox)
    put(paste0(name, ".cox"), c(
      s$coefficients[1, "coef"], s$coefficients[1, "se(coef)"], s$coefficients[1, "Pr(>|z|)"],
      s$logtest[["pvalue"]], s$conf.int[1, "exp(coef)"], s$conf.int[1, "lower .95"],
      s$conf.int[1, "upper .95"], s$concordance[["C"]], as.numeric(warned)
    ))
    # ancilla fits a model where coxph does not warn and at least 5 events are seen.
    if (!warned && sum(tab$PFS_EVENT) >= 5) {
      p_fitted[k] <- s$coefficients[1, "Pr(>|z|)"]
    }
    # A constant feature has no standard deviation (coxph stops: "an infinite predictor").
    per_sd <- tryCatch(suppressWarnings(coxph(y ~ I(x / sd(x)), ties = "efron")),
                       error = function(e) NULL)
    put(paste0(name, ".hr_per_sd"), if (is.null(per_sd)) NA else
      c(exp(coef(per_sd)[[1]]), summary(per_sd)$conf.int[1, "lower .95"],
        summary(per_sd)$conf.int[1, "upper .95"]))
    high <- x > median(x)
    # Nothing above the median (more than half the values at the top): at or above it.
    if (!any(high)) high <- x >= median(x)
    if (any(high) && !all(high)) {
      lr <- survdiff(y ~ high)
      put(paste0(name, ".logrank"), c(lr$chisq, pchisq(lr$chisq, 1, lower.tail = FALSE)))
    }
    # A fixed cut-off, where the case has one (cutoff.txt: FEATURE VALUE): high = value >= it.
    if (file.exists(file.path(dir, "cutoff.txt"))) {
      cut <- scan(file.path(dir, "cutoff.txt"), what = list("", 0), quiet = TRUE)
      high <- x >= cut[[2]]
      if (cut[[1]] == name && any(high) && !all(high)) {
        lr <- survdiff(y ~ high)
        put(paste0(name, ".logrank_cutoff"),
            c(lr$chisq, pchisq(lr$chisq, 1, lower.tail = FALSE), sum(high), sum(!high)))
      }
    }
    sp <- suppressWarnings(cor.test(x, tab$VIABLE_TUMOR_PCT, method = "spearman", exact = FALSE))
    put(paste0(name, ".spearman"), c(sp$estimate[[1]], sp$p.value))
    r <- roc(response = tab$PCR, predictor = x, levels = c(0, 1), direction = "<", quiet = TRUE)
    ci <- suppressWarnings(ci.auc(r, method = "delong", conf.level = 0.95))
    put(paste0(name, ".roc"), c(ci[2], ci[1], ci[3]))
  }
  # Benjamini-Hochberg over the Wald p-values of the fitted models, in the features' order.
  q <- rep(NA, length(features))
  q[!is.na(p_fitted)] <- p.adjust(p_fitted[!is.na(p_fitted)], method = "BH")
  put("bh", q)
  writeLines(out, file.path(dir, "r.tsv"))
}

for (dir in commandArgs(trailingOnly = TRUE)) {
  reference(dir)
}
