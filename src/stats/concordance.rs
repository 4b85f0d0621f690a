//! Harrell's C as lifelines' `concordance_index(event_times, predicted_scores, event_observed)`:
//! a pair is comparable when the shorter time is an event (a censored time equal to an event
//! time counts as longer; two events at the same time are not compared); concordant when the
//! longer time has the higher predicted score; tied scores count ½.

/// C index; `None` when no pair is comparable. Higher `predicted` = longer survival.
pub fn concordance_index(times: &[f64], predicted: &[f64], events: &[bool]) -> Option<f64> {
    let n = times.len();
    let (mut pairs, mut correct, mut tied) = (0u64, 0u64, 0u64);
    for i in 0..n {
        if !events[i] {
            continue;
        }
        for j in 0..n {
            let comparable = times[j] > times[i] || (times[j] == times[i] && !events[j]);
            if i == j || !comparable {
                continue;
            }
            pairs += 1;
            if predicted[j] > predicted[i] {
                correct += 1;
            } else if predicted[j] == predicted[i] {
                tied += 1;
            }
        }
    }
    (pairs > 0).then(|| (correct as f64 + 0.5 * tied as f64) / pairs as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::lifelines_reference as r;

    #[test]
    fn tied_toy_matches_lifelines() {
        let t = [1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0];
        let p = [1.0, 3.0, 2.0, 2.0, 5.0, 4.0, 6.0];
        let e = [true, true, false, true, true, false, true];
        assert_eq!(concordance_index(&t, &p, &e), Some(r::TOY_CINDEX));
    }

    #[test]
    fn perfect_and_reversed() {
        let t = [1.0, 2.0, 3.0];
        let e = [true; 3];
        assert_eq!(concordance_index(&t, &t, &e), Some(1.0));
        assert_eq!(concordance_index(&t, &[3.0, 2.0, 1.0], &e), Some(0.0));
        assert_eq!(concordance_index(&t, &t, &[false; 3]), None);
    }
}
