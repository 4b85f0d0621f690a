//! Neighbourhood grey tone difference matrix features (IBSI 1, section 3.10: the 5 `ngt_*`
//! features) in 3D: for each region voxel, the absolute difference between its grey level and the
//! mean level of its 26 neighbours inside the region (voxels with no such neighbour left out).
//! Fixed-bin-size levels as for the GLCM. Checked against the IBSI digital phantom.

use super::features::Feature;
use super::grey_levels::{neighbours26, texture_feature, GreyLevels};

/// The 5 NGTDM features of the region's grey levels (`ngt_*_3D`).
pub fn ngtdm_features(g: &GreyLevels) -> Vec<Feature> {
    let (levels, ng) = (&g.levels, g.ng);
    let mut s = vec![0.0f64; ng];
    let mut n = vec![0.0f64; ng];
    for ((k, j, i), &l) in levels.indexed_iter() {
        if l == 0 {
            continue;
        }
        let around: Vec<f64> = neighbours26(levels.dim(), [k, j, i])
            .map(|q| levels[q])
            .filter(|m| *m > 0)
            .map(f64::from)
            .collect();
        if !around.is_empty() {
            let idx = l as usize - 1;
            s[idx] += (l as f64 - around.iter().sum::<f64>() / around.len() as f64).abs();
            n[idx] += 1.0;
        }
    }
    let nvc: f64 = n.iter().sum();
    if nvc == 0.0 {
        return Vec::new();
    }
    let p: Vec<f64> = n.iter().map(|x| x / nvc).collect();
    let present: Vec<usize> = (0..ng).filter(|&i| p[i] > 0.0).collect();
    let ngp = present.len() as f64;
    let lv = |i: usize| (i + 1) as f64;
    let ps: f64 = (0..ng).map(|i| p[i] * s[i]).sum();
    let s_total: f64 = s.iter().sum();
    let present: Vec<Level> = present
        .iter()
        .map(|&i| Level {
            a: lv(i),
            p: p[i],
            s: s[i],
        })
        .collect();
    let [contrast, busy_den, complexity, strength] = if present.len() <= DIRECT_LEVELS {
        pair_sums_direct(&present)
    } else {
        pair_sums_grouped(&present)
    };
    let contrast = if ngp > 1.0 {
        contrast / (ngp * (ngp - 1.0)) * s_total / nvc
    } else {
        0.0
    };
    let values = [
        ("ngt_coarseness", if ps > 0.0 { 1.0 / ps } else { 1e6 }),
        ("ngt_contrast", contrast),
        (
            "ngt_busyness",
            if busy_den > 0.0 { ps / busy_den } else { 0.0 },
        ),
        ("ngt_complexity", complexity / nvc),
        (
            "ngt_strength",
            if s_total > 0.0 {
                strength / s_total
            } else {
                0.0
            },
        ),
    ];
    values
        .into_iter()
        .map(|(name, value)| texture_feature(format!("{name}_3D"), value))
        .collect()
}

/// A grey level present in the region: its value a, its share p of the voxels counted, and its
/// summed absolute difference s to the neighbourhoods' means.
#[derive(Clone, Copy)]
struct Level {
    a: f64,
    p: f64,
    s: f64,
}

/// Up to this many present levels the pair sums are taken pair by pair (4 M pairs); beyond, by
/// groups of levels that share a share p. A region whose voxels each hold their own level (a
/// bin width far below its range: 110,000 levels) took minutes pair by pair.
const DIRECT_LEVELS: usize = 2048;

/// The four pair sums of IBSI 3.10 over every ordered pair of present levels (i, j), i = j
/// included (it adds nothing): Σ pᵢpⱼ(aᵢ − aⱼ)², Σ |aᵢpᵢ − aⱼpⱼ|,
/// Σ |aᵢ − aⱼ| (pᵢsᵢ + pⱼsⱼ) / (pᵢ + pⱼ), Σ (pᵢ + pⱼ)(aᵢ − aⱼ)²: contrast, busyness's
/// denominator, complexity and strength before their normalisations.
fn pair_sums_direct(levels: &[Level]) -> [f64; 4] {
    let (mut contrast, mut busy_den, mut complexity, mut strength) = (0.0, 0.0, 0.0, 0.0);
    for x in levels {
        for y in levels {
            let d = x.a - y.a;
            contrast += x.p * y.p * d * d;
            busy_den += (x.a * x.p - y.a * y.p).abs();
            complexity += d.abs() * (x.p * x.s + y.p * y.s) / (x.p + y.p);
            strength += (x.p + y.p) * d * d;
        }
    }
    [contrast, busy_den, complexity, strength]
}

/// `pair_sums_direct` by groups of levels of one share p (levels with one voxel count: at most
/// about √(2N) groups in a region of N voxels). Within a pair of groups (P, Q) the squared
/// differences add up from the groups' sums of a and a² (a taken from the levels' mean, so no
/// large squares cancel), and the absolute ones in one walk over both groups sorted by a (the
/// levels themselves: |aᵢpᵢ − aⱼpⱼ| changes when a moves).
fn pair_sums_grouped(levels: &[Level]) -> [f64; 4] {
    /// One group's levels (ascending), their shares times the levels, their s, and the count,
    /// sum and sum of squares of the levels taken from the mean.
    struct Group {
        p: f64,
        a: Vec<f64>,
        pa: Vec<f64>,
        s: Vec<f64>,
        moments: (f64, f64, f64),
    }
    let mean = levels.iter().map(|l| l.a).sum::<f64>() / levels.len() as f64;
    let mut by_share: Vec<Level> = levels.to_vec();
    by_share.sort_by(|x, y| x.p.total_cmp(&y.p).then(x.a.total_cmp(&y.a)));
    let groups: Vec<Group> = by_share
        .chunk_by(|x, y| x.p == y.p)
        .map(|g| Group {
            p: g[0].p,
            a: g.iter().map(|l| l.a).collect(),
            // |P·aᵢ − Q·aⱼ|: both lists stay sorted when scaled by a positive share.
            pa: g.iter().map(|l| g[0].p * l.a).collect(),
            s: g.iter().map(|l| l.s).collect(),
            moments: (
                g.len() as f64,
                g.iter().map(|l| l.a - mean).sum(),
                g.iter().map(|l| (l.a - mean).powi(2)).sum(),
            ),
        })
        .collect();
    let (mut contrast, mut busy_den, mut complexity, mut strength) = (0.0, 0.0, 0.0, 0.0);
    for g in &groups {
        for h in &groups {
            let ((ng, s1g, s2g), (nh, s1h, s2h)) = (g.moments, h.moments);
            let squares = nh * s2g - 2.0 * s1g * s1h + ng * s2h;
            contrast += g.p * h.p * squares;
            strength += (g.p + h.p) * squares;
            busy_den += weighted_abs_differences(&g.pa, None, &h.pa);
            complexity += (g.p * weighted_abs_differences(&g.a, Some(&g.s), &h.a)
                + h.p * weighted_abs_differences(&h.a, Some(&h.s), &g.a))
                / (g.p + h.p);
        }
    }
    [contrast, busy_den, complexity, strength]
}

/// Σᵢ wᵢ Σⱼ |xᵢ − yⱼ| (wᵢ = 1 without weights) for ascending `x` and `y`, in one walk: for each
/// xᵢ, the y below it add xᵢ − y, those above y − xᵢ.
fn weighted_abs_differences(x: &[f64], w: Option<&[f64]>, y: &[f64]) -> f64 {
    let total: f64 = y.iter().sum();
    let (mut below, mut below_sum) = (0usize, 0.0);
    let mut out = 0.0;
    for (i, &xi) in x.iter().enumerate() {
        while below < y.len() && y[below] < xi {
            below_sum += y[below];
            below += 1;
        }
        let above = (y.len() - below) as f64;
        let d = xi * below as f64 - below_sum + (total - below_sum) - xi * above;
        out += w.map_or(1.0, |w| w[i]) * d;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::grey_levels::tests_support::{check_against_reference, phantom_levels};

    /// The pair sums by groups equal those pair by pair (to rounding), on levels with shares of
    /// one, a few and many voxels, values far from 0 (around 10⁷, as a fine bin width makes
    /// them) and close together.
    #[test]
    fn pair_sums_by_groups_equal_those_pair_by_pair() {
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for (n, base, spread) in [(300, 0.0, 300.0), (700, 1e7, 5_000.0), (50, 1e7, 60.0)] {
            let mut a = base;
            let levels: Vec<Level> = (0..n)
                .map(|_| {
                    a += 1.0 + (next() * spread / n as f64).floor();
                    // Counts 1 (most), 2, 3 or 40: shares of few distinct values.
                    let count = [1.0, 1.0, 1.0, 2.0, 3.0, 40.0][(next() * 6.0) as usize];
                    Level {
                        a,
                        p: count / 1000.0,
                        s: next() * 5.0 * count,
                    }
                })
                .collect();
            let direct = pair_sums_direct(&levels);
            let grouped = pair_sums_grouped(&levels);
            for (d, g) in direct.iter().zip(grouped) {
                assert!(*d > 0.0);
                assert!((g / d - 1.0).abs() < 1e-9, "{n} levels: {d} vs {g}");
            }
        }
    }

    /// The IBSI digital phantom: all 5 NGTDM values to IBSI's three significant digits.
    #[test]
    fn ibsi_digital_phantom_ngtdm() {
        assert_eq!(
            check_against_reference(&ngtdm_features(&phantom_levels())),
            5
        );
    }
}
