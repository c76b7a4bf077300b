//! One module per Azure resource: where it lives, its PUT body and its outputs (most through
//! [`ArmResource`](crate::arm_ops::ArmResource)), plus the service actions users need after
//! `up` (secrets, pull credentials, cluster credentials).

pub mod cluster;
pub mod dns;
pub mod endpoint;
pub mod group;
pub mod identity;
pub mod nat;
pub mod network;
pub mod postgres;
pub mod redis;
pub mod registry;
pub mod role;
pub mod secret;
pub mod vault;
