#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use crate::{
    hours::{Day, HoursRange, ParticipantHours},
    policy::{PolicyError, PolicyLayer, ProgramPolicy},
    values::{
        HoursIn, PolicyDuration, Provider, Providers, TimeOfDay, Weekdays, Zone, day_name,
        parse_day,
    },
};
/// Re-exported so callers can name days without depending on jiff.
pub use jiff::civil::Weekday;

mod bookable;
mod hours;
mod policy;
mod values;
