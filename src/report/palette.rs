//! One colour per model id, the same in every chart, so a reader learns the
//! legend once. Known models get hand-picked colours (a `+gil` variant is a
//! darker shade of its native model); unknown ids get a stable fallback.

use plotters::style::RGBColor;

/// Hand-picked so that neighbours in a legend differ in hue or lightness.
const KNOWN: &[(&str, RGBColor)] = &[
    ("sequential", RGBColor(110, 110, 110)),
    ("thread", RGBColor(31, 119, 180)),
    ("thread-pool", RGBColor(23, 190, 207)),
    ("process", RGBColor(255, 127, 14)),
    ("process-pool", RGBColor(214, 39, 40)),
    ("rayon", RGBColor(44, 160, 44)),
    ("async", RGBColor(148, 103, 189)),
    ("async-single", RGBColor(227, 119, 194)),
    ("thread+gil", RGBColor(12, 48, 110)),
    ("thread-pool+gil", RGBColor(0, 110, 120)),
    ("process-pool+gil", RGBColor(120, 16, 16)),
    ("cpython-thread", RGBColor(188, 189, 34)),
    ("cpython-thread-pool", RGBColor(140, 86, 75)),
    ("cpython-process", RGBColor(204, 150, 0)),
    ("cpython-process-pool", RGBColor(150, 0, 150)),
    ("cpython-asyncio", RGBColor(96, 140, 0)),
];

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
    if let Some((_, colour)) = KNOWN.iter().find(|(id, _)| *id == model) {
        return *colour;
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
    fn known_models_have_distinct_colours() {
        for (i, (a, ca)) in KNOWN.iter().enumerate() {
            for (b, cb) in &KNOWN[i + 1..] {
                let distance = (i32::from(ca.0) - i32::from(cb.0)).abs()
                    + (i32::from(ca.1) - i32::from(cb.1)).abs()
                    + (i32::from(ca.2) - i32::from(cb.2)).abs();
                assert!(distance > 60, "{a} and {b} look alike");
            }
        }
    }

    #[test]
    fn unknown_models_get_a_stable_colour() {
        assert_eq!(model_colour("green-threads"), model_colour("green-threads"));
        assert_eq!(hex(model_colour("thread")), "#1f77b4");
    }
}
