//! `pin` finds container image references in a repository and pins them to the
//! digest their tag points to now, changing no other byte of the file.
//!
//! The pipeline runs one way: [`discover`] files → [`extract`] references with byte
//! spans → [`resolve`] tags to digests → [`rewrite`] by splicing spans → [`report`].
#![deny(missing_docs)]

pub mod extract;
pub mod reference;
pub mod resolve;
pub mod source;
