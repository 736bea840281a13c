//! Integration tests of `policy-rules`.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

// DST table tests: bookable windows on transition days, morning and
// afternoon, in zones with 1-hour, 30-minute and :45 offsets.
mod dst;
// The host's TZ never matters (a subprocess with an odd TZ).
mod host_tz;
// TOML: defaults, layering, and errors naming the key and the line.
mod parse;
// Properties: every bookable instant is on an allowed local day, in hours;
// the slot grid is on the local step.
mod props;
