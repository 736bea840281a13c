#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use crate::ics::{DEFAULT_MAX_FILE_BYTES, IcsError, IcsSource};

pub mod ical;
mod ics;
