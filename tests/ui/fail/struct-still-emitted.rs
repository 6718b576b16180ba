// The attribute is wrong, but the struct is still emitted: the code that
// uses it below reports nothing, only the attribute's own error shows.
use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(hosts(cap = 0))]
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
}
