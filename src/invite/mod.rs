//! Sending booked meetings: iTIP by email (`smtp`, over `lettre`, the
//! `.ics` written by `icalendar` in `itip`). The organisation's scheduling
//! accounts send through their providers (`org-wide-auth`); both implement
//! [`availability::MeetingSender`].

mod itip;
mod smtp;

pub use smtp::{EmailInvitations, SmtpError, SmtpSecurity, SmtpSettings};
