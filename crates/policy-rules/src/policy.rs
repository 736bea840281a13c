//! [`PolicyLayer`] (what one TOML file or administrator sets) and
//! [`ProgramPolicy`] (the resolved policy of one program).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use availability::KindSet;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::values::{HoursIn, PolicyDuration, Providers, TimeOfDay, Weekdays, Zone};

/// Why a policy could not be read or resolved. Never a panic.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The TOML is malformed, has an unknown key, or a value that does not
    /// parse (unknown zone, day, kind or provider; bad time or duration).
    #[error("policy line {line}, column {column}{}: {message}", key_text(key.as_deref()))]
    Toml {
        /// The key on that line, when there is one.
        key: Option<String>,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong (for an unknown key, it names the key and the
        /// accepted ones).
        message: String,
    },
    /// Values that parse but do not make a policy together (a day end not
    /// after the day start, a zero slot step, no bookable day).
    #[error("policy key `{key}`{}: {message}", line_text(*line))]
    Invalid {
        /// The key to fix.
        key: &'static str,
        /// Where it was set, when it came from TOML.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

fn key_text(key: Option<&str>) -> String {
    key.map(|k| format!(" (key `{k}`)")).unwrap_or_default()
}

fn line_text(line: Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The bare key assigned on the line containing `offset`, if any.
fn key_on_line(text: &str, offset: usize) -> Option<String> {
    let start = text
        .get(..offset.min(text.len()))?
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    .then(|| key.to_owned())
}

/// The policy file as written: every key optional, unknown keys refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    time_zone: Option<Spanned<Zone>>,
    days: Option<Spanned<Weekdays>>,
    day_start: Option<Spanned<TimeOfDay>>,
    day_end: Option<Spanned<TimeOfDay>>,
    min_notice: Option<Spanned<PolicyDuration>>,
    horizon: Option<Spanned<PolicyDuration>>,
    slot_step: Option<Spanned<PolicyDuration>>,
    blocking: Option<Spanned<KindSet>>,
    providers: Option<Spanned<Providers>>,
    scheduling_assistant: Option<Spanned<bool>>,
    group_polls: Option<Spanned<bool>>,
    hours_in: Option<Spanned<HoursIn>>,
    buffer_before: Option<Spanned<PolicyDuration>>,
    buffer_after: Option<Spanned<PolicyDuration>>,
}

macro_rules! layer {
    ($( $(#[$doc:meta])* $field:ident, $with:ident: $ty:ty; )*) => {
        /// One level of policy: the organisation's defaults, or one program's
        /// overrides. Every field is optional; an unset field inherits from the
        /// level below (see [`ProgramPolicy::resolve`]).
        ///
        /// Read from TOML with [`PolicyLayer::from_toml`] (keys exactly as in
        /// DESIGN.md, unknown keys refused with their line) or built with the
        /// `with_*` setters.
        #[derive(Clone, Debug, Default)]
        pub struct PolicyLayer {
            $( $field: Option<$ty>, )*
            /// Where each key was set, when read from TOML (1-based lines).
            lines: BTreeMap<&'static str, usize>,
        }

        impl PolicyLayer {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $with(mut self, value: $ty) -> Self {
                    self.$field = Some(value);
                    self
                }

                $(#[$doc])*
                ///
                /// `None` when this layer leaves it to the layer below.
                pub fn $field(&self) -> Option<&$ty> {
                    self.$field.as_ref()
                }
            )*

            fn from_raw(raw: RawLayer, text: &str) -> Self {
                let mut layer = Self::default();
                $(
                    if let Some(spanned) = raw.$field {
                        let span: Range<usize> = spanned.span();
                        layer.lines.insert(stringify!($field), line_col(text, span.start).0);
                        layer.$field = Some(spanned.into_inner());
                    }
                )*
                layer
            }

            /// This layer with every field that `over` sets replaced by
            /// `over`'s value (field by field; unset fields inherit).
            #[must_use]
            pub fn overridden_by(&self, over: &Self) -> Self {
                let mut out = self.clone();
                $(
                    if let Some(v) = &over.$field {
                        out.$field = Some(v.clone());
                        match over.lines.get(stringify!($field)) {
                            Some(&line) => out.lines.insert(stringify!($field), line),
                            None => out.lines.remove(stringify!($field)),
                        };
                    }
                )*
                out
            }
        }
    };
}

layer! {
    /// The program's IANA time zone (`time_zone`, default `"UTC"`).
    time_zone, with_time_zone: Zone;
    /// Bookable weekdays (`days`, default Monday to Friday).
    days, with_days: Weekdays;
    /// Earliest local start of a meeting (`day_start`, default `"08:00"`).
    day_start, with_day_start: TimeOfDay;
    /// Latest local end of a meeting (`day_end`, default `"18:00"`; `"24:00"` allowed).
    day_end, with_day_end: TimeOfDay;
    /// Minimum notice before a meeting (`min_notice`, default `"0m"`).
    min_notice, with_min_notice: PolicyDuration;
    /// How far ahead meetings may be booked (`horizon`, default `"90d"`).
    horizon, with_horizon: PolicyDuration;
    /// The slot grid step, from local midnight (`slot_step`, default `"30m"`).
    slot_step, with_slot_step: PolicyDuration;
    /// Busy kinds that block (`blocking`, default busy, tentative, out_of_office).
    blocking, with_blocking: KindSet;
    /// Providers participants may connect (`providers`, default all three).
    providers, with_providers: Providers;
    /// Whether the scheduling assistant is enabled for the program (`scheduling_assistant`, default `false`: an administrator turns it on).
    scheduling_assistant, with_scheduling_assistant: bool;
    /// Whether group polls are enabled (`group_polls`, default `false`: an administrator turns them on).
    group_polls, with_group_polls: bool;
    /// Whose local day `days`, `day_start` and `day_end` are read in (`hours_in`, `"participant"` (the default) or `"program"`).
    hours_in, with_hours_in: HoursIn;
    /// A margin kept free before every busy interval (`buffer_before`, default `"0m"`).
    buffer_before, with_buffer_before: PolicyDuration;
    /// A margin kept free after every busy interval (`buffer_after`, default `"0m"`).
    buffer_after, with_buffer_after: PolicyDuration;
}

impl PolicyLayer {
    /// An empty layer: inherits everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a layer from TOML text.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Toml`] naming the line (and key) of a syntax error,
    /// an unknown key, or a value that does not parse.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let raw: RawLayer = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let (line, column) = line_col(text, offset);
            PolicyError::Toml {
                key: key_on_line(text, offset),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        Ok(Self::from_raw(raw, text))
    }

    fn line(&self, key: &str) -> Option<usize> {
        self.lines.get(key).copied()
    }
}

/// The resolved policy of one program: every field set, validated.
///
/// # Example: an organisation default and a program override
///
/// ```
/// use policy_rules::{PolicyLayer, ProgramPolicy};
///
/// let org = PolicyLayer::from_toml(r#"
///     time_zone = "Europe/London"
///     day_start = "09:00"
///     day_end = "17:00"
/// "#)?;
/// let program = PolicyLayer::from_toml(r#"day_end = "19:30""#)?;
/// let policy = ProgramPolicy::resolve(&org, &program)?;
/// assert_eq!(policy.time_zone().name(), "Europe/London");
/// assert_eq!(policy.day_start().to_string(), "09:00"); // inherited
/// assert_eq!(policy.day_end().to_string(), "19:30");   // overridden
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ProgramPolicy {
    time_zone: Zone,
    days: Weekdays,
    day_start: TimeOfDay,
    day_end: TimeOfDay,
    min_notice: PolicyDuration,
    horizon: PolicyDuration,
    slot_step: PolicyDuration,
    blocking: KindSet,
    providers: Providers,
    scheduling_assistant: bool,
    group_polls: bool,
    hours_in: HoursIn,
    buffer_before: PolicyDuration,
    buffer_after: PolicyDuration,
}

impl Default for ProgramPolicy {
    /// The defaults of DESIGN.md: UTC, Monday to Friday, 08:00-18:00, no
    /// notice, 90 days ahead, 30-minute steps, busy/tentative/out of office
    /// block, every provider, assistant and polls off; hours in each
    /// participant's zone, no buffers.
    fn default() -> Self {
        Self {
            time_zone: Zone::utc(),
            days: Weekdays::WORKWEEK,
            day_start: TimeOfDay::from_hour(8),
            day_end: TimeOfDay::from_hour(18),
            min_notice: PolicyDuration::from_secs(0),
            horizon: PolicyDuration::from_secs(90 * 86_400),
            slot_step: PolicyDuration::from_secs(30 * 60),
            blocking: KindSet::DEFAULT_BLOCKING,
            providers: Providers::ALL,
            scheduling_assistant: false,
            group_polls: false,
            hours_in: HoursIn::Participant,
            buffer_before: PolicyDuration::from_secs(0),
            buffer_after: PolicyDuration::from_secs(0),
        }
    }
}

impl ProgramPolicy {
    /// Resolves `org` overridden field by field by `program`, over the
    /// defaults, and validates the result.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Invalid`] naming the key (and its line, when it came
    /// from TOML): `day_end` not after `day_start`, `day_start` at `24:00`,
    /// a zero `slot_step`, or an empty `days` list.
    pub fn resolve(org: &PolicyLayer, program: &PolicyLayer) -> Result<Self, PolicyError> {
        let layer = org.overridden_by(program);
        let d = Self::default();
        let policy = Self {
            time_zone: layer.time_zone.clone().unwrap_or(d.time_zone),
            days: layer.days.unwrap_or(d.days),
            day_start: layer.day_start.unwrap_or(d.day_start),
            day_end: layer.day_end.unwrap_or(d.day_end),
            min_notice: layer.min_notice.unwrap_or(d.min_notice),
            horizon: layer.horizon.unwrap_or(d.horizon),
            slot_step: layer.slot_step.unwrap_or(d.slot_step),
            blocking: layer.blocking.unwrap_or(d.blocking),
            providers: layer.providers.unwrap_or(d.providers),
            scheduling_assistant: layer.scheduling_assistant.unwrap_or(d.scheduling_assistant),
            group_polls: layer.group_polls.unwrap_or(d.group_polls),
            hours_in: layer.hours_in.unwrap_or(d.hours_in),
            buffer_before: layer.buffer_before.unwrap_or(d.buffer_before),
            buffer_after: layer.buffer_after.unwrap_or(d.buffer_after),
        };
        let invalid = |key: &'static str, message: String| PolicyError::Invalid {
            key,
            line: layer.line(key),
            message,
        };
        if policy.day_start == TimeOfDay::END_OF_DAY {
            return Err(invalid(
                "day_start",
                "a day cannot start at 24:00".to_owned(),
            ));
        }
        if policy.day_end <= policy.day_start {
            // Blame day_end when some layer set it, else the day_start that
            // was moved past the default end.
            let key = if layer.day_end.is_some() {
                "day_end"
            } else {
                "day_start"
            };
            return Err(invalid(
                key,
                format!(
                    "day_end ({}) must be after day_start ({})",
                    policy.day_end, policy.day_start
                ),
            ));
        }
        if policy.slot_step.as_secs() == 0 {
            return Err(invalid(
                "slot_step",
                "the slot step must be more than zero".to_owned(),
            ));
        }
        if policy.slot_step.as_secs() > 86_400 {
            return Err(invalid(
                "slot_step",
                "the slot step must be at most one day".to_owned(),
            ));
        }
        for (key, buffer) in [
            ("buffer_before", policy.buffer_before),
            ("buffer_after", policy.buffer_after),
        ] {
            if buffer.as_secs() > 86_400 {
                return Err(invalid(key, "a buffer must be at most one day".to_owned()));
            }
        }
        if policy.days.is_empty() {
            return Err(invalid(
                "days",
                "at least one bookable day is needed".to_owned(),
            ));
        }
        Ok(policy)
    }

    /// Reads one TOML layer over the defaults.
    ///
    /// # Errors
    ///
    /// As [`PolicyLayer::from_toml`] and [`resolve`](Self::resolve).
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        Self::resolve(&PolicyLayer::new(), &PolicyLayer::from_toml(text)?)
    }

    /// The program's zone.
    pub fn time_zone(&self) -> &Zone {
        &self.time_zone
    }

    /// Bookable weekdays.
    pub fn days(&self) -> Weekdays {
        self.days
    }

    /// Earliest local start of a meeting.
    pub fn day_start(&self) -> TimeOfDay {
        self.day_start
    }

    /// Latest local end of a meeting.
    pub fn day_end(&self) -> TimeOfDay {
        self.day_end
    }

    /// Minimum notice.
    pub fn min_notice(&self) -> PolicyDuration {
        self.min_notice
    }

    /// Booking horizon.
    pub fn horizon(&self) -> PolicyDuration {
        self.horizon
    }

    /// Slot grid step from local midnight.
    pub fn slot_step(&self) -> PolicyDuration {
        self.slot_step
    }

    /// Busy kinds that block.
    pub fn blocking(&self) -> KindSet {
        self.blocking
    }

    /// Providers participants may connect.
    pub fn providers(&self) -> Providers {
        self.providers
    }

    /// Whether the scheduling assistant is enabled for the program.
    pub fn scheduling_assistant_enabled(&self) -> bool {
        self.scheduling_assistant
    }

    /// Whether group polls are enabled for the program.
    pub fn group_polls_enabled(&self) -> bool {
        self.group_polls
    }

    /// Whose local day the hours are read in (`hours_in`).
    pub fn hours_in(&self) -> HoursIn {
        self.hours_in
    }

    /// The margin kept free before every busy interval (`buffer_before`).
    pub fn buffer_before(&self) -> PolicyDuration {
        self.buffer_before
    }

    /// The margin kept free after every busy interval (`buffer_after`).
    pub fn buffer_after(&self) -> PolicyDuration {
        self.buffer_after
    }

    /// The policy as TOML, every key written (it reads back to an equal
    /// policy).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

impl fmt::Debug for ProgramPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProgramPolicy")
            .field("time_zone", &self.time_zone)
            .field("days", &self.days)
            .field("day_start", &self.day_start)
            .field("day_end", &self.day_end)
            .field("min_notice", &self.min_notice)
            .field("horizon", &self.horizon)
            .field("slot_step", &self.slot_step)
            .field("blocking", &self.blocking)
            .field("providers", &self.providers)
            .field("scheduling_assistant", &self.scheduling_assistant)
            .field("group_polls", &self.group_polls)
            .field("hours_in", &self.hours_in)
            .field("buffer_before", &self.buffer_before)
            .field("buffer_after", &self.buffer_after)
            .finish()
    }
}
