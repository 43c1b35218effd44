//! The pure parts of Marathon as a library, so the fuzz targets (`tests/fuzz-targets`) can drive the app
//! model's parsing and validation; the binary uses the same module.

pub mod app;
