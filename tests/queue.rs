//! The shared job queue: real PostgreSQL clusters started per test, the
//! real `tilerun worker` processes, real signals. What is checked is the
//! promise of the issue: no job lost or done twice when a worker dies,
//! hangs or loses its database; operators can see and steer the queue.

mod harness;
mod pg;

mod admin;
mod handover;
mod kill;
mod metrics;
mod outage;
mod s3;
mod s3_abort;
mod s3_folder;
mod s3_outage;
mod s3_tls;
mod sets;
mod tls;
mod watch;
