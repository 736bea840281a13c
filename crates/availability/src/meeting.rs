//! Booking a meeting: what the assistant asks a calendar (or a mailer) to
//! create, move or cancel, and the one trait every way of sending it
//! implements ([`MeetingSender`]).
//!
//! A [`Meeting`] holds only what the assistant itself wrote: the program's
//! or the creator's title and description, the chosen time, who organises
//! and who attends. Nothing in it was ever read from anyone's calendar.

use std::fmt;

use async_trait::async_trait;

use crate::{Interval, SourceError};

/// Someone on a meeting: an address and, optionally, a display name.
/// `Debug` never prints the address.
#[derive(Clone, PartialEq, Eq)]
pub struct Person {
    /// The email address invitations go to (or come from).
    pub email: String,
    /// The name shown beside it, if any.
    pub name: Option<String>,
}

impl Person {
    /// A person by address only.
    pub fn new(email: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            name: None,
        }
    }

    /// With a display name.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Person")
            .field("email", &"[redacted]")
            .field("name", &self.name.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A meeting to send: created, moved (same `uid`, higher `sequence`) or
/// cancelled.
#[derive(Clone, PartialEq, Eq)]
pub struct Meeting {
    /// The iCalendar `UID` (RFC 5545 §3.8.4.7): the same for every version
    /// of this meeting, so a calendar updates the event it already holds.
    pub uid: String,
    /// The iCalendar `SEQUENCE` (RFC 5545 §3.8.7.4): 0 when created, one
    /// more at each reschedule or cancellation.
    pub sequence: u32,
    /// When, in UTC.
    pub interval: Interval,
    /// The IANA zone the meeting is shown in where a provider asks for
    /// one (the organiser's program's zone); the times stay UTC.
    pub time_zone: String,
    /// The program's or the creator's title.
    pub title: String,
    /// The program's or the creator's description.
    pub description: String,
    /// Who the invitation comes from (the scheduling account, or the
    /// configured sender).
    pub organiser: Person,
    /// Who is invited.
    pub attendees: Vec<Person>,
}

impl Meeting {
    /// `error` with every address of this meeting (organiser, attendees)
    /// and `also` (the account that sent it) replaced by `[address]`,
    /// whatever its case: how a sender keeps addresses a provider echoed
    /// out of the errors it returns.
    #[must_use]
    pub fn without_addresses(&self, error: SourceError, also: &str) -> SourceError {
        let mut message = error.message().to_owned();
        let addresses = [also, self.organiser.email.as_str()]
            .into_iter()
            .chain(self.attendees.iter().map(|p| p.email.as_str()));
        let mut changed = false;
        for address in addresses {
            let address = address.trim().to_ascii_lowercase();
            if address.is_empty() {
                continue;
            }
            // ASCII lowercasing keeps byte offsets.
            while let Some(at) = message.to_ascii_lowercase().find(&address) {
                message.replace_range(at..at + address.len(), "[address]");
                changed = true;
            }
        }
        if changed {
            SourceError::from_parts(error.kind(), message, error.retry_after())
        } else {
            error
        }
    }
}

impl fmt::Debug for Meeting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Meeting")
            .field("uid", &self.uid)
            .field("sequence", &self.sequence)
            .field("interval", &self.interval)
            .field("attendees", &self.attendees.len())
            .finish_non_exhaustive()
    }
}

/// What to do with a [`Meeting`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeetingChange {
    /// Create it and invite the attendees.
    Create,
    /// Move it (or change its attendees): `event` is what
    /// [`Delivered::event`] said when it was created.
    Update {
        /// The provider's id of the event, if it gave one.
        event: Option<String>,
    },
    /// Cancel it and tell the attendees.
    Cancel {
        /// The provider's id of the event, if it gave one.
        event: Option<String>,
    },
}

/// What a sender did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// Which way it went: `"email"`, `"google"`, `"graph"`.
    pub via: &'static str,
    /// The provider's id of the event (to update or cancel it later);
    /// `None` for email, where the `UID` is the only handle.
    pub event: Option<String>,
}

/// A way to put a meeting on the attendees' calendars and invite them:
/// an organisation's scheduling account (Google Calendar `events.insert`,
/// Microsoft Graph `POST /users/{id}/events`), or iTIP by email.
///
/// Implementations send exactly what the [`Meeting`] holds; errors are
/// [`SourceError`]s (a refused credential, a missing write scope, a rate
/// limit, a server failure), whose messages never carry an address or a
/// secret.
#[async_trait]
pub trait MeetingSender: fmt::Debug + Send + Sync + 'static {
    /// Which way this sender goes (the value of [`Delivered::via`]).
    fn via(&self) -> &'static str;

    /// Who its invitations come from, when the sender itself decides (an
    /// email sender's configured address); `None` when the caller names
    /// the organiser (a scheduling account's provider).
    fn organiser(&self) -> Option<Person> {
        None
    }

    /// Creates, moves or cancels `meeting` and notifies its attendees.
    ///
    /// # Errors
    /// A [`SourceError`] when it was not sent; nothing was then created.
    async fn send(
        &self,
        meeting: &Meeting,
        change: &MeetingChange,
    ) -> Result<Delivered, SourceError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_an_address_or_the_text() {
        let meeting = Meeting {
            uid: "u1".into(),
            sequence: 2,
            interval: Interval::new(0, 60).unwrap(),
            time_zone: "Europe/London".into(),
            title: "Secret title".into(),
            description: "Secret description".into(),
            organiser: Person::new("org@example.com").named("Organiser"),
            attendees: vec![Person::new("ada@example.com")],
        };
        let text = format!("{meeting:?} {:?}", meeting.organiser);
        for secret in ["org@example.com", "ada@example.com", "Secret", "Organiser"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("u1") && text.contains("sequence: 2"));
        let error = SourceError::Forbidden {
            message: "ADA@example.com and org@EXAMPLE.com may not; sched@x.org neither".into(),
        };
        let redacted = meeting.without_addresses(error, "sched@x.org");
        assert_eq!(
            redacted.message(),
            "[address] and [address] may not; [address] neither"
        );
        assert_eq!(redacted.kind(), crate::SourceErrorKind::Forbidden);
        let untouched = SourceError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(3)),
        };
        assert_eq!(
            meeting.without_addresses(untouched, "x").retry_after(),
            Some(std::time::Duration::from_secs(3))
        );
    }
}
