//! [`Coverage`]: which participants an integration covers.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// What a participant's status says when an integration covers them.
pub const CONNECTED_THROUGH_ORGANISATION: &str = "Connected through your organisation";

/// Who an integration covers: participants whose email domain is listed,
/// and listed addresses (case-insensitive).
///
/// In stored [`IntegrationSettings`](crate::IntegrationSettings) its two
/// sets are the `domains` and `allow` fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Email domains (`example.org`), exact match.
    #[serde(default)]
    pub domains: BTreeSet<String>,
    /// Individual addresses outside those domains.
    #[serde(default)]
    pub allow: BTreeSet<String>,
}

/// The form `Coverage` compares in: trimmed, ASCII lowercase.
fn normalise(text: &str) -> String {
    text.trim().to_ascii_lowercase()
}

impl Coverage {
    /// Covering `domains`.
    pub fn domains<I: IntoIterator<Item = S>, S: AsRef<str>>(domains: I) -> Self {
        Self {
            domains: domains.into_iter().map(|d| normalise(d.as_ref())).collect(),
            allow: BTreeSet::new(),
        }
    }

    /// Also covering these addresses.
    #[must_use]
    pub fn allow<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, emails: I) -> Self {
        self.allow
            .extend(emails.into_iter().map(|e| normalise(e.as_ref())));
        self
    }

    /// Whether `email` is covered.
    pub fn covers(&self, email: &str) -> bool {
        let email = normalise(email);
        if self.allow.contains(&email) {
            return true;
        }
        email
            .rsplit_once('@')
            .is_some_and(|(_, domain)| self.domains.contains(domain))
    }
}

#[cfg(test)]
mod tests {
    use super::{Coverage, normalise};

    #[test]
    fn normalise_trims_and_lowercases_ascii() {
        assert_eq!(normalise("  Ana@Example.ORG\t"), "ana@example.org");
        assert_eq!(normalise("Ä@example.org"), "Ä@example.org");
    }

    #[test]
    fn covers_by_exact_domain_or_allowed_address() {
        let coverage = Coverage::domains([" Example.org "]).allow(["Guest@Partner.example"]);
        assert!(coverage.covers("ana@EXAMPLE.org"));
        assert!(coverage.covers(" guest@partner.example "));
        assert!(!coverage.covers("other@partner.example"));
        assert!(!coverage.covers("ana@sub.example.org"));
        assert!(!coverage.covers("example.org"));
    }
}
