//! [`IntegrationSettings`]: what an instance stores of each integration
//! (the settings structs themselves, minus their secrets), and its JSON.

use serde::{Deserialize, Serialize};

use crate::{Coverage, ExchangeOnPremise, ExchangeOnline, GoogleWorkspace, IntegrationKind};

/// An integration's settings without its secret: what an instance stores so
/// that, restarting, it can [`restore`](crate::OrgAuth::restore) the
/// integration (the secret stays in the vault). Serialises to JSON with a
/// `kind` tag ([`IntegrationKind::as_str`]) beside the settings' fields.
///
/// The JSON is stored in databases, so it never changes shape: for
/// example `{"kind":"exchange_on_premise","scheduling_account":"a@example.org"}`.
/// Unknown fields are ignored when reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntegrationSettings {
    /// Google Workspace; its [`service_account_key`](GoogleWorkspace::service_account_key)
    /// is empty (the key is in the vault).
    GoogleWorkspace(GoogleWorkspace),
    /// Exchange Online; its [`secret`](ExchangeOnline::secret) is empty
    /// (the secret is in the vault).
    ExchangeOnline(ExchangeOnline),
    /// Exchange on-premise; its [`user`](ExchangeOnPremise::user) and
    /// [`password`](ExchangeOnPremise::password) are empty (the login is in
    /// the vault).
    ExchangeOnPremise(ExchangeOnPremise),
}

impl IntegrationSettings {
    /// Which integration these settings are for.
    pub fn kind(&self) -> IntegrationKind {
        match self {
            Self::GoogleWorkspace(_) => IntegrationKind::GoogleWorkspace,
            Self::ExchangeOnline(_) => IntegrationKind::ExchangeOnline,
            Self::ExchangeOnPremise(_) => IntegrationKind::ExchangeOnPremise,
        }
    }

    /// The scheduling account invitations come from.
    pub(crate) fn scheduling_account(&self) -> &str {
        match self {
            Self::GoogleWorkspace(google) => &google.scheduling_account,
            Self::ExchangeOnline(exchange) => &exchange.scheduling_account,
            Self::ExchangeOnPremise(ews) => &ews.scheduling_account,
        }
    }

    /// Who is covered.
    pub(crate) fn coverage(&self) -> Option<&Coverage> {
        match self {
            Self::GoogleWorkspace(google) => Some(&google.coverage),
            Self::ExchangeOnline(exchange) => Some(&exchange.coverage),
            Self::ExchangeOnPremise(ews) => Some(&ews.coverage),
        }
    }
}

/// Whether `flag` is false: a stored `booking` is written only when on,
/// so settings without booking keep their earlier bytes.
pub(crate) fn is_false(flag: &bool) -> bool {
    !*flag
}

/// Serde for root certificates in stored settings: each DER certificate
/// as a standard base64 string.
pub(crate) mod base64_ders {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(ders: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ders.iter().map(|der| STANDARD.encode(der)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| STANDARD.decode(text).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{IntegrationSettings, base64_ders};

    #[test]
    fn base64_ders_round_trip_as_standard_base64() {
        let ders = vec![vec![0x30, 0x82, 0x01, 0x01], vec![0, 1, 2, 0xff]];
        let text = base64_ders::serialize(&ders, serde_json::value::Serializer).ok();
        assert_eq!(text, Some(json!(["MIIBAQ==", "AAEC/w=="])));
        let read = base64_ders::deserialize(json!(["MIIBAQ==", "AAEC/w=="])).ok();
        assert_eq!(read, Some(ders));
        assert!(base64_ders::deserialize(json!(["not base64!"])).is_err());
    }

    /// The `kind` tag serde writes is the kind's `as_str`.
    #[test]
    fn the_kind_tag_is_as_str() {
        let rows = [
            json!({"kind": "google_workspace", "scheduling_account": "a@example.org",
                "domains": [], "allow": [], "via_scheduling_account": false,
                "token_uri": null, "api_base": null}),
            json!({"kind": "exchange_online", "tenant": "t", "client_id": "c",
                "scheduling_account": "a@example.org", "domains": [], "allow": [],
                "authority": null, "graph_base": null}),
            json!({"kind": "exchange_on_premise", "scheduling_account": "a@example.org"}),
            json!({"kind": "exchange_on_premise", "ews_url": "https://mail.example.org/EWS/Exchange.asmx",
                "auth": "basic", "scheduling_account": "a@example.org",
                "domains": ["example.org"], "allow": [], "max_window_days": 62}),
        ];
        for row in rows {
            let settings = serde_json::from_value::<IntegrationSettings>(row.clone());
            let Ok(settings) = settings else {
                panic!("{row} does not read");
            };
            assert_eq!(row["kind"], settings.kind().as_str());
            assert_eq!(settings.scheduling_account(), "a@example.org");
            let written = serde_json::to_value(&settings).ok();
            assert_eq!(written.as_ref().map(|w| &w["kind"]), Some(&row["kind"]));
        }
    }
}
