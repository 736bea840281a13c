#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use crate::caldav::{
    BuildError, CalDavConfig, CalDavLogin, CalDavLogins, CalDavReport, CalDavSource, CalendarInfo,
    Password, ResourceProblem, ResourceProblemKind, StaticLogins, Strategy,
};
pub use crate::ics::{DEFAULT_MAX_FILE_BYTES, IcsError, IcsSource};

mod caldav;
pub mod ical;
mod ics;
