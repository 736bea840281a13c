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

/// Entry points for the fuzz targets in `fuzz/`; not part of the API and
/// may change at any time.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses a WebDAV multistatus body as the client does; returns the
    /// hrefs of its responses, or `None` when it is refused.
    pub fn multistatus_hrefs(body: &str) -> Option<Vec<String>> {
        crate::caldav::xml::multistatus(body)
            .ok()
            .map(|ms| ms.responses.into_iter().map(|r| r.href).collect())
    }
}
