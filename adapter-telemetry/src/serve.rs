//! `adapter-telemetry serve`.
use crate::error::{Failure, Result};
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {}
pub(crate) fn run(_: &ServeArgs) -> Result<()> {
    Err(Failure::new("todo"))
}
