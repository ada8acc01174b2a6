//! tilerun: windowed, parallel raster processing over GDAL.
//!
//! The library holds the engine and its stages; `main.rs` is a thin CLI.
//! One module per stage: `cli` → `config`/`recipe` → `prepare` → `engine`
//! (`window` → `worker` → `writer`, via `tiles`, `create`, `output`; COG
//! output via `pyramid` and `cog`).

pub mod blocks;
pub mod cli;
pub mod cog;
pub mod config;
pub mod convert;
pub mod create;
pub mod encode;
pub mod engine;
pub mod error;
pub mod expr;
pub mod gdalenv;
pub mod input;
pub mod job;
pub mod logging;
pub mod oneshot;
pub mod ops;
pub mod options;
pub mod output;
pub mod overviews;
pub mod prepare;
pub mod pyramid;
pub mod rasterio;
pub mod rawtiff;
pub mod recipe;
pub mod shutdown;
pub mod stats;
pub mod tiffcheck;
pub mod tiles;
pub mod watch;
pub mod window;
pub mod worker;
pub mod writer;
