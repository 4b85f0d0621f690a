//! Phantom anatomy: analytic regions (ellipsoids, axis-aligned in LPS millimetres) with a label
//! each, and per-region values for each modality. A voxel belongs to the first region (in label
//! priority order) whose ellipsoid contains its centre.

use serde::Serialize;

use super::rng::Rng;

/// Region labels of the masks (the study's ROI table).
pub const LABELS: [(u8, &str); 5] = [
    (1, "tumor"),
    (2, "kidney"),
    (3, "liver"),
    (4, "bloodpool"),
    (5, "parotid"),
];

/// An ellipsoid.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Ellipsoid {
    pub centre: [f64; 3],
    pub radii: [f64; 3],
}

impl Ellipsoid {
    pub fn contains(&self, p: [f64; 3]) -> bool {
        let s: f64 = (0..3)
            .map(|a| ((p[a] - self.centre[a]) / self.radii[a]).powi(2))
            .sum();
        s <= 1.0
    }

    /// Analytic volume in ml.
    pub fn volume_ml(&self) -> f64 {
        4.0 / 3.0 * std::f64::consts::PI * self.radii[0] * self.radii[1] * self.radii[2] / 1000.0
    }
}

/// What a voxel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tissue {
    Air,
    Body,
    Region(u8),
}

/// One subject's anatomy.
#[derive(Debug, Clone, Serialize)]
pub struct Anatomy {
    pub body: Ellipsoid,
    pub tumor: Ellipsoid,
    pub kidneys: [Ellipsoid; 2],
    pub liver: Ellipsoid,
    pub bloodpool: Ellipsoid,
    pub parotids: [Ellipsoid; 2],
}

impl Anatomy {
    /// A subject's anatomy: tumour of radius 15–28 mm in the upper pole of the left kidney.
    pub fn random(rng: &mut Rng) -> Self {
        let j = |rng: &mut Rng, x: f64| x + rng.range(-4.0, 4.0);
        let r_t = rng.range(15.0, 28.0);
        let left_kidney = Ellipsoid {
            centre: [j(rng, 72.0), j(rng, 62.0), j(rng, -10.0)],
            radii: [30.0, 26.0, 52.0],
        };
        Anatomy {
            body: Ellipsoid {
                centre: [0.0, 10.0, 0.0],
                radii: [185.0, 135.0, 178.0],
            },
            tumor: Ellipsoid {
                centre: [
                    left_kidney.centre[0] + 12.0,
                    left_kidney.centre[1] - 6.0,
                    left_kidney.centre[2] + 34.0,
                ],
                radii: [r_t, r_t, r_t],
            },
            kidneys: [
                Ellipsoid {
                    centre: [j(rng, -70.0), j(rng, 62.0), j(rng, -20.0)],
                    radii: [30.0, 26.0, 52.0],
                },
                left_kidney,
            ],
            liver: Ellipsoid {
                centre: [j(rng, -85.0), j(rng, 5.0), j(rng, 70.0)],
                radii: [72.0, 62.0, 52.0],
            },
            bloodpool: Ellipsoid {
                centre: [12.0, 38.0, 0.0],
                radii: [11.0, 11.0, 85.0],
            },
            parotids: [
                Ellipsoid {
                    centre: [-52.0, 12.0, 150.0],
                    radii: [17.0, 14.0, 22.0],
                },
                Ellipsoid {
                    centre: [52.0, 12.0, 150.0],
                    radii: [17.0, 14.0, 22.0],
                },
            ],
        }
    }

    /// Tissue at an LPS point (label priority: tumour, kidney, liver, blood pool, parotid).
    pub fn tissue(&self, p: [f64; 3]) -> Tissue {
        if !self.body.contains(p) {
            return Tissue::Air;
        }
        if self.tumor.contains(p) {
            Tissue::Region(1)
        } else if self.kidneys.iter().any(|k| k.contains(p)) {
            Tissue::Region(2)
        } else if self.liver.contains(p) {
            Tissue::Region(3)
        } else if self.bloodpool.contains(p) {
            Tissue::Region(4)
        } else if self.parotids.iter().any(|k| k.contains(p)) {
            Tissue::Region(5)
        } else {
            Tissue::Body
        }
    }

    /// The ellipsoids making up a label.
    pub fn parts(&self, label: u8) -> Vec<Ellipsoid> {
        match label {
            1 => vec![self.tumor],
            2 => self.kidneys.to_vec(),
            3 => vec![self.liver],
            4 => vec![self.bloodpool],
            5 => self.parotids.to_vec(),
            _ => vec![self.body],
        }
    }

    /// Whether every part of a label lies inside a grid's field of view (voxel-centre box
    /// extended by half a voxel), tested on the corners of each ellipsoid's bounding box.
    pub fn inside_grid(&self, label: u8, g: &crate::volume::Geometry, dims: [usize; 3]) -> bool {
        self.parts(label).iter().all(|e| {
            (0..8).all(|corner| {
                let p: [f64; 3] = std::array::from_fn(|a| {
                    let sign = if corner >> a & 1 == 1 { 1.0 } else { -1.0 };
                    e.centre[a] + sign * e.radii[a]
                });
                let x = g.index_of(p);
                let n = [dims[2], dims[1], dims[0]];
                (0..3).all(|a| x[a] >= -0.5 && x[a] <= n[a] as f64 - 0.5)
            })
        })
    }

    /// Analytic volume (ml) of a label, where the region is not cut by another one.
    pub fn analytic_volume_ml(&self, label: u8) -> Option<f64> {
        match label {
            1 => Some(self.tumor.volume_ml()),
            3 => Some(self.liver.volume_ml()),
            4 => Some(self.bloodpool.volume_ml()),
            5 => Some(self.parotids[0].volume_ml() + self.parotids[1].volume_ml()),
            _ => None, // kidney: the tumour takes part of it
        }
    }
}
