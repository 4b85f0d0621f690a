//! What measuring one region takes in memory, and the plan that keeps every region within the
//! process's budget (`memory::volume_budget_bytes`: half of what the process may use, its
//! cgroup's or `ulimit -v`'s limit where lower). A region whose spatial autocorrelation (IBSI 1,
//! 3.1.24-25: FFTs over its box padded to twice its size) would pass the budget is measured
//! without Moran's I and Geary's C; one whose other families would pass it is not measured; both
//! are said. A region too large to share the budget with the regions measured beside it is
//! measured alone. A whole-body region (13 M voxels) aborted the batch (exit 134) before.

use super::spatial;

/// Bytes per voxel of a region's working box (the image crop and its mask, the grey levels and
/// morphological mask, the peak sphere's row sums, the shape's occupancy grid) and per voxel of
/// the region (its voxel list, their positions for the moments, the values and their sorted and
/// robust copies: about 80 bytes, at once). A whole-box region of 6.6 M voxels took 87 bytes per
/// voxel without the FFT grids, the image and mask read included (peak resident set of
/// `ancilla features`, 256 × 256 × 100).
const PER_BOX_VOXEL: u64 = 16;
const PER_REGION_VOXEL: u64 = 80;

/// How much of a region is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    WithoutAutocorrelation,
    Nothing,
}

/// A region's plan: what is measured, what it takes, and whether it shares the cores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionPlan {
    pub scope: Scope,
    /// Bytes its autocorrelation would take (0 when its pairs are summed directly).
    pub autocorrelation: u64,
    /// Bytes the rest of it takes.
    pub rest: u64,
    /// Measured after the others, one at a time: its need is more than one thread's share.
    pub alone: bool,
}

impl RegionPlan {
    /// The plan of a region of `voxels` voxels whose bounding box measures `extent` and whose
    /// working box (the bounding box grown by the peak sphere's reach) `working`, within `budget`
    /// bytes shared by `threads` regions at a time.
    pub fn new(
        voxels: usize,
        extent: [usize; 3],
        working: [usize; 3],
        budget: u64,
        threads: usize,
    ) -> Self {
        let cells = working
            .iter()
            .fold(1u64, |n, &d| n.saturating_mul(d as u64));
        let rest = cells
            .saturating_mul(PER_BOX_VOXEL)
            .saturating_add((voxels as u64).saturating_mul(PER_REGION_VOXEL));
        let autocorrelation = spatial::fft_bytes(voxels, extent);
        let scope = if rest > budget {
            Scope::Nothing
        } else if rest.saturating_add(autocorrelation) > budget {
            Scope::WithoutAutocorrelation
        } else {
            Scope::All
        };
        let mut plan = RegionPlan {
            scope,
            autocorrelation,
            rest,
            alone: false,
        };
        plan.alone = plan.need() > budget / threads.max(1) as u64;
        plan
    }

    /// Bytes the region's families take as planned.
    pub fn need(&self) -> u64 {
        match self.scope {
            Scope::All => self.rest + self.autocorrelation,
            Scope::WithoutAutocorrelation => self.rest,
            Scope::Nothing => 0,
        }
    }

    /// What is left out, for a warning (None when the region is measured whole); `region` names
    /// it ("the NIfTI label map's label 3"), `extent` is its bounding box.
    pub fn note(&self, region: &str, extent: [usize; 3], budget: u64) -> Option<String> {
        let [k, j, i] = extent;
        let limit = format!(
            "more than the {} one region may take here (half of what this process may use)",
            gb(budget)
        );
        match self.scope {
            Scope::All => None,
            Scope::WithoutAutocorrelation => Some(format!(
                "{region} is measured without Moran's I and Geary's C: over its {i} × {j} × {k} \
                 box their FFTs need about {} and its other features {}, together {limit}",
                gb(self.autocorrelation),
                gb(self.rest)
            )),
            Scope::Nothing => Some(format!(
                "{region} is not measured: its {i} × {j} × {k} box needs about {}, {limit}",
                gb(self.rest)
            )),
        }
    }
}

/// Bytes as GB, with two decimals below 10 GB (0.01 at least), one above.
fn gb(bytes: u64) -> String {
    let gb = (bytes as f64 / 1e9).max(0.01);
    if gb < 10.0 {
        format!("{gb:.2} GB")
    } else {
        format!("{gb:.1} GB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    /// A tumour measures whole, beside the others; a 256 × 256 × 200 region under a 2 GiB
    /// budget loses its autocorrelation (FFT grids of 512 × 512 × 400 points, 32 bytes each:
    /// 3.36 GB) and is measured alone; a 512 × 512 × 400 one (105 M voxels, 96 bytes each) is
    /// not measured.
    #[test]
    fn plans_follow_the_budget() {
        let tumour = RegionPlan::new(5_000, [20, 25, 25], [26, 31, 31], 2 * GIB, 2);
        assert_eq!(tumour.scope, Scope::All);
        assert!(!tumour.alone);
        let n = 256 * 256 * 200;
        let large = RegionPlan::new(n, [200, 256, 256], [200, 256, 256], 2 * GIB, 2);
        assert_eq!(large.scope, Scope::WithoutAutocorrelation);
        assert_eq!(large.autocorrelation, 32 * 400 * 512 * 512);
        assert_eq!(large.need(), 96 * n as u64);
        assert!(large.alone);
        let note = large.note("label 1", [200, 256, 256], 2 * GIB).unwrap();
        assert!(note.contains("256 × 256 × 200 box"), "{note}");
        assert!(
            note.contains(
                "about 3.36 GB and its other features 1.26 GB, together more than the 2.15 GB"
            ),
            "{note}"
        );
        // With 24 GiB the same region is measured whole.
        let roomy = RegionPlan::new(n, [200, 256, 256], [200, 256, 256], 24 * GIB, 2);
        assert_eq!(roomy.scope, Scope::All);
        let n = 512 * 512 * 400;
        let whole = RegionPlan::new(n, [400, 512, 512], [400, 512, 512], 2 * GIB, 2);
        assert_eq!(whole.scope, Scope::Nothing);
        let note = whole.note("label 1", [400, 512, 512], 2 * GIB).unwrap();
        assert!(note.contains("about 10.1 GB"), "{note}");
        assert_eq!(tumour.note("label 1", [20, 25, 25], 2 * GIB), None);
    }

    /// A region of scattered voxels in a large box sums its pairs directly: no FFT grid.
    #[test]
    fn scattered_regions_take_no_fft_grid() {
        let sparse = RegionPlan::new(1_500, [90, 128, 128], [90, 128, 128], 2 * GIB, 2);
        assert_eq!(sparse.autocorrelation, 0);
        assert_eq!(sparse.scope, Scope::All);
    }
}
