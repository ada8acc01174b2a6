//! From a request (flags, a recipe, or a daemon rule) to a runnable job:
//! `check` refuses a broken recipe before any input exists,
//! `recipe` resolves flags over recipe over config into a `JobSpec`
//! (no GDAL), `prepare` opens the input once and settles everything that
//! can be refused before an output exists (the output file's part in
//! `output`), `stats` runs whole-raster passes.

pub mod check;
pub mod inputs;
mod output;
pub mod prepare;
pub mod recipe;
pub mod request;
pub mod stats;

pub use request::Request;
