//! Integration tests: one binary, one module per topic.
#![allow(unreachable_pub)]

mod common;

mod adversarial;
mod argv0;
mod cli;
#[cfg(target_os = "linux")]
mod containers;
mod faults;
mod generated;
mod inuse;
mod numbers;
mod preflight;
mod ps;
mod reaping;
mod safety;
mod scale;
mod waiting;
