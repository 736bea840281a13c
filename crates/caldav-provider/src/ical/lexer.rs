//! RFC 5545 §3.1 content lines: unfolding, and splitting a line into name,
//! parameters and value.
//!
//! The lexer is where privacy starts: a property whose name is not one busy
//! time needs (SUMMARY, DESCRIPTION, LOCATION, ATTENDEE, ...) is skipped
//! with its continuation lines, without ever being joined or copied.

use std::borrow::Cow;

/// One logical (unfolded) content line and the physical line it starts on.
#[derive(Debug)]
pub(crate) struct RawLine<'a> {
    /// The unfolded text: borrowed when the line was not folded.
    pub(crate) text: Cow<'a, str>,
    /// 1-based physical line number of the first segment.
    pub(crate) line: usize,
}

/// Iterates over the logical lines whose property name `wanted` accepts.
///
/// Accepts CRLF, LF or lone CR line ends, a leading byte-order mark, and
/// folds with a space or a tab (RFC 5545 §3.1). Lines that are empty after
/// unfolding are skipped.
pub(crate) struct ContentLines<'a, F> {
    rest: &'a str,
    line: usize,
    wanted: F,
}

impl<'a, F: Fn(&str) -> bool> ContentLines<'a, F> {
    pub(crate) fn new(text: &'a str, wanted: F) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Self {
            rest: text,
            line: 0,
            wanted,
        }
    }

    /// Takes the next physical line (without its terminator).
    fn physical(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let bytes = self.rest.as_bytes();
        let end = memchr_line_end(bytes);
        let line = &self.rest[..end];
        let mut next = end;
        if next < bytes.len() {
            next += if bytes[next] == b'\r' && bytes.get(next + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
        }
        self.rest = &self.rest[next..];
        self.line += 1;
        Some(line)
    }

    /// Whether the next physical line continues the current logical line.
    fn continues(&self) -> bool {
        matches!(self.rest.as_bytes().first(), Some(b' ' | b'\t'))
    }
}

/// The index of the first CR or LF in `bytes`, or its length.
fn memchr_line_end(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(bytes.len())
}

impl<'a, F: Fn(&str) -> bool> Iterator for ContentLines<'a, F> {
    type Item = RawLine<'a>;

    fn next(&mut self) -> Option<RawLine<'a>> {
        loop {
            let first = self.physical()?;
            let line = self.line;
            // The name is complete on the first segment when a ';' or ':'
            // follows it there; only then can the line be judged unread.
            let name_end = first.find([';', ':']);
            if let Some(end) = name_end
                && !(self.wanted)(first[..end].trim())
            {
                while self.continues() {
                    self.physical();
                }
                continue;
            }
            if !self.continues() {
                if first.trim().is_empty() {
                    continue;
                }
                return Some(RawLine {
                    text: Cow::Borrowed(first),
                    line,
                });
            }
            let mut joined = String::from(first);
            while self.continues() {
                if let Some(segment) = self.physical() {
                    joined.push_str(&segment[1..]);
                }
            }
            if name_end.is_none() {
                // The name itself was folded: judge it now.
                let end = joined.find([';', ':']).unwrap_or(joined.len());
                if !(self.wanted)(joined[..end].trim()) {
                    continue;
                }
            }
            return Some(RawLine {
                text: Cow::Owned(joined),
                line,
            });
        }
    }
}

/// A content line split into its parts, borrowing from the line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Property<'l> {
    /// The property name as written (compare case-insensitively).
    pub(crate) name: &'l str,
    /// Parameters: name as written, value with surrounding quotes removed
    /// (a comma-separated multi-value stays one string).
    pub(crate) params: Vec<(&'l str, &'l str)>,
    /// The raw value.
    pub(crate) value: &'l str,
}

impl<'l> Property<'l> {
    /// The value of the first parameter named `name` (case-insensitive).
    pub(crate) fn param(&self, name: &str) -> Option<&'l str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Splits `line` into name, parameters and value (RFC 5545 §3.1: a colon
/// inside a quoted parameter value does not end the parameters).
///
/// Returns `None` when the line has no `:` outside quotes.
pub(crate) fn split(line: &str) -> Option<Property<'_>> {
    let bytes = line.as_bytes();
    let name_end = line.find([';', ':'])?;
    let name = line[..name_end].trim();
    let mut params = Vec::new();
    let mut i = name_end;
    while bytes.get(i) == Some(&b';') {
        i += 1;
        let eq = i + line[i..].find(['=', ':', ';'])?;
        if bytes[eq] != b'=' {
            // A parameter without a value: keep going, RFC-invalid but seen.
            params.push((line[i..eq].trim(), ""));
            i = eq;
            continue;
        }
        let pname = line[i..eq].trim();
        i = eq + 1;
        let start = i;
        let mut in_quotes = false;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'"' => in_quotes = !in_quotes,
                b';' | b':' if !in_quotes => break,
                _ => {}
            }
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let raw = &line[start..i];
        let value = raw
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(raw);
        params.push((pname, value));
    }
    if bytes.get(i) != Some(&b':') {
        return None;
    }
    Some(Property {
        name,
        params,
        value: &line[i + 1..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<(String, usize)> {
        ContentLines::new(text, |_| true)
            .map(|l| (l.text.into_owned(), l.line))
            .collect()
    }

    #[test]
    fn unfolds_crlf_lf_cr_and_tabs_and_strips_the_bom() {
        let text = "\u{feff}BEGIN:VCALENDAR\r\nA:1\r\n 2\r\n\t3\nB:x\rC:y";
        assert_eq!(
            all(text),
            vec![
                ("BEGIN:VCALENDAR".to_owned(), 1),
                ("A:123".to_owned(), 2),
                ("B:x".to_owned(), 5),
                ("C:y".to_owned(), 6)
            ]
        );
    }

    #[test]
    fn unwanted_lines_are_skipped_with_their_folds() {
        let text = "SUMMARY:secret\r\n  more secret\r\nDTSTART:20250101\r\n";
        let lines: Vec<_> = ContentLines::new(text, |n| n == "DTSTART")
            .map(|l| l.text.into_owned())
            .collect();
        assert_eq!(lines, vec!["DTSTART:20250101"]);
    }

    #[test]
    fn a_folded_name_is_joined_before_it_is_judged() {
        let text = "DTST\r\n ART:20250101\r\nSUMM\r\n ARY:x\r\n";
        let lines: Vec<_> = ContentLines::new(text, |n| n == "DTSTART")
            .map(|l| l.text.into_owned())
            .collect();
        assert_eq!(lines, vec!["DTSTART:20250101"]);
    }

    #[test]
    fn splits_quoted_parameters_with_colons() {
        let p = split(
            "DTSTART;TZID=\"/mozilla.org/x:y/America/New_York\";VALUE=DATE-TIME:20250101T090000",
        )
        .unwrap();
        assert_eq!(p.name, "DTSTART");
        assert_eq!(p.param("tzid"), Some("/mozilla.org/x:y/America/New_York"));
        assert_eq!(p.param("VALUE"), Some("DATE-TIME"));
        assert_eq!(p.value, "20250101T090000");
        assert_eq!(split("NOCOLON"), None);
        assert_eq!(split("X;P=\"unterminated:1"), None);
        assert_eq!(split("A;FLAG:v").unwrap().params, vec![("FLAG", "")]);
    }
}
