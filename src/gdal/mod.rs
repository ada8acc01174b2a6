//! Everything that talks to GDAL or libtiff through raw pointers: process
//! set-up (`env`), band-sequential RasterIO, and libtiff's raw-block calls.
//! Keeping the `unsafe` here lets every other stage stay safe Rust.

pub mod env;
pub mod ffi;
pub mod libtiff;
pub mod rasterio;
pub mod vsi;
