//! Inputs and outputs that are not local files: `s3://bucket/key`.
//!
//! An S3 input is streamed through GDAL's `/vsis3/` into a local scratch
//! file before the job opens it, so every input check (driver allow-list,
//! limits, the TIFF block table, truncation) runs on it exactly as on a
//! local file, and the windows are read from local disk rather than by one
//! HTTP range request each. An S3 output is written locally and uploaded at
//! the commit. Only URIs tilerun parsed itself become `/vsis3/` paths: the
//! input stage still refuses any `/vsi…` path it is given.

pub mod client;
pub mod parts;
pub mod s3;
