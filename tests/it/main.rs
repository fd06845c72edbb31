//! The one integration test binary; each area of parabench is a module.

mod report;
