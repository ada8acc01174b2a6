//! `tilerun watch`, the drop-folder daemon: the real process, real files,
//! real signals and a real systemd notification socket. What is checked is
//! the promise of the issue: no file is lost, repeated or half-written,
//! whatever arrives how, and whatever kills the daemon when.

pub mod harness;
mod notify;

mod crash;
mod failures;
mod hostile;
mod lifecycle;
mod sets;
mod startup;
mod systemd;
