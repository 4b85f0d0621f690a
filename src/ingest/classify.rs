//! Series classification: modality and, for MR, the kind (T2, T1, DWI, ADC) from
//! ScanningSequence, DiffusionBValue, ImageType and echo/repetition times, with SeriesDescription
//! only as a fallback.

use serde::Serialize;

use super::header::FileRecord;

/// What kind of series this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum SeriesKind {
    Pet,
    Ct,
    T1,
    T2,
    Dwi,
    Adc,
    Mr,
    Seg,
    Rtstruct,
    Other,
}

impl SeriesKind {
    /// Lower-case name used in file names and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            SeriesKind::Pet => "pet",
            SeriesKind::Ct => "ct",
            SeriesKind::T1 => "t1",
            SeriesKind::T2 => "t2",
            SeriesKind::Dwi => "dwi",
            SeriesKind::Adc => "adc",
            SeriesKind::Mr => "mr",
            SeriesKind::Seg => "seg",
            SeriesKind::Rtstruct => "rtstruct",
            SeriesKind::Other => "other",
        }
    }
}

/// Classify a series from its files' headers. Also tells whether the description was needed.
pub fn classify(files: &[&FileRecord]) -> (SeriesKind, bool) {
    let Some(first) = files.first() else {
        return (SeriesKind::Other, false);
    };
    match &*first.modality {
        "PT" => return (SeriesKind::Pet, false),
        "CT" => return (SeriesKind::Ct, false),
        "SEG" => return (SeriesKind::Seg, false),
        "RTSTRUCT" => return (SeriesKind::Rtstruct, false),
        "MR" => {}
        _ => return (SeriesKind::Other, false),
    }
    // A localizer (ImageType LOCALIZER, or GE's 3-plane series) has a short TE and TR like a
    // T1 series, and is none: a plain MR series.
    if files.iter().any(|f| f.localizer) {
        return (SeriesKind::Mr, false);
    }
    let image_type: Vec<&str> = first.image_type.iter().map(String::as_str).collect();
    if image_type
        .iter()
        .any(|t| *t == "ADC" || *t == "ADC_UNSPECIFIED" || *t == "APPARENT_DIFFUSION")
    {
        return (SeriesKind::Adc, false);
    }
    let b_values: Vec<f64> = files
        .iter()
        .flat_map(|f| f.images.iter().filter_map(|i| i.b_value))
        .collect();
    let distinct_b = {
        let mut b: Vec<i64> = b_values.iter().map(|x| x.round() as i64).collect();
        b.sort();
        b.dedup();
        b.len()
    };
    let desc = first.series_description.to_ascii_lowercase();
    if distinct_b > 1
        || b_values.iter().any(|b| *b > 0.0)
        || image_type
            .iter()
            .any(|t| *t == "DIFFUSION" || *t == "TRACEW")
    {
        // A map computed from a diffusion series, with no b-value: fractional anisotropy, the
        // exponential ADC (Siemens' FA, EXP; GE's and others' EADC), a tensor or colour FA map.
        // Not diffusion-weighted: no ADC is fitted from it, nothing measured on it (before the
        // ADC rule: an exponential ADC is described "Exponential Apparent Diffusion ...").
        if b_values.is_empty()
            && image_type.contains(&"DERIVED")
            && diffusion_map(&image_type, &desc)
        {
            return (SeriesKind::Mr, false);
        }
        // A derived diffusion series without a b-value in any image, described as an ADC map:
        // an ADC whose ImageType lost its ADC value (a legacy converted enhanced image: highdicom
        // writes NONE as the fourth value, Derived Pixel Contrast, PS3.3 C.8.16.1.4).
        if b_values.is_empty() && image_type.contains(&"DERIVED") && describes_adc(&desc) {
            return (SeriesKind::Adc, true);
        }
        return (SeriesKind::Dwi, false);
    }
    // A derived image described as an ADC map, whose ImageType does not say ADC (a re-exported
    // map, `DERIVED\SECONDARY`): an ADC, whatever its TE and TR, which are its source DWI's (the
    // rule below made it a T2). A derived diffusion map (FA, exponential ADC) is neither an ADC
    // nor a T2: plain MR.
    if image_type.contains(&"DERIVED") && diffusion_map(&image_type, &desc) {
        return (SeriesKind::Mr, true);
    }
    if image_type.contains(&"DERIVED") && describes_adc(&desc) {
        return (SeriesKind::Adc, true);
    }
    let seq = &*first.scanning_sequence;
    if let (Some(te), Some(tr)) = (first.echo_time, first.repetition_time) {
        if !seq.contains("IR") || te >= 60.0 {
            if te >= 60.0 && tr >= 1000.0 {
                return (SeriesKind::T2, false);
            }
            if te < 30.0 && tr < 1000.0 {
                return (SeriesKind::T1, false);
            }
        }
    } else if let Some(te) = first.echo_time {
        if seq.contains("SE") && te >= 60.0 {
            return (SeriesKind::T2, false);
        }
    }
    let kind = if describes_adc(&desc) {
        SeriesKind::Adc
    } else if desc.contains("dwi") || desc.contains("diff") || desc.contains("ep2d_d") {
        SeriesKind::Dwi
    } else if desc.contains("t2") {
        SeriesKind::T2
    } else if desc.contains("t1") {
        SeriesKind::T1
    } else {
        return (SeriesKind::Mr, false);
    };
    (kind, true)
}

/// ImageType values (the fourth, PS3.3 C.8.13.1.1.1, or a maker's own) of maps computed from a
/// diffusion series that are not diffusion-weighted images.
const DIFFUSION_MAPS: [&str; 6] = ["FA", "EXP", "EADC", "EXP_ADC", "COLFA", "TENSOR"];

/// Whether ImageType or the (lower-case) description names a map computed from a diffusion
/// series that is no ADC: FA, the exponential ADC (exp(-b·ADC): "eADC", "exponential").
fn diffusion_map(image_type: &[&str], desc: &str) -> bool {
    image_type.iter().any(|t| DIFFUSION_MAPS.contains(t))
        || desc.contains("exponential")
        || desc.contains("eadc")
        || desc.contains("fractional anisotropy")
}

/// Whether a (lower-case) SeriesDescription names an ADC map: "adc" at the start of a word
/// ("ep2d_diff_ADC", "ADC map"), not inside one ("eADC", the exponential ADC; "headcoil"), or
/// "apparent diffusion".
fn describes_adc(desc: &str) -> bool {
    desc.contains("apparent diffusion")
        || desc.match_indices("adc").any(|(at, _)| {
            !desc[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphabetic())
        })
}

#[cfg(test)]
mod tests {
    use super::describes_adc;

    #[test]
    fn adc_is_named_at_the_start_of_a_word_only() {
        for yes in [
            "ep2d_diff_adc",
            "adc map",
            "adc",
            "dwi (adc)",
            "ep2d_diff_3scan_trace_adc",
            "apparent diffusion coefficient (mm2/s)",
        ] {
            assert!(describes_adc(yes), "{yes}");
        }
        for no in ["ep2d_diff_eadc", "headcoil t2", "t2_haste", ""] {
            assert!(!describes_adc(no), "{no}");
        }
    }
}
