//! `#[secret]` payload fields: serialised and debug-printed as `REDACTED`,
//! through the default runtime path and through a re-export.
#![deny(warnings)]

mod facade {
    pub use ::telemetry_runtime as runtime;
}

use telemetry_runtime::events::CustomEvent;
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

#[instrumented_adapter(
    labels(tenant(cap = 4)),
    events(
        login(tenant, user: String, #[secret] token: String, #[secret] pin: Option<u32>),
        logout(tenant),
    ),
)]
pub struct Auth {}

#[facade::runtime::instrumented_adapter(
    crate = "crate::facade::runtime",
    events(rotated(#[secret] r#key: Vec<u8>)),
)]
pub struct Keys {}

fn main() {
    let tenant = Auth::telemetry().label(0).intern("acme");
    let login = AuthEvent::Login {
        tenant,
        user: String::from("ada"),
        token: String::from("s3cr3t"),
        pin: Some(1234),
    };
    assert_eq!(
        format!("{login:?}"),
        r#"Login { tenant: "acme", user: "ada", token: "REDACTED", pin: "REDACTED" }"#
    );
    assert_eq!(
        serde_json::to_value(&login).ok(),
        Some(serde_json::json!({
            "event": "login",
            "tenant": "acme",
            "user": "ada",
            "token": "REDACTED",
            "pin": "REDACTED",
        }))
    );
    // What every sink reads: the erased payload.
    let event: &dyn CustomEvent = &login;
    assert_eq!(
        serde_json::to_value(event.payload()).ok(),
        serde_json::to_value(&login).ok()
    );
    let _ = format!("{:?}", AuthEvent::Logout { tenant });
    let rotated = KeysEvent::Rotated { r#key: vec![1, 2, 3] };
    assert_eq!(format!("{rotated:?}"), r#"Rotated { key: "REDACTED" }"#);
    Auth {}.emit().login("acme", String::from("ada"), String::from("s3cr3t"), None);
    Keys {}.emit().rotated(vec![4]);
}
