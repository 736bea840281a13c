#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use crate::{
    clock::{Clock, FixedClock, SystemClock},
    coverage::{Counts, Coverage, CoverageSegment},
    interval::{Interval, IntervalError},
    kind::{BusyEntry, BusyKind, FreeBusy, KindSet, UnknownKind},
    meeting::{Delivered, Meeting, MeetingChange, MeetingSender, Person},
    memory::MemorySource,
    set::IntervalSet,
    slots::{Slot, SlotError, SlotQuery, find_slots},
    source::{
        AccountFreeBusy, AccountId, Capabilities, ErrorSource, FreeBusyRequest, FreeBusyResponse,
        FreeBusySource, FreeBusySourceExt, SourceError, SourceErrorKind,
    },
    token::{AccessToken, ConnectedAccount, RetryConfig, StaticToken, TokenSource, batch_by_token},
    windows_zones::windows_zone_to_iana,
};

mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
mod coverage;
mod interval;
mod kind;
mod meeting;
mod memory;
mod radix;
mod set;
mod slots;
mod source;
mod token;
mod windows_zones;
