// Rejected event fields keep their place in the emitter's signature, so calls
// written for the intended signature report nothing extra: only the three
// field errors show.
use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(
    labels(tenant(cap = 8)),
    events(resolved(tenant, region, event: String, item: Vec<T>, doi: String)),
)]
pub struct Cache<T> {
    pub items: Vec<T>,
}

fn main() {
    let c = Cache { items: vec![1_u8] };
    c.emit().resolved("acme", "eu", "kind".into(), vec![2_u8], "10.1000/182".into());
}
