//! Exact 3D convex hull (incremental, integer orientation tests) of mesh vertices given in doubled
//! grid coordinates, and its volume and area in millimetres — for IBSI's convex-hull volume and
//! area densities (IBSI 1, 3.1.21–22). Exact integers make the predicates robust: coplanar
//! points never flip a face.

use std::collections::HashSet;

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

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Triangles (indices into `points`, outward normals) of the convex hull; empty when the points
/// span no volume.
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
    let mut faces: Vec<[usize; 3]> = if orient(points[a], points[b], points[c], points[d]) < 0 {
        vec![[a, b, c], [a, c, d], [a, d, b], [b, d, c]]
    } else {
        vec![[a, c, b], [a, d, c], [a, b, d], [b, c, d]]
    };
    // Points in a fixed pseudo-random order (multiplicative stride, coprime with n): inserted in
    // their sorted order, every new plane's points lie outside and rebuild the hull each time.
    let stride = (0.618_033_988_7 * n as f64) as usize | 1;
    let stride = (stride..n + stride).find(|s| gcd(*s, n) == 1).unwrap_or(1);
    for step in 0..n {
        let p = step * stride % n;
        if p == a || p == b || p == c || p == d {
            continue;
        }
        let q = points[p];
        let visible: Vec<bool> = faces
            .iter()
            .map(|f| orient(points[f[0]], points[f[1]], points[f[2]], q) > 0)
            .collect();
        if !visible.iter().any(|v| *v) {
            continue;
        }
        // Horizon: directed edges of visible faces whose reverse is not on a visible face.
        let mut edges: HashSet<(usize, usize)> = HashSet::new();
        for (f, _) in faces.iter().zip(&visible).filter(|(_, v)| **v) {
            for e in [(f[0], f[1]), (f[1], f[2]), (f[2], f[0])] {
                edges.insert(e);
            }
        }
        // Sorted: the faces, and so the float sums over them, come in the same order every run.
        let mut horizon: Vec<(usize, usize)> = edges
            .iter()
            .filter(|(u, v)| !edges.contains(&(*v, *u)))
            .copied()
            .collect();
        horizon.sort_unstable();
        let mut kept: Vec<[usize; 3]> = faces
            .iter()
            .zip(&visible)
            .filter(|(_, v)| !**v)
            .map(|(f, _)| *f)
            .collect();
        kept.extend(horizon.into_iter().map(|(u, v)| [u, v, p]));
        faces = kept;
    }
    faces
}

/// Volume (mm³) and area (mm²) of the convex hull of `points` (doubled grid coordinates, axis
/// order [k, j, i]) on a grid of `spacing` [k, j, i] mm; (0, 0) when they span no volume.
pub fn hull_volume_area(points: &[[i64; 3]], spacing: [f64; 3]) -> (f64, f64) {
    let faces = convex_hull(points);
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
    (volume.abs(), area)
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

    #[test]
    fn flat_points_span_no_volume() {
        let pts = vec![[0, 0, 0], [2, 0, 0], [0, 2, 0], [2, 2, 0]];
        assert_eq!(hull_volume_area(&pts, [1.0; 3]), (0.0, 0.0));
    }
}
