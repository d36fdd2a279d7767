//! `hush run`: the environment it gives a command (the full command follows).

pub mod env;
