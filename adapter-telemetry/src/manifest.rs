//! The adapters' manifests as stored in the `manifests` table.
//!
//! `AdapterManifest` holds `&'static` data and only serialises, so the
//! runtime's generators (alert rules, dashboards) cannot take a manifest
//! read back from JSON directly. [`StoredManifest`] is an owned mirror that
//! deserialises; [`StoredManifest::leak`] turns it into the runtime's type by
//! leaking its strings and slices. The leak is bounded: one per distinct
//! manifest read from the database (at most one per adapter and run, and
//! `serve` caches them by their JSON, see `serve::ManifestCache`).

use serde::Deserialize;
use telemetry_runtime::manifest::{
    AdapterManifest, EventSpec, FieldSpec, LabelSpec, LatencyObjective, Naming, SloSpec,
};

/// `Naming`, deserialisable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StoredNaming {
    Prometheus,
    OpenTelemetry,
}

impl From<StoredNaming> for Naming {
    fn from(n: StoredNaming) -> Self {
        match n {
            StoredNaming::Prometheus => Naming::Prometheus,
            StoredNaming::OpenTelemetry => Naming::OpenTelemetry,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StoredLabel {
    pub(crate) name: String,
    pub(crate) cap: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StoredField {
    pub(crate) name: String,
    pub(crate) ty: String,
    #[serde(default)]
    pub(crate) secret: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StoredEvent {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) labels: Vec<String>,
    #[serde(default)]
    pub(crate) fields: Vec<StoredField>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub(crate) struct StoredLatency {
    pub(crate) quantile: f64,
    pub(crate) target_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub(crate) struct StoredSlo {
    #[serde(default)]
    pub(crate) success_percent: Option<f64>,
    #[serde(default)]
    pub(crate) latency: Option<StoredLatency>,
}

/// One row of `manifests.manifest_json`, owned.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StoredManifest {
    pub(crate) name: String,
    pub(crate) type_name: String,
    pub(crate) naming: StoredNaming,
    pub(crate) host_cap: u32,
    #[serde(default)]
    pub(crate) labels: Vec<StoredLabel>,
    #[serde(default)]
    pub(crate) events: Vec<StoredEvent>,
    #[serde(default)]
    pub(crate) slo: Option<StoredSlo>,
    pub(crate) cardinality_budget: u64,
}

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn leak_slice<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

impl StoredManifest {
    /// Parses `manifest_json`.
    pub(crate) fn parse(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The runtime's `AdapterManifest` with the same content, leaked (see the
    /// module docs for why that is bounded).
    pub(crate) fn leak(&self) -> &'static AdapterManifest {
        let labels = self
            .labels
            .iter()
            .map(|l| LabelSpec {
                name: leak_str(&l.name),
                cap: l.cap,
            })
            .collect();
        let events = self
            .events
            .iter()
            .map(|e| EventSpec {
                name: leak_str(&e.name),
                labels: leak_slice(e.labels.iter().map(|l| leak_str(l)).collect()),
                fields: leak_slice(
                    e.fields
                        .iter()
                        .map(|f| FieldSpec {
                            name: leak_str(&f.name),
                            ty: leak_str(&f.ty),
                            secret: f.secret,
                        })
                        .collect(),
                ),
            })
            .collect();
        Box::leak(Box::new(AdapterManifest {
            name: leak_str(&self.name),
            type_name: leak_str(&self.type_name),
            naming: self.naming.into(),
            host_cap: self.host_cap,
            labels: leak_slice(labels),
            events: leak_slice(events),
            slo: self.slo.map(|s| SloSpec {
                success_percent: s.success_percent,
                latency: s.latency.map(|l| LatencyObjective {
                    quantile: l.quantile,
                    target_seconds: l.target_seconds,
                }),
            }),
            cardinality_budget: self.cardinality_budget,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    static M: AdapterManifest = AdapterManifest {
        name: "crossref",
        type_name: "Crossref",
        naming: Naming::OpenTelemetry,
        host_cap: 16,
        labels: &[LabelSpec {
            name: "tenant",
            cap: 8,
        }],
        events: &[EventSpec {
            name: "resolved",
            labels: &["tenant"],
            fields: &[FieldSpec {
                name: "doi",
                ty: "String",
                secret: true,
            }],
        }],
        slo: Some(SloSpec {
            success_percent: Some(99.5),
            latency: Some(LatencyObjective {
                quantile: 0.99,
                target_seconds: 0.5,
            }),
        }),
        cardinality_budget: 10_000,
    };

    #[test]
    fn a_manifest_survives_the_round_trip_through_json() {
        let json = serde_json::to_string(&M).unwrap();
        let back = StoredManifest::parse(&json).unwrap().leak();
        assert_eq!(*back, M);
    }

    #[test]
    fn a_manifest_without_slo_or_events_parses() {
        let json = r#"{"name":"a","type_name":"A","naming":"prometheus","host_cap":4,
            "labels":[],"events":[],"slo":null,"cardinality_budget":100}"#;
        let m = StoredManifest::parse(json).unwrap().leak();
        assert_eq!(m.slo, None);
        assert_eq!(m.naming, Naming::Prometheus);
    }
}
