//! The assistant's records: programs, participants, pairs, groups,
//! connections, and who is acting.

use std::fmt;

use policy_rules::Provider;
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id (your service's own identifier).
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

id_type!(
    /// A program (track): its own policy, participants, pairs and groups.
    ProgramId
);
id_type!(
    /// A participant: one person, in one or more programs.
    ParticipantId
);
id_type!(
    /// A mentoring connection between two participants.
    PairId
);
id_type!(
    /// A group (circle) of participants.
    GroupId
);
id_type!(
    /// A stored poll (assigned by the assistant).
    PollId
);
id_type!(
    /// A booked meeting (assigned by the assistant).
    BookingId
);

/// An invitee's answer for one proposed slot of a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    /// They can come.
    Yes,
    /// They can come if no other slot suits.
    IfNeedBe,
    /// They cannot come.
    No,
}

impl Vote {
    /// The stored spelling (also the JSON one).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::IfNeedBe => "if_need_be",
            Self::No => "no",
        }
    }

    /// Reads [`as_str`](Self::as_str)'s spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "yes" => Some(Self::Yes),
            "if_need_be" => Some(Self::IfNeedBe),
            "no" => Some(Self::No),
            _ => None,
        }
    }
}

/// Where a poll stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PollStatus {
    /// Invitees may answer.
    Open,
    /// No more answers (closed by its creator, or its deadline passed);
    /// a slot may still be booked.
    Closed,
    /// A slot was booked.
    Booked,
    /// Its creator cancelled it (or cancelled its booking).
    Cancelled,
}

impl PollStatus {
    /// The stored spelling (also the JSON one).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Booked => "booked",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads [`as_str`](Self::as_str)'s spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            "booked" => Some(Self::Booked),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

impl fmt::Display for PollStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who created a poll or booked a meeting: a participant (themselves, or
/// an administrator on their behalf) or an administrator for themselves.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Creator {
    /// A participant.
    Participant(ParticipantId),
    /// An administrator, by your service's id for them.
    Administrator(String),
}

impl Creator {
    /// The creator an actor stands for: the participant they act as, or
    /// the administrator themselves.
    pub fn of(actor: &Actor) -> Self {
        match actor {
            Actor::Participant(p) => Self::Participant(p.clone()),
            Actor::Administrator {
                admin,
                on_behalf_of,
            }
            | Actor::ProgramAdministrator {
                admin,
                on_behalf_of,
                ..
            } => match on_behalf_of {
                Some(p) => Self::Participant(p.clone()),
                None => Self::Administrator(admin.clone()),
            },
        }
    }

    /// The stored spelling: `participant:ID` or `admin:ID`.
    pub(crate) fn to_text(&self) -> String {
        match self {
            Self::Participant(p) => format!("participant:{p}"),
            Self::Administrator(a) => format!("admin:{a}"),
        }
    }

    /// Reads [`to_text`](Self::to_text)'s spelling.
    pub(crate) fn from_text(text: &str) -> Option<Self> {
        if let Some(p) = text.strip_prefix("participant:") {
            return Some(Self::Participant(ParticipantId::new(p)));
        }
        text.strip_prefix("admin:")
            .map(|a| Self::Administrator(a.to_owned()))
    }
}

/// A program (track). Its policy is a TOML layer over the organisation's
/// (the keys of DESIGN.md's policy file, plus `group_polls` and
/// `scheduling_assistant`), kept as written so it round-trips through
/// storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// Its id.
    pub id: ProgramId,
    /// Its name, for people.
    pub name: String,
    /// The program's policy overrides, in TOML (empty: the organisation's).
    pub policy_toml: String,
}

impl Program {
    /// A program with the organisation's policy.
    pub fn new(id: impl Into<ProgramId>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            policy_toml: String::new(),
        }
    }

    /// The same, with policy overrides in TOML (checked when added).
    #[must_use]
    pub fn with_policy_toml(mut self, toml: impl Into<String>) -> Self {
        self.policy_toml = toml.into();
        self
    }
}

/// A participant. Their one calendar serves every program they are in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// Their id.
    pub id: ParticipantId,
    /// Their email: how providers and organisation integrations address
    /// their calendar. Unique among participants (compared ignoring case).
    pub email: String,
    /// Their IANA time zone (all-day and floating times in their calendar
    /// are read in it; views may be shown in it).
    pub time_zone: String,
    /// Their name, for people.
    pub name: String,
}

impl Participant {
    /// A participant in `time_zone` (an IANA name, checked when added).
    pub fn new(
        id: impl Into<ParticipantId>,
        name: impl Into<String>,
        email: impl Into<String>,
        time_zone: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            email: email.into(),
            time_zone: time_zone.into(),
        }
    }
}

/// A mentoring connection: two participants of one program who may see each
/// other's availability and schedule 1:1 meetings under its policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// Its id.
    pub id: PairId,
    /// The program whose policy applies.
    pub program: ProgramId,
    /// The mentor.
    pub mentor: ParticipantId,
    /// The mentee.
    pub mentee: ParticipantId,
}

/// A group (circle): participants of one program who may see each other's
/// availability and be invited to its polls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Its id.
    pub id: GroupId,
    /// The program whose policy applies.
    pub program: ProgramId,
    /// Its name.
    pub name: String,
    /// Its members, in the order given.
    pub members: Vec<ParticipantId>,
}

/// Who performs an operation: what each may do is one table, the
/// [`Relation`](crate::Relation) of the actor to the participant concerned
/// (README, "Who may see what"). Connecting and disconnecting a calendar
/// is the participant's own act: an administrator working on someone's
/// behalf is refused ([`crate::AssistantError::OnBehalfRefused`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The participant themselves.
    Participant(ParticipantId),
    /// A global administrator (every program of the instance), possibly
    /// working on behalf of a participant (reading availability and
    /// creating polls is allowed).
    Administrator {
        /// The administrator's own id in your service.
        admin: String,
        /// The participant they are working for, if any.
        on_behalf_of: Option<ParticipantId>,
    },
    /// An administrator of some programs only (a single track): they act
    /// as an administrator for the participants of those programs and are
    /// a stranger to everyone else.
    ProgramAdministrator {
        /// The administrator's own id in your service.
        admin: String,
        /// The programs they administer.
        programs: Vec<ProgramId>,
        /// The participant they are working for, if any.
        on_behalf_of: Option<ParticipantId>,
    },
}

impl Actor {
    /// The participant `id` acting for themselves.
    pub fn participant(id: impl Into<ParticipantId>) -> Self {
        Self::Participant(id.into())
    }

    /// A global administrator working on behalf of participant `id`.
    pub fn admin_on_behalf_of(admin: impl Into<String>, id: impl Into<ParticipantId>) -> Self {
        Self::Administrator {
            admin: admin.into(),
            on_behalf_of: Some(id.into()),
        }
    }

    /// A global administrator acting for themselves.
    pub fn global_admin(admin: impl Into<String>) -> Self {
        Self::Administrator {
            admin: admin.into(),
            on_behalf_of: None,
        }
    }

    /// An administrator of `programs` only.
    pub fn program_admin<I, P>(admin: impl Into<String>, programs: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<ProgramId>,
    {
        Self::ProgramAdministrator {
            admin: admin.into(),
            programs: programs.into_iter().map(Into::into).collect(),
            on_behalf_of: None,
        }
    }

    /// The participant this actor works for: themselves, or the one an
    /// administrator works on behalf of.
    pub fn subject(&self) -> Option<&ParticipantId> {
        match self {
            Self::Participant(p) => Some(p),
            Self::Administrator { on_behalf_of, .. }
            | Self::ProgramAdministrator { on_behalf_of, .. } => on_behalf_of.as_ref(),
        }
    }

    /// Whether this is an administrator (of any scope).
    pub fn is_admin(&self) -> bool {
        !matches!(self, Self::Participant(_))
    }
}

/// How a participant's calendar is connected, as stored (no secret: those
/// are in the vault, under [`Connection::account`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Whose.
    pub participant: ParticipantId,
    /// Which provider.
    pub provider: Provider,
    /// The account the provider is asked about (the participant's email:
    /// their Google primary calendar, their Microsoft mailbox, their Apple
    /// ID's calendars) and the vault owner of its secret.
    pub account: String,
    /// When it was connected (seconds since the Unix epoch).
    pub connected_at: i64,
    /// Why it needs reconnecting, if the provider refused its credentials
    /// (a revoked token, a changed app-specific password).
    pub needs_reconnect: Option<String>,
}

/// Display name of a provider for status texts.
pub(crate) fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::Google => "Google",
        Provider::Microsoft => "Microsoft 365",
        Provider::Icloud => "iCloud",
    }
}
