//! The `multicloud` binary run as a user runs it: exit codes, every spec error, JSON
//! output, `up` / `outputs` / `down` on the local stand-ins (moto, the Azure emulator),
//! Ctrl-C, the state lock, and no secret value in what it prints.

mod apps;
mod local;
mod secrets;
mod signals;
mod spec_errors;
mod support;
