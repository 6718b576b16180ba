//! The fixtures, re-exported flat: `use telemetry_tests::support::{drive, sample};`.

pub mod capture;
pub mod events;
pub mod exposition;
pub mod fs;
pub mod otlp;
pub mod process;
pub mod prometheus;
pub mod recording;
pub mod sim;
pub mod tools;

pub use capture::Captured;
pub use events::drive;
pub use exposition::{families, promtool_check_metrics, sample};
pub use fs::{free_port, temp_dir, wait_for};
pub use otlp::{otlp_receiver, OtlpRequest, OtlpRequests};
pub use process::quiet_panics;
pub use prometheus::{prometheus_dir, Prometheus};
pub use recording::{assert_one_request, describe, describe_all, of, record};
pub use sim::flaky_host;
pub use tools::{in_ci, require_any_tool, require_tool};
