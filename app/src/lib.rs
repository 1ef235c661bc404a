//! meshdesk as a library: the desktop GUI and what it shares with the
//! binary, so the GUI's tests and benchmarks can drive it.

pub mod charts;
pub mod data_dir;
pub mod dates;
pub mod gateway;
pub mod gui;
