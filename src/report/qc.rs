//! QC images for the report (PNG via the `image` crate): a coronal maximum-intensity projection
//! of the SUVbw PET with the tumour ROI outlined, and the axial T2 slice through the tumour centre
//! with the ROI outlined.

use image::{Rgb, RgbImage};
use ndarray::Array2;

use crate::volume::Volume;

/// A 2D grey image (rows top to bottom) and a mask on it.
pub struct Picture {
    pub grey: Array2<f32>,
    pub mask: Array2<bool>,
}

/// Coronal MIP (max over rows j) of `image` with the projection of `mask` (label `label`);
/// superior at the top.
pub fn coronal_mip(image: &Volume, labels: &ndarray::Array3<u32>, label: u32) -> Picture {
    let [nk, nj, ni] = image.dims();
    let mut grey = Array2::<f32>::zeros((nk, ni));
    let mut mask = Array2::<bool>::from_elem((nk, ni), false);
    // Row by row in memory order (a column walk strides across the whole slice per voxel).
    let mut m = vec![f32::MIN; ni];
    let mut inside = vec![false; ni];
    for k in 0..nk {
        m.fill(f32::MIN);
        inside.fill(false);
        for j in 0..nj {
            let values = image.data.slice(ndarray::s![k, j, ..]);
            let row_labels = labels.slice(ndarray::s![k, j, ..]);
            for (i, (v, l)) in values.iter().zip(row_labels.iter()).enumerate() {
                m[i] = m[i].max(*v);
                inside[i] |= *l == label;
            }
        }
        // Slices ascend along the normal (inferior → superior for axial): flip for display.
        for i in 0..ni {
            grey[[nk - 1 - k, i]] = m[i];
            mask[[nk - 1 - k, i]] = inside[i];
        }
    }
    Picture { grey, mask }
}

/// The slice through the centroid of `label` (axial for an axial series).
pub fn slice_through(image: &Volume, labels: &ndarray::Array3<u32>, label: u32) -> Option<Picture> {
    let [nk, nj, ni] = image.dims();
    let (mut sum, mut n) = (0usize, 0usize);
    for ((k, _, _), l) in labels.indexed_iter() {
        if *l == label {
            sum += k;
            n += 1;
        }
    }
    if n == 0 {
        return None;
    }
    let k = (sum / n).min(nk - 1);
    let mut grey = Array2::<f32>::zeros((nj, ni));
    let mut mask = Array2::<bool>::from_elem((nj, ni), false);
    for j in 0..nj {
        for i in 0..ni {
            grey[[j, i]] = image.data[[k, j, i]];
            mask[[j, i]] = labels[[k, j, i]] == label;
        }
    }
    Some(Picture { grey, mask })
}

/// Render to PNG bytes: grey scaled to [lo, hi] (`invert` for PET's black-on-white), the mask's
/// boundary in red, each pixel drawn `scale` × `scale`.
pub fn png(p: &Picture, lo: f32, hi: f32, invert: bool, scale: u32) -> Vec<u8> {
    let (h, w) = p.grey.dim();
    let mut img = RgbImage::new(w as u32 * scale, h as u32 * scale);
    let edge = |r: usize, c: usize| {
        p.mask[[r, c]]
            && (r == 0
                || c == 0
                || r + 1 == h
                || c + 1 == w
                || !p.mask[[r - 1, c]]
                || !p.mask[[r + 1, c]]
                || !p.mask[[r, c - 1]]
                || !p.mask[[r, c + 1]])
    };
    for r in 0..h {
        for c in 0..w {
            let t = ((p.grey[[r, c]] - lo) / (hi - lo).max(1e-6)).clamp(0.0, 1.0);
            let g = if invert { 255.0 * (1.0 - t) } else { 255.0 * t } as u8;
            let px = if edge(r, c) {
                Rgb([230, 30, 30])
            } else {
                Rgb([g, g, g])
            };
            for dy in 0..scale {
                for dx in 0..scale {
                    img.put_pixel(c as u32 * scale + dx, r as u32 * scale + dy, px);
                }
            }
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

/// Standard base64 (RFC 4648, with padding) for data URIs.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use crate::volume::{Geometry, Volume};
    use ndarray::Array3;

    #[test]
    fn coronal_mip_takes_each_columns_maximum_over_rows_and_flips_slices() {
        // Values made from their index, so every (k, i) has its own maximum, at a row that
        // changes with k and i; the label at one voxel only.
        let (nk, nj, ni) = (3, 4, 5);
        let data = Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| {
            let peak_row = (k + i) % nj;
            if j == peak_row {
                (100 * k + i) as f32
            } else {
                -(j as f32)
            }
        });
        let image = Volume {
            data,
            geometry: Geometry::axial([0.0; 3], [1.0; 3]),
        };
        let mut labels = Array3::<u32>::zeros((nk, nj, ni));
        labels[[0, 2, 3]] = 7;
        labels[[1, 1, 1]] = 6;
        let pic = super::coronal_mip(&image, &labels, 7);
        assert_eq!(pic.grey.dim(), (nk, ni));
        for k in 0..nk {
            for i in 0..ni {
                assert_eq!(
                    pic.grey[[nk - 1 - k, i]],
                    (100 * k + i) as f32,
                    "k {k} i {i}"
                );
                assert_eq!(pic.mask[[nk - 1 - k, i]], k == 0 && i == 3, "k {k} i {i}");
            }
        }
    }

    #[test]
    fn base64_rfc4648_vectors() {
        // RFC 4648 section 10 test vectors.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(i.as_bytes()), o);
        }
    }
}
