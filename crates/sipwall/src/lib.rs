//! The parts of the `sipwall` binary that other crates use: the control
//! protocol, read by the daemon and its fuzz target.

pub mod control;
