//! The one font every chart uses, embedded so PNG text renders on a machine
//! without system fonts (DejaVu Sans, shipped by the `dejavu` crate under its
//! free licence). Call `register()` before drawing any text with plotters.

use std::sync::Once;

/// Registers DejaVu Sans as plotters' "sans-serif" family, once per process.
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let regular = plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let bold = plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Bold,
            dejavu::sans::bold(),
        );
        // Both fonts are static, valid TTF data; failing here is a build defect.
        assert!(
            regular.is_ok() && bold.is_ok(),
            "embedded DejaVu font rejected"
        );
    });
}
