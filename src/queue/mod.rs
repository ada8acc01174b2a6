//! The shared job queue in PostgreSQL: many `tilerun worker`s on many
//! hosts take jobs from one table, and lose or repeat none when a host
//! dies, hangs or loses the network.
//!
//! Why PostgreSQL and not a broker of our own: operators already run and
//! trust it, and it has what a queue needs: row locks with `SKIP LOCKED`
//! (claims that never wait on each other), transactions (the commit checks
//! the lease and records the result at once), LISTEN/NOTIFY (idle workers
//! wake at once) and advisory locks (schema migrations by whoever starts
//! first).
//!
//! Module map: `db` (URL, redaction, connect, error kinds, outages),
//! `schema` (versioned tables), `jobs` (every statement), `stage` (staged
//! outputs and their placing), `run` (one job on the engine), `heartbeat`
//! (lease renewal), `worker` (the loop), `store` (pausing claims while an
//! object store is down), `uploads` (aborting those a killed run left
//! open), `admin` (submit, requeue,
//! cancel), `status`.

pub mod admin;
pub mod db;
pub mod group;
pub mod heartbeat;
pub mod jobs;
pub mod run;
pub mod schema;
pub mod stage;
pub mod status;
pub mod store;
pub mod tls;
pub mod uploads;
pub mod worker;

pub use db::Db;
