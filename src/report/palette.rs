//! One colour per model, the same in every chart, so a reader learns the
//! legend once. Known models take theirs from the model registry (a `+gil`
//! variant is a darker shade of its native model); ids this harness does not
//! know (a file from another version) get a stable fallback.

use crate::model::registry::{self, Rgb};
use plotters::style::RGBColor;

/// For model ids the harness does not know yet; chosen by a hash of the id.
const FALLBACK: &[RGBColor] = &[
    RGBColor(0, 0, 0),
    RGBColor(255, 152, 150),
    RGBColor(90, 60, 30),
    RGBColor(0, 160, 120),
    RGBColor(100, 100, 220),
    RGBColor(220, 180, 60),
];

/// The colour of `model` in every chart.
pub fn model_colour(model: &str) -> RGBColor {
    if let Some(id) = registry::parse(model) {
        let Rgb(r, g, b) = id.colour();
        return RGBColor(r, g, b);
    }
    // FNV-1a: stable across runs and platforms, unlike std's RandomState.
    let hash = model.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    FALLBACK[(hash % FALLBACK.len() as u64) as usize]
}

/// `#rrggbb`, for HTML swatches.
pub fn hex(colour: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", colour.0, colour.1, colour.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_models_get_a_stable_colour() {
        assert_eq!(model_colour("green-threads"), model_colour("green-threads"));
        assert_eq!(hex(model_colour("thread")), "#1f77b4");
    }
}
