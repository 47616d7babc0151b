//! Integration tests: one binary, one module per topic.
#![allow(unreachable_pub)]

mod common;

mod adversarial;
#[cfg(target_os = "linux")]
mod argv0;
mod cli;
#[cfg(target_os = "linux")]
mod containers;
#[cfg(target_os = "linux")]
mod daemon;
mod exec_path;
mod faults;
mod generated;
mod habits;
mod homes;
mod inuse;
mod numbers;
#[cfg(target_os = "linux")]
mod pipeline;
mod preflight;
#[cfg(target_os = "linux")]
mod proofs;
mod ps;
mod reaping;
mod safety;
#[cfg(target_os = "linux")]
mod sandboxes;
mod scale;
#[cfg(target_os = "linux")]
mod serving;
#[cfg(target_os = "linux")]
mod trust;
mod waiting;
