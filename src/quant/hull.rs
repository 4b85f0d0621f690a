//! Exact 3D convex hull (incremental, integer orientation tests) of mesh vertices given in doubled
//! grid coordinates, and its volume and area in millimetres — for IBSI's convex-hull volume and
//! area densities (IBSI 1, 3.1.21–22). Exact integers make the predicates robust: coplanar
//! points never flip a face.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hasher of the packed directed-edge keys: one multiply (Fibonacci hashing); the keys are small
/// integers made by this module, not input an attacker picks, so SipHash's protection buys
/// nothing here and costs a third of the hull's time.
#[derive(Default)]
struct EdgeHasher(u64);

impl Hasher for EdgeHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A directed edge (u, v) as one key.
fn edge_key(u: usize, v: usize) -> u64 {
    (u as u64) << 32 | v as u64
}

fn sub(a: [i64; 3], b: [i64; 3]) -> [i64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [i64; 3], b: [i64; 3]) -> [i64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [i64; 3], b: [i64; 3]) -> i64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// > 0 when `d` lies on the side of triangle (a, b, c) its normal (b − a) × (c − a) points to.
fn orient(a: [i64; 3], b: [i64; 3], c: [i64; 3], d: [i64; 3]) -> i64 {
    dot(cross(sub(b, a), sub(c, a)), sub(d, a))
}

/// Triangles (indices into `points`, outward normals) of the convex hull, in a canonical order
/// (each rotated to start at its smallest index, then sorted), so sums over them come out the
/// same on every run; empty when the points span no volume.
///
/// Quickhull (Barber, Dobkin & Huhdanpaa 1996): each point waits in the outside set of one face
/// it lies above; a face's farthest point is added, the faces it sees are found by walking
/// across edges from that face, replaced by a cone from the point to their horizon, and only
/// their waiting points are reassigned, to the new faces. Points above no face are inside and
/// dropped. Every predicate is an exact integer orientation test.
pub fn convex_hull(points: &[[i64; 3]]) -> Vec<[usize; 3]> {
    let n = points.len();
    if n < 4 {
        return Vec::new();
    }
    // An initial tetrahedron: two distinct points, a third off their line, a fourth off their plane.
    let a = 0;
    let Some(b) = (1..n).find(|&i| points[i] != points[a]) else {
        return Vec::new();
    };
    let Some(c) =
        (0..n).find(|&i| cross(sub(points[b], points[a]), sub(points[i], points[a])) != [0, 0, 0])
    else {
        return Vec::new();
    };
    let Some(d) = (0..n).find(|&i| orient(points[a], points[b], points[c], points[i]) != 0) else {
        return Vec::new();
    };
    let initial = if orient(points[a], points[b], points[c], points[d]) < 0 {
        [[a, b, c], [a, c, d], [a, d, b], [b, d, c]]
    } else {
        [[a, c, b], [a, d, c], [a, b, d], [b, c, d]]
    };
    let mut hull = Quickhull {
        points,
        faces: Vec::new(),
        edges: HashMap::default(),
        seen: Vec::new(),
    };
    for f in initial {
        hull.add_face(f);
    }
    let rest: Vec<usize> = (0..n).filter(|p| ![a, b, c, d].contains(p)).collect();
    hull.assign(rest, &[0, 1, 2, 3]);
    let mut pending: Vec<usize> = (0..4).rev().collect();
    let mut stamp = 0u32;
    while let Some(fi) = pending.pop() {
        if !hull.faces[fi].alive || hull.faces[fi].outside.is_empty() {
            continue;
        }
        // The point farthest above the face (first in index order on ties).
        let apex = hull.faces[fi]
            .outside
            .iter()
            .copied()
            .max_by_key(|&q| (hull.height(fi, q), std::cmp::Reverse(q)))
            .unwrap_or(0);
        // The faces the apex sees (connected, found across edges) and their horizon.
        stamp += 1;
        hull.seen.resize(hull.faces.len(), 0);
        hull.seen[fi] = stamp;
        let mut visible = vec![fi];
        let mut horizon: Vec<(usize, usize)> = Vec::new();
        let mut next = 0;
        while next < visible.len() {
            let f = hull.faces[visible[next]].v;
            next += 1;
            for (u, w) in [(f[0], f[1]), (f[1], f[2]), (f[2], f[0])] {
                let Some(&g) = hull.edges.get(&edge_key(w, u)) else {
                    continue;
                };
                if hull.height(g, apex) > 0 {
                    if hull.seen[g] != stamp {
                        hull.seen[g] = stamp;
                        visible.push(g);
                    }
                } else {
                    horizon.push((u, w));
                }
            }
        }
        let mut waiting = Vec::new();
        for &f in &visible {
            waiting.append(&mut hull.faces[f].outside);
            hull.remove_face(f);
        }
        waiting.retain(|&q| q != apex);
        let cone: Vec<usize> = horizon
            .into_iter()
            .map(|(u, w)| hull.add_face([u, w, apex]))
            .collect();
        hull.assign(waiting, &cone);
        pending.extend(cone.into_iter().rev());
    }
    let mut faces: Vec<[usize; 3]> = hull
        .faces
        .iter()
        .filter(|f| f.alive)
        .map(|f| {
            let v = f.v;
            let m = (0..3).min_by_key(|&i| v[i]).unwrap_or(0);
            [v[m], v[(m + 1) % 3], v[(m + 2) % 3]]
        })
        .collect();
    faces.sort_unstable();
    faces
}

/// One face of the hull being built, with the points waiting above it.
struct Face {
    v: [usize; 3],
    /// (b − a) × (c − a) of its corners, and its dot product with a: the height of a point q
    /// above the face is normal · q − offset (the orientation determinant, exact in i64).
    normal: [i64; 3],
    offset: i64,
    outside: Vec<usize>,
    alive: bool,
}

struct Quickhull<'a> {
    points: &'a [[i64; 3]],
    faces: Vec<Face>,
    /// Directed edge (u, v) → the live face holding it (its twin (v, u) is on the neighbour).
    edges: HashMap<u64, usize, BuildHasherDefault<EdgeHasher>>,
    /// Per face, the walk that last visited it.
    seen: Vec<u32>,
}

impl Quickhull<'_> {
    /// Positive when point `q` lies above face `f` (on the side its normal points to): the
    /// same value as `orient` of the face's corners and q.
    fn height(&self, f: usize, q: usize) -> i64 {
        let face = &self.faces[f];
        dot(face.normal, self.points[q]) - face.offset
    }

    fn add_face(&mut self, v: [usize; 3]) -> usize {
        let i = self.faces.len();
        for (a, b) in [(v[0], v[1]), (v[1], v[2]), (v[2], v[0])] {
            self.edges.insert(edge_key(a, b), i);
        }
        let p = self.points;
        let normal = cross(sub(p[v[1]], p[v[0]]), sub(p[v[2]], p[v[0]]));
        self.faces.push(Face {
            v,
            normal,
            offset: dot(normal, p[v[0]]),
            outside: Vec::new(),
            alive: true,
        });
        i
    }

    fn remove_face(&mut self, i: usize) {
        let v = self.faces[i].v;
        for (a, b) in [(v[0], v[1]), (v[1], v[2]), (v[2], v[0])] {
            let e = edge_key(a, b);
            if self.edges.get(&e) == Some(&i) {
                self.edges.remove(&e);
            }
        }
        self.faces[i].alive = false;
    }

    /// Put each point in the outside set of the first of `faces` it lies above (or drop it).
    fn assign(&mut self, points: Vec<usize>, faces: &[usize]) {
        for q in points {
            if let Some(&f) = faces.iter().find(|&&f| self.height(f, q) > 0) {
                self.faces[f].outside.push(q);
            }
        }
    }
}

/// Volume (mm³) and area (mm²) of the convex hull of `points` (doubled grid coordinates, axis
/// order [k, j, i]) on a grid of `spacing` [k, j, i] mm; (0, 0) when they span no volume.
pub fn hull_volume_area(points: &[[i64; 3]], spacing: [f64; 3]) -> (f64, f64) {
    let (volume, area, _) = hull_measures(points, spacing);
    (volume, area)
}

/// `hull_volume_area` and the hull's vertices (indices into `points`, ascending; empty when the
/// points span no volume): the points a largest distance can end on.
pub fn hull_measures(points: &[[i64; 3]], spacing: [f64; 3]) -> (f64, f64, Vec<usize>) {
    let faces = convex_hull(points);
    let mut vertices: Vec<usize> = faces.iter().flatten().copied().collect();
    vertices.sort_unstable();
    vertices.dedup();
    let mm = |p: [i64; 3]| [0, 1, 2].map(|d| p[d] as f64 / 2.0 * spacing[d]);
    let (mut volume, mut area) = (0.0, 0.0);
    for f in faces {
        let (a, b, c) = (mm(points[f[0]]), mm(points[f[1]]), mm(points[f[2]]));
        let e1 = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
        let e2 = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
        let n = [
            e1[1] * e2[2] - e1[2] * e2[1],
            e1[2] * e2[0] - e1[0] * e2[2],
            e1[0] * e2[1] - e1[1] * e2[0],
        ];
        area += 0.5 * (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
        volume += (a[0] * n[0] + a[1] * n[1] + a[2] * n[2]) / 6.0;
    }
    (volume.abs(), area, vertices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cube_with_inner_and_coplanar_points() {
        // The corners of a 2×2×2 cube (doubled: 0 and 4 → 0 and 2 mm at 1 mm spacing), its centre,
        // face centres and edge midpoints: hull volume 8 mm³, area 24 mm².
        let mut pts = Vec::new();
        for x in [0, 2, 4] {
            for y in [0, 2, 4] {
                for z in [0, 2, 4] {
                    pts.push([x, y, z]);
                }
            }
        }
        let (v, a) = hull_volume_area(&pts, [1.0; 3]);
        assert!((v - 8.0).abs() < 1e-12, "{v}");
        assert!((a - 24.0).abs() < 1e-12, "{a}");
    }

    /// What makes a set of triangles the convex hull of `points`: no point lies above any face
    /// (exact test), the faces close up (every directed edge has its reverse on another face),
    /// and the surface reaches the extreme points along every axis.
    fn check_hull(points: &[[i64; 3]]) {
        let faces = convex_hull(points);
        if faces.is_empty() {
            return;
        }
        for f in &faces {
            let (a, b, c) = (points[f[0]], points[f[1]], points[f[2]]);
            for (i, q) in points.iter().enumerate() {
                assert!(orient(a, b, c, *q) <= 0, "point {i} above face {f:?}");
            }
        }
        // Closed surface: every directed edge has its twin.
        let edges: std::collections::HashSet<(usize, usize)> = faces
            .iter()
            .flat_map(|f| [(f[0], f[1]), (f[1], f[2]), (f[2], f[0])])
            .collect();
        assert_eq!(edges.len(), 3 * faces.len());
        for (u, v) in &edges {
            assert!(edges.contains(&(*v, *u)), "edge {u}->{v} has no twin");
        }
        // Every point that is a strict vertex of the hull (extreme in some direction) is used:
        // the extreme point along each axis direction is on some face.
        let used: std::collections::HashSet<[i64; 3]> =
            faces.iter().flatten().map(|&i| points[i]).collect();
        for axis in 0..3 {
            let hi = points.iter().map(|p| p[axis]).max().unwrap();
            assert!(
                used.iter().any(|p| p[axis] == hi),
                "no face reaches max of axis {axis}"
            );
        }
    }

    #[test]
    fn random_point_sets_make_closed_hulls_with_nothing_outside() {
        // A fixed pseudo-random sequence (no RNG dependency): clouds, and grids with coplanar runs.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |m: i64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % m as u64) as i64
        };
        for case in 0..200 {
            let n = 4 + (case % 60);
            let range = if case % 3 == 0 { 4 } else { 50 };
            let pts: Vec<[i64; 3]> = (0..n)
                .map(|_| [next(range), next(range), next(range)])
                .collect();
            let mut unique = pts.clone();
            unique.sort_unstable();
            unique.dedup();
            check_hull(&unique);
        }
        // A sphere of grid points: the hull volume approaches 4/3·π·r³ from below.
        let r = 12i64;
        let sphere: Vec<[i64; 3]> = (-r..=r)
            .flat_map(|x| (-r..=r).flat_map(move |y| (-r..=r).map(move |z| [x, y, z])))
            .filter(|p| p[0] * p[0] + p[1] * p[1] + p[2] * p[2] <= r * r)
            .collect();
        check_hull(&sphere);
        // Doubled coordinates at 0.5 mm spacing: radius r / 2 · 0.5 mm.
        let (v, _) = hull_volume_area(&sphere, [0.5; 3]);
        let ball = 4.0 / 3.0 * std::f64::consts::PI * (r as f64 / 4.0).powi(3);
        assert!(v < ball && v > 0.9 * ball, "{v} vs {ball}");
    }

    #[test]
    fn flat_points_span_no_volume() {
        let pts = vec![[0, 0, 0], [2, 0, 0], [0, 2, 0], [2, 2, 0]];
        assert_eq!(hull_volume_area(&pts, [1.0; 3]), (0.0, 0.0));
    }
}
