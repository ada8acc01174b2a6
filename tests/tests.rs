//! tilerun's integration tests: one binary, the real `tilerun` executable,
//! real files, GDAL and GDAL's own tools as oracles.

mod util;

mod bad_input;
mod bitmask;
mod corpus;
mod deliveries;
mod habits;
mod hostile;
mod inputs;
mod layout;
mod oneshot;
mod publish;
mod queue;
mod sets;
mod signals;
mod terrain;
mod watch;
