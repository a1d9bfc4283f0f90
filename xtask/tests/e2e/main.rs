//! The end-to-end tests of the tooling, in one test binary: the named builds
//! (`common/builds.rs`) are built at most once per run and shared by every test that names them,
//! and a long build (the app's dist profile) runs beside the other areas' tests instead of
//! before them. `cargo test -p xtask --test e2e delivery::` runs one area.

#[path = "../common/mod.rs"]
mod common;

mod cross;
mod delivery;
mod dist;
mod fan_out;
mod gitlab;
mod publish;
mod release;
mod trust;
