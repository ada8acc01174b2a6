//! tilerun's integration tests: one binary, the real `tilerun` executable,
//! real files, GDAL and GDAL's own tools as oracles.

mod util;

mod bad_input;
mod corpus;
mod hostile;
mod layout;
mod oneshot;
mod publish;
mod queue;
mod signals;
mod terrain;
mod watch;
