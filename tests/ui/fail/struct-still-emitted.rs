// The attribute has a mistake, but the struct and everything generated from
// the arguments that were right are still emitted: the code below uses them
// and reports nothing; only the attribute's own error shows.
use telemetry_runtime::{emit, instrumented_adapter, InstrumentedAdapter};

#[instrumented_adapter(
    hosts(cap = 0),
    labels(tenant(cap = 8)),
    events(resolved(tenant, doi: String)),
)]
#[derive(Debug, Default)]
pub struct Crossref {
    pub base: String,
}

impl Crossref {
    fn new(base: &str) -> Self {
        Crossref { base: base.to_owned() }
    }
}

fn describe(adapter: &Crossref) -> String {
    format!("{adapter:?}")
}

fn main() {
    let c = Crossref::new("https://api.crossref.org");
    let _ = describe(&c);
    let _ = Crossref::default().base;
    c.emit().resolved("acme", "10.1000/182".into());
    emit!(c, resolved("acme", String::new()));
    let _: Option<CrossrefEvent> = None;
    let _ = Crossref::MANIFEST.name;
    let _ = Crossref::telemetry();
}
