//! One submodule per kind of the app: how its object is built, what it reports, when it is
//! ready. The shared lifecycle is in [`crate::object`].

pub mod connection;
pub mod deployment;
pub mod external_secrets;
pub mod manifest;
pub mod namespace;
pub mod pull_secret;
pub mod service;
pub mod service_account;
pub mod synced_secret;
