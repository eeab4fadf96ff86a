use super::parse::split_expiry;
use super::*;
use crate::config::LineConfig;
use chrono::Utc;
use inlet_domain::Provider;

fn settings() -> Settings {
    Settings::default()
}

fn meta_line(id: &str, secret: &str, token: &str) -> LineConfig {
    LineConfig {
        id: id.into(),
        provider: Some(Provider::Meta),
        app_secret: Secret::new(secret),
        verify_token: Secret::new(token),
        ..LineConfig::default()
    }
}

fn message(result: Result<Senders, SettingsError>) -> String {
    result.expect_err("refused").to_string()
}

#[test]
fn a_gateway_without_any_sender_is_refused_naming_the_variables() {
    let text = message(Senders::from_settings(&settings()));
    assert!(text.contains("INLET_META_APP_SECRET"), "{text}");
    assert!(text.contains("INLET_STANDARD_SOURCES"), "{text}");
}

#[test]
fn the_insecure_flag_starts_without_senders_and_routes_everything() {
    let s = Settings {
        insecure_skip_signatures: true,
        ..settings()
    };
    let senders = Senders::from_settings(&s).expect("starts");
    assert!(senders.meta.unified().is_some());
    assert!(senders.standard.line("anything").is_some());
}

#[test]
fn a_meta_secret_without_a_verify_token_names_the_token_variable() {
    let s = Settings {
        meta_app_secret: Secret::new("secret"),
        ..settings()
    };
    assert!(message(Senders::from_settings(&s)).contains("INLET_META_VERIFY_TOKEN"));
}

#[test]
fn a_meta_line_without_any_verify_token_names_the_token_variable() {
    let s = Settings {
        lines: vec![meta_line("106540352242922", "secret", "")],
        ..settings()
    };
    assert!(message(Senders::from_settings(&s)).contains("INLET_META_VERIFY_TOKEN"));
}

#[test]
fn meta_secrets_may_carry_an_expiry() {
    let (secret, at) = split_expiry("abc@2026-12-31T00:00:00Z");
    assert_eq!(secret, "abc");
    assert_eq!(at.map(|t| t.timestamp()), Some(1_798_675_200));
    assert_eq!(split_expiry("abc@def"), ("abc@def", None));
    assert_eq!(split_expiry("plain"), ("plain", None));
}

#[test]
fn an_expired_meta_secret_no_longer_verifies() {
    let s = Settings {
        meta_app_secret: Secret::new("old@2020-01-01T00:00:00Z,new"),
        meta_verify_token: Secret::new("t"),
        ..settings()
    };
    let senders = Senders::from_settings(&s).expect("valid");
    let creds = senders.meta.unified().expect("configured");
    let old = MetaSecret::new("old", None).expect("key");
    let body = b"{}";
    let sig = inlet_domain::signature::meta::sign(&old, body);
    let verdict =
        inlet_domain::signature::meta::verify(Some(&sig), body, &creds.secrets, Utc::now());
    assert!(verdict.is_err());
}

#[test]
fn a_line_uses_its_own_secret_and_the_unified_route_accepts_all() {
    let s = Settings {
        meta_app_secret: Secret::new("global"),
        meta_verify_token: Secret::new("t"),
        lines: vec![meta_line("L1", "own", "")],
        ..settings()
    };
    let senders = Senders::from_settings(&s).expect("valid");
    assert_eq!(senders.meta.line("L1").expect("line").secrets.len(), 1);
    assert_eq!(
        senders.meta.line("L1").expect("line").verify_tokens.len(),
        1,
        "falls back to the global token"
    );
    assert_eq!(senders.meta.unified().expect("unified").secrets.len(), 2);
    assert!(senders.meta.line("L2").is_none());
    assert!(senders.meta.is_unknown("L2"));
    assert!(!senders.meta.is_unknown("L1"));
}

#[test]
fn without_configured_lines_no_line_is_unknown() {
    let s = Settings {
        bridge_secret: Secret::new("b"),
        ..settings()
    };
    let senders = Senders::from_settings(&s).expect("valid");
    assert!(!senders.bridge.is_unknown("anything"));
    assert!(senders.meta.unified().is_none(), "meta is not configured");
    assert!(senders.openphone.unified().is_none());
}

#[test]
fn standard_sources_are_name_secret_pairs() {
    let s = Settings {
        standard_sources: Secret::new(
            "billing=whsec_aW5sZXQtc3RhbmRhcmQtd2ViaG9va3Mta2V5LTAwMDE=, crm=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        ..settings()
    };
    let senders = Senders::from_settings(&s).expect("valid");
    assert!(senders.standard.line("billing").is_some());
    assert!(senders.standard.line("crm").is_some());
    assert!(senders.standard.line("other").is_none());
    assert!(senders.standard.unified().is_none());
}

#[test]
fn a_malformed_standard_source_names_the_variable_without_the_secret() {
    for bad in [
        "whsec_abc",
        "=whsec_abc",
        "a b=whsec_abc",
        "billing=whsec_!!!",
    ] {
        let s = Settings {
            standard_sources: Secret::new(bad),
            ..settings()
        };
        let text = message(Senders::from_settings(&s));
        assert!(text.contains("INLET_STANDARD_SOURCES"), "{text}");
        assert!(!text.contains("!!!"), "{text}");
    }
}

#[test]
fn an_openphone_key_that_is_not_base64_names_its_variable() {
    let s = Settings {
        openphone_signing_key: Secret::new("not base64!"),
        ..settings()
    };
    assert!(message(Senders::from_settings(&s)).contains("INLET_OPENPHONE_SIGNING_KEY"));
}

#[test]
fn a_line_without_a_provider_or_any_secret_is_refused() {
    let s = Settings {
        lines: vec![LineConfig {
            id: "x".into(),
            ..LineConfig::default()
        }],
        ..settings()
    };
    assert!(message(Senders::from_settings(&s)).contains("line x has no provider"));
    let s = Settings {
        lines: vec![LineConfig {
            id: "s1".into(),
            provider: Some(Provider::Bridge),
            ..LineConfig::default()
        }],
        ..settings()
    };
    assert!(message(Senders::from_settings(&s)).contains("line s1"));
}

#[test]
fn the_unified_route_tries_each_key_once() {
    let s = Settings {
        bridge_secret: Secret::new("global"),
        lines: (0..5)
            .map(|n| LineConfig {
                id: format!("s{n}"),
                provider: Some(Provider::Bridge),
                ..LineConfig::default()
            })
            .chain([LineConfig {
                id: "own".into(),
                provider: Some(Provider::Bridge),
                secret: Secret::new("own-secret"),
                ..LineConfig::default()
            }])
            .collect(),
        ..settings()
    };
    let senders = Senders::from_settings(&s).expect("valid");
    assert_eq!(senders.bridge.unified().expect("unified").secrets.len(), 2);
    assert_eq!(senders.bridge.line("s3").expect("line").secrets.len(), 1);
}

#[test]
fn an_openphone_line_takes_each_missing_format_from_the_global_settings() {
    let s = Settings {
        openphone_webhook_secret: Secret::new("whsec_aW5sZXQtcXVvLTIwMjYtMDMtMzAtdGVzdC1rZXktMDE="),
        lines: vec![LineConfig {
            id: "PN1".into(),
            provider: Some(Provider::OpenPhone),
            signing_key: Secret::new("aW5sZXQ="),
            ..LineConfig::default()
        }],
        ..settings()
    };
    let senders = Senders::from_settings(&s).expect("valid");
    let line = senders.openphone.line("PN1").expect("line");
    assert_eq!((line.keys.len(), line.secrets.len()), (1, 1));
}
