//! The texture discretisation's bin width (IBSI 1, 2.7.1 fixed bin size), one for every image or
//! one per image kind: a width in SUV (0.25) means thousands of grey levels on a T2 or ADC map,
//! so a study sets each kind's own (`[rois] texture_bin_width = { suvbw = 0.25, adc = 50 }`);
//! a kind left out gets no texture features. The same shape serves the bins' fixed lower bound
//! (`[rois] texture_min = { suvbw = 0 }`: IBSI's fixed bin size from a set minimum).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Bin width(s) in image units.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BinWidth {
    /// The same width for every image.
    Every(f64),
    /// A width per image kind (keys from [`BinWidth::KINDS`]).
    PerKind(BTreeMap<String, f64>),
}

impl BinWidth {
    /// The image kinds a width can be given for: PET in SUVbw, T2, ADC (the scanner's or fitted).
    pub const KINDS: [&'static str; 3] = ["suvbw", "t2", "adc"];

    /// The width for an image named `image` (`suvbw`, `t2`, `adc`, `adc_fit`, ...), if any.
    pub fn for_image(&self, image: &str) -> Option<f64> {
        match self {
            BinWidth::Every(w) => Some(*w),
            BinWidth::PerKind(m) => {
                let kind = if image == "adc_fit" { "adc" } else { image };
                m.get(kind).copied()
            }
        }
    }

    /// Every width given.
    pub fn widths(&self) -> Vec<f64> {
        match self {
            BinWidth::Every(w) => vec![*w],
            BinWidth::PerKind(m) => m.values().copied().collect(),
        }
    }
}

impl<'de> Deserialize<'de> for BinWidth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Expect;
        impl<'de> Visitor<'de> for Expect {
            type Value = BinWidth;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a number, or a table of numbers by image kind ({})",
                    BinWidth::KINDS.join(", ")
                )
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<BinWidth, E> {
                Ok(BinWidth::Every(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<BinWidth, E> {
                Ok(BinWidth::Every(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<BinWidth, E> {
                Ok(BinWidth::Every(v as f64))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<BinWidth, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((kind, w)) = m.next_entry::<String, f64>()? {
                    if !BinWidth::KINDS.contains(&kind.as_str()) {
                        return Err(de::Error::custom(format!(
                            "unknown image kind {kind:?}, expected one of {}",
                            BinWidth::KINDS.join(", ")
                        )));
                    }
                    out.insert(kind, w);
                }
                Ok(BinWidth::PerKind(out))
            }
        }
        d.deserialize_any(Expect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Rois {
        texture_bin_width: BinWidth,
    }

    fn parse(text: &str) -> Result<BinWidth, String> {
        toml::from_str::<Rois>(text)
            .map(|r| r.texture_bin_width)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn one_width_for_every_image_or_one_per_kind() {
        let every = parse("texture_bin_width = 0.25").unwrap();
        assert_eq!(every.for_image("t2"), Some(0.25));
        assert_eq!(
            parse("texture_bin_width = 25").unwrap().for_image("adc"),
            Some(25.0)
        );
        let per = parse("texture_bin_width = { suvbw = 0.25, adc = 50 }").unwrap();
        assert_eq!(per.for_image("suvbw"), Some(0.25));
        assert_eq!(per.for_image("adc"), Some(50.0));
        assert_eq!(per.for_image("adc_fit"), Some(50.0));
        assert_eq!(per.for_image("t2"), None);
        assert_eq!(per.widths(), vec![50.0, 0.25]);
    }

    #[test]
    fn an_unknown_kind_or_a_text_is_refused() {
        let e = parse("texture_bin_width = { suv = 0.25 }").unwrap_err();
        assert!(
            e.contains("unknown image kind \"suv\"") && e.contains("suvbw, t2, adc"),
            "{e}"
        );
        let e = parse("texture_bin_width = \"0.25\"").unwrap_err();
        assert!(
            e.contains("a number, or a table of numbers by image kind"),
            "{e}"
        );
    }
}
