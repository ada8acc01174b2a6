//! tilerun: windowed, parallel raster processing over GDAL.
//!
//! Folders by stage; imports run one way (checked by `tests/layout.rs`):
//!
//! ```text
//! main ─▶ cli ─▶ {watch, queue} ─▶ plan ─▶ engine ─▶ {input, ops, sink, remote} ─▶ gdal
//!                  └──────────────▶ config (read by cli, watch, queue and plan)
//! ```
//! `queue` is the PostgreSQL job queue (`watch` hands files to it when
//! configured), `remote` is S3. `error`, `window` and `metrics` are leaves
//! every stage may use. See the README's
//! architecture map for what flows between the stages.

pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod gdal;
pub mod input;
pub mod metrics;
pub mod ops;
pub mod plan;
pub mod queue;
pub mod remote;
pub mod sink;
pub mod watch;
pub mod window;
