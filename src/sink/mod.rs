//! Everything that makes an output file: its spec and creation options,
//! the GTiff skeleton, blocks encoded by the workers, the assembled COG and
//! its overview pyramid, and temp file + fsync + rename.
//!
//! A new output kind starts in `spec` (a `Format`) and gets its own module
//! here; the engine's writer only calls into this folder.

pub mod cog;
pub mod convert;
pub mod copy;
pub mod create;
pub mod encode;
pub mod format;
pub mod options;
pub mod overviews;
pub mod pyramid;
pub mod spec;
pub mod temp_file;
