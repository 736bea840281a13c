//! [`BusyKind`], [`KindSet`] and [`FreeBusy`]: one participant's busy time by kind.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Interval, IntervalSet};

/// What kind of busy time an interval is.
///
/// The order of the variants (busy, tentative, out of office, working
/// elsewhere, unknown) is the order used to sort entries that start at the
/// same instant, as in the `freebusy` example's output.
///
/// | variant | RFC 5545 §3.2.9 `FBTYPE` | Graph `freeBusyStatus` / `X-MICROSOFT-CDO-BUSYSTATUS` |
/// |---|---|---|
/// | [`Busy`](Self::Busy) | `BUSY` (and any unrecognised value) | `busy` |
/// | [`Tentative`](Self::Tentative) | `BUSY-TENTATIVE` | `tentative` |
/// | [`OutOfOffice`](Self::OutOfOffice) | `BUSY-UNAVAILABLE` | `oof` |
/// | [`WorkingElsewhere`](Self::WorkingElsewhere) | none | `workingElsewhere` |
/// | [`Unknown`](Self::Unknown) | none | `unknown` (and any unrecognised value) |
///
/// `FBTYPE=FREE` and the status `free` are not busy time at all:
/// [`from_fbtype`](Self::from_fbtype) and
/// [`from_free_busy_status`](Self::from_free_busy_status) return `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusyKind {
    /// Busy: RFC 5545 `FBTYPE=BUSY`, Graph `busy`.
    Busy,
    /// Tentatively busy: RFC 5545 `FBTYPE=BUSY-TENTATIVE` (also an event with
    /// `STATUS:TENTATIVE`), Graph `tentative`.
    Tentative,
    /// Out of office, not available for scheduling: RFC 5545
    /// `FBTYPE=BUSY-UNAVAILABLE`, Graph `oof`, Google `outOfOffice` events.
    OutOfOffice,
    /// Working somewhere else, often still bookable: Graph `workingElsewhere`.
    WorkingElsewhere,
    /// The source could not tell: Graph `unknown`.
    Unknown,
}

impl BusyKind {
    /// Every kind, in order.
    pub const ALL: [Self; 5] = [
        Self::Busy,
        Self::Tentative,
        Self::OutOfOffice,
        Self::WorkingElsewhere,
        Self::Unknown,
    ];

    /// The snake-case name used in JSON and policy files: `busy`,
    /// `tentative`, `out_of_office`, `working_elsewhere`, `unknown`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Busy => "busy",
            Self::Tentative => "tentative",
            Self::OutOfOffice => "out_of_office",
            Self::WorkingElsewhere => "working_elsewhere",
            Self::Unknown => "unknown",
        }
    }

    /// Maps an RFC 5545 §3.2.9 `FBTYPE` parameter value (case-insensitive).
    ///
    /// `FREE` gives `None`. The RFC requires that unrecognised x-name and
    /// iana-token values be treated as `BUSY`, so they give
    /// `Some(BusyKind::Busy)`.
    pub fn from_fbtype(value: &str) -> Option<Self> {
        let v = value.trim();
        if v.eq_ignore_ascii_case("FREE") {
            None
        } else if v.eq_ignore_ascii_case("BUSY-TENTATIVE") {
            Some(Self::Tentative)
        } else if v.eq_ignore_ascii_case("BUSY-UNAVAILABLE") {
            Some(Self::OutOfOffice)
        } else {
            Some(Self::Busy)
        }
    }

    /// Maps a Microsoft Graph `freeBusyStatus` value
    /// (<https://learn.microsoft.com/en-us/graph/api/resources/scheduleitem>),
    /// which is also the vocabulary of the iCalendar property
    /// `X-MICROSOFT-CDO-BUSYSTATUS` (`FREE`, `TENTATIVE`, `BUSY`, `OOF`,
    /// `WORKINGELSEWHERE`), case-insensitively.
    ///
    /// `free` gives `None`; an unrecognised value (such as Graph's
    /// `unknownFutureValue`) gives `Some(BusyKind::Unknown)`, so that the
    /// program policy, not this mapping, decides whether it blocks.
    pub fn from_free_busy_status(value: &str) -> Option<Self> {
        let v = value.trim();
        if v.eq_ignore_ascii_case("free") {
            None
        } else if v.eq_ignore_ascii_case("busy") {
            Some(Self::Busy)
        } else if v.eq_ignore_ascii_case("tentative") {
            Some(Self::Tentative)
        } else if v.eq_ignore_ascii_case("oof") {
            Some(Self::OutOfOffice)
        } else if v.eq_ignore_ascii_case("workingElsewhere") {
            Some(Self::WorkingElsewhere)
        } else {
            Some(Self::Unknown)
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for BusyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A [`BusyKind`] name that is not one of the five.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown busy kind {0:?} (expected busy, tentative, out_of_office, working_elsewhere or unknown)"
)]
pub struct UnknownKind(pub String);

impl FromStr for BusyKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, UnknownKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// A set of [`BusyKind`]s, such as the kinds that block scheduling.
///
/// [`KindSet::default()`] is the program policy's default blocking set:
/// busy, tentative and out of office.
///
/// # Example: what blocks
///
/// ```
/// use availability::{BusyKind, KindSet};
///
/// let blocking = KindSet::default();
/// assert!(blocking.contains(BusyKind::OutOfOffice));
/// assert!(!blocking.contains(BusyKind::WorkingElsewhere));
/// let strict = blocking.with(BusyKind::Unknown);
/// assert_eq!(strict.len(), 4);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KindSet(u8);

impl KindSet {
    /// No kind.
    pub const EMPTY: Self = Self(0);
    /// Every kind.
    pub const ALL: Self = Self(0b1_1111);
    /// Busy, tentative and out of office: the default blocking kinds.
    pub const DEFAULT_BLOCKING: Self =
        Self(BusyKind::Busy.bit() | BusyKind::Tentative.bit() | BusyKind::OutOfOffice.bit());

    /// Whether `kind` is in the set.
    pub const fn contains(self, kind: BusyKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// The set with `kind` added.
    #[must_use]
    pub const fn with(self, kind: BusyKind) -> Self {
        Self(self.0 | kind.bit())
    }

    /// The set with `kind` removed.
    #[must_use]
    pub const fn without(self, kind: BusyKind) -> Self {
        Self(self.0 & !kind.bit())
    }

    /// Adds `kind`.
    pub fn insert(&mut self, kind: BusyKind) {
        *self = self.with(kind);
    }

    /// The number of kinds in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds in the set, in [`BusyKind`] order.
    pub fn iter(self) -> impl Iterator<Item = BusyKind> {
        BusyKind::ALL.into_iter().filter(move |k| self.contains(*k))
    }
}

impl Default for KindSet {
    fn default() -> Self {
        Self::DEFAULT_BLOCKING
    }
}

impl FromIterator<BusyKind> for KindSet {
    fn from_iter<I: IntoIterator<Item = BusyKind>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

impl fmt::Debug for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for KindSet {
    /// A list of kind names, in [`BusyKind`] order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for KindSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<BusyKind>::deserialize(deserializer).map(|v| v.into_iter().collect())
    }
}

/// One busy interval with its kind: an entry of the `freebusy` output,
/// serialised as `{"start":"…Z","end":"…Z","kind":"busy"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BusyEntry {
    /// When.
    pub interval: Interval,
    /// What kind of busy time.
    pub kind: BusyKind,
}

/// One participant's busy time, as one coalesced [`IntervalSet`] per
/// [`BusyKind`]. Kinds may overlap (a tentative hold inside an out-of-office
/// day); only [`unavailable`](Self::unavailable) combines them.
///
/// It holds times and kinds only: nothing of an event's title, description,
/// location or attendees can be put in it.
///
/// Serialised as the `freebusy` example prints it:
/// `{"busy":[{"start":"…Z","end":"…Z","kind":"busy"}]}`, sorted by start,
/// then kind.
///
/// # Example: all-day out of office and a tentative hold
///
/// ```
/// use availability::{BusyKind, FreeBusy, Interval, KindSet};
///
/// let mut fb = FreeBusy::new();
/// fb.add(BusyKind::OutOfOffice, Interval::new(0, 86_400)?);
/// fb.add(BusyKind::Tentative, Interval::new(90_000, 93_600)?);
/// fb.add(BusyKind::WorkingElsewhere, Interval::new(100_000, 110_000)?);
/// let blocked = fb.unavailable(KindSet::default());
/// assert_eq!(blocked.len(), 2); // working elsewhere does not block by default
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct FreeBusy {
    by_kind: [IntervalSet; 5],
}

impl FreeBusy {
    /// No busy time at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds from `(kind, interval)` pairs in any order.
    pub fn from_entries<I: IntoIterator<Item = (BusyKind, Interval)>>(entries: I) -> Self {
        let mut raw: [Vec<Interval>; 5] = Default::default();
        for (kind, iv) in entries {
            raw[kind as usize].push(iv);
        }
        Self {
            by_kind: raw.map(IntervalSet::from),
        }
    }

    /// Adds one interval of `kind`.
    pub fn add(&mut self, kind: BusyKind, interval: Interval) {
        self.by_kind[kind as usize].insert(interval);
    }

    /// Adds a whole set of `kind`.
    pub fn add_set(&mut self, kind: BusyKind, set: &IntervalSet) {
        let slot = &mut self.by_kind[kind as usize];
        *slot = slot.union(set);
    }

    /// The busy time of one kind.
    pub fn get(&self, kind: BusyKind) -> &IntervalSet {
        &self.by_kind[kind as usize]
    }

    /// Whether there is no busy time of any kind.
    pub fn is_empty(&self) -> bool {
        self.by_kind.iter().all(IntervalSet::is_empty)
    }

    /// The union of the kinds in `blocking`: when this participant cannot
    /// meet.
    pub fn unavailable(&self, blocking: KindSet) -> IntervalSet {
        IntervalSet::union_all(blocking.iter().map(|k| self.get(k)))
    }

    /// The same busy time restricted to `window`.
    #[must_use]
    pub fn clip(&self, window: Interval) -> Self {
        Self {
            by_kind: self.by_kind.each_ref().map(|s| s.clip(window)),
        }
    }

    /// Merges another participant's (or another window's) busy time in.
    pub fn merge(&mut self, other: &Self) {
        for kind in BusyKind::ALL {
            self.add_set(kind, other.get(kind));
        }
    }

    /// Every interval with its kind, sorted by start, then kind.
    pub fn entries(&self) -> Vec<BusyEntry> {
        let mut out: Vec<BusyEntry> = BusyKind::ALL
            .into_iter()
            .flat_map(|kind| {
                self.get(kind)
                    .iter()
                    .map(move |&interval| BusyEntry { interval, kind })
            })
            .collect();
        out.sort_unstable_by_key(|e| (e.interval.start(), e.kind, e.interval.end()));
        out
    }
}

impl fmt::Debug for FreeBusy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for kind in BusyKind::ALL {
            if !self.get(kind).is_empty() {
                m.entry(&kind, self.get(kind));
            }
        }
        m.finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BusyEntryWire {
    start: jiff::Timestamp,
    end: jiff::Timestamp,
    kind: BusyKind,
}

impl Serialize for BusyEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        BusyEntryWire {
            start: self.interval.start_jiff(),
            end: self.interval.end_jiff(),
            kind: self.kind,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for BusyEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = BusyEntryWire::deserialize(deserializer)?;
        let interval =
            Interval::from_jiff(wire.start, wire.end).map_err(serde::de::Error::custom)?;
        Ok(Self {
            interval,
            kind: wire.kind,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FreeBusyWire {
    busy: Vec<BusyEntry>,
}

impl Serialize for FreeBusy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        FreeBusyWire {
            busy: self.entries(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for FreeBusy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = FreeBusyWire::deserialize(deserializer)?;
        Ok(Self::from_entries(
            wire.busy.into_iter().map(|e| (e.kind, e.interval)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fbtype_mapping_follows_rfc5545() {
        assert_eq!(BusyKind::from_fbtype("FREE"), None);
        assert_eq!(BusyKind::from_fbtype("busy"), Some(BusyKind::Busy));
        assert_eq!(
            BusyKind::from_fbtype("BUSY-TENTATIVE"),
            Some(BusyKind::Tentative)
        );
        assert_eq!(
            BusyKind::from_fbtype("BUSY-UNAVAILABLE"),
            Some(BusyKind::OutOfOffice)
        );
        // RFC 5545 §3.2.9: unknown values are treated as BUSY.
        assert_eq!(
            BusyKind::from_fbtype("X-VENDOR-THING"),
            Some(BusyKind::Busy)
        );
    }

    #[test]
    fn graph_status_mapping_is_case_insensitive() {
        assert_eq!(BusyKind::from_free_busy_status("Free"), None);
        assert_eq!(
            BusyKind::from_free_busy_status("OOF"),
            Some(BusyKind::OutOfOffice)
        );
        assert_eq!(
            BusyKind::from_free_busy_status("WORKINGELSEWHERE"),
            Some(BusyKind::WorkingElsewhere)
        );
        assert_eq!(
            BusyKind::from_free_busy_status("tentative"),
            Some(BusyKind::Tentative)
        );
        assert_eq!(
            BusyKind::from_free_busy_status("unknownFutureValue"),
            Some(BusyKind::Unknown)
        );
    }

    #[test]
    fn names_round_trip() {
        for k in BusyKind::ALL {
            assert_eq!(k.as_str().parse::<BusyKind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        let err = "OOF".parse::<BusyKind>().unwrap_err();
        assert!(err.to_string().contains("\"OOF\""));
    }

    #[test]
    fn kind_set_serde() {
        let json = serde_json::to_string(&KindSet::default()).unwrap();
        assert_eq!(json, r#"["busy","tentative","out_of_office"]"#);
        let back: KindSet = serde_json::from_str(r#"["unknown","busy","busy"]"#).unwrap();
        assert_eq!(
            back,
            KindSet::EMPTY.with(BusyKind::Busy).with(BusyKind::Unknown)
        );
        assert!(serde_json::from_str::<KindSet>(r#"["nope"]"#).is_err());
    }
}
