//! `pin` finds container image references in a repository and pins them to the
//! digest their tag points to now, changing no other byte of the file.
//!
//! The pipeline runs one way: [`discover`] files → [`extract`] references with byte
//! spans → resolve tags to digests (the `pin-registry` crate) → [`rewrite`] by splicing spans → [`report`].
//! [`pipeline`] strings the stages together and [`cli`] wires them to the command line.
#![deny(missing_docs)]

pub mod airlock;
pub mod cli;
pub mod config;
pub mod decide;
pub mod discover;
pub mod extract;
pub mod files;
pub mod outcome;
pub mod pipeline;
pub mod policy;
pub mod report;
pub mod rewrite;
pub mod source;
pub mod trust;
pub mod verify;

/// The image reference grammar and digests, from the registry client.
pub use pin_registry::reference;
