//! No exposition repeats a series (#10), whatever the methods, status codes
//! and error types: a property test over random mixes, sent as events
//! through `PrometheusSink`, rendered, read back by a strict parser of the
//! text format written here, compared with a model of what each host must
//! show, and handed to `promtool check metrics`.
//!
//! `promtool check metrics` does not notice a repeated series (it lints names
//! and help texts; `x{a="1"} 1` twice passes), and Debian's Prometheus 2.42
//! keeps the first of two repeated samples and drops the other without an
//! error: the parser's uniqueness check and the exact per-host model are what
//! catch a repeat.
//!
//! Runs alone in a child process: hundreds of hosts with full status tables
//! make a large exposition, which the other tests (a real Prometheus
//! scraping every second, `promtool` on the whole exposition) should not
//! have to render.
//!
//! Reproduce a failure with the seed it prints:
//! `TELEMETRY_EXPOSITION_SEED=<seed> cargo test -p telemetry-tests --test backends exposition`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use telemetry_runtime::backends::prometheus::state::STATUS_SLOTS;
use telemetry_runtime::backends::prometheus::{
    render, PrometheusSink, OTHER_CODE_STATUS, OTHER_ERROR_STATUS,
};
use telemetry_runtime::events::*;
use telemetry_runtime::manifest::Naming;
use telemetry_runtime::{instrumented_adapter, AdapterTelemetry, InstrumentedAdapter};
use telemetry_tests::support::{promtool_check_metrics, require_tool};

// Budgets far above the series these caps allow: the test is about label
// values, not about the macro's cardinality check.
#[instrumented_adapter(name = "expo_prom", hosts(cap = 500), budget = 1000000)]
struct ExpoProm {}

#[instrumented_adapter(
    name = "expo_otel",
    hosts(cap = 500),
    naming = "opentelemetry",
    budget = 1000000
)]
struct ExpoOtel {}

/// Rounds per adapter; each round is one host (a fresh one while the cap
/// lasts, then the overflow host `_OTHER`, which many rounds then share).
const ROUNDS: u64 = 600;
/// The exposition is checked after every this many rounds, and at the end.
const CHECK_EVERY: u64 = 150;

// ---------------------------------------------------------------------------
// A small deterministic PRNG (SplitMix64): no crate, same mixes every run for
// one seed.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Codes that broke the exposition or sit on a boundary of the label space.
const EDGE_CODES: &[u16] = &[
    0, 1, 42, 99, 100, 101, 199, 200, 599, 600, 601, 609, 610, 699, 700, 999, 1000, 1001, 9999,
    65535,
];
const COMMON_CODES: &[u16] = &[
    200, 201, 204, 301, 304, 400, 401, 403, 404, 429, 500, 502, 503, 504,
];
/// Spellings of the overflow value a host may arrive with: each must fold.
const OVERFLOW_SPELLINGS: &[&str] = &["_OTHER", "_other", "_Other", "_OTHER.", "_OTHER:443"];

fn random_code(rng: &mut Rng) -> u16 {
    match rng.below(4) {
        0 => rng.pick(COMMON_CODES),
        1 => rng.pick(EDGE_CODES),
        2 => 100 + rng.below(900) as u16,
        _ => rng.below(65536) as u16,
    }
}

fn random_method(rng: &mut Rng) -> HttpMethod {
    // `_OTHER` often: it is where the folded pairs live.
    if rng.chance(30) {
        HttpMethod::Other
    } else {
        rng.pick(&HttpMethod::ALL)
    }
}

fn random_error(rng: &mut Rng) -> ErrorType {
    if rng.chance(30) {
        ErrorType::Other
    } else {
        rng.pick(ErrorType::ALL)
    }
}

// ---------------------------------------------------------------------------
// The model: what `http_requests_total` of one host must show, written from
// the documented label values (docs/metrics.md), not from the renderer.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    Code(u16),
    Error(ErrorType),
}

#[derive(Debug, Default)]
struct HostModel {
    /// The distinct `(method, outcome)` pairs in first-seen order: the first
    /// `STATUS_SLOTS` have a series of their own.
    pairs: Vec<((HttpMethod, Outcome), u64)>,
    folded: u64,
}

impl HostModel {
    fn add(&mut self, method: HttpMethod, outcome: Outcome) {
        if let Some(p) = self.pairs.iter_mut().find(|p| p.0 == (method, outcome)) {
            p.1 += 1;
        } else if self.pairs.len() < STATUS_SLOTS {
            self.pairs.push(((method, outcome), 1));
        } else {
            self.folded += 1;
        }
    }

    /// Expected samples: sorted labels → value.
    fn expected(&self, naming: Naming, adapter: &str, host: &str) -> BTreeMap<Labels, f64> {
        let (host_l, method_l, status_l, error_l) = match naming {
            Naming::Prometheus => ("host", "method", "status", "status"),
            Naming::OpenTelemetry => (
                "server_address",
                "http_request_method",
                "http_response_status_code",
                "error_type",
            ),
        };
        let mut out = BTreeMap::new();
        let mut add = |method: &str, key: &str, value: String, n: u64| {
            let labels = sorted(vec![
                ("adapter".into(), adapter.into()),
                (host_l.into(), host.into()),
                (method_l.into(), method.into()),
                (key.into(), value),
            ]);
            *out.entry(labels).or_insert(0.0) += n as f64;
        };
        for ((method, outcome), n) in &self.pairs {
            match outcome {
                Outcome::Code(c @ 100..=999) => add(method.as_str(), status_l, c.to_string(), *n),
                Outcome::Code(_) => add(method.as_str(), status_l, "_OTHER".into(), *n),
                Outcome::Error(ErrorType::Other) if naming == Naming::Prometheus => {
                    add(method.as_str(), error_l, "other_error".into(), *n)
                }
                Outcome::Error(t) => add(method.as_str(), error_l, t.as_str().into(), *n),
            }
        }
        if self.folded > 0 {
            add("_OTHER", status_l, "_OTHER".into(), self.folded);
        }
        out
    }
}

// ---------------------------------------------------------------------------
// A strict parser of the text format (0.0.4).

type Labels = Vec<(String, String)>;

#[derive(Debug)]
struct Sample {
    line: usize,
    name: String,
    labels: Labels,
    value: f64,
}

fn sorted(mut labels: Labels) -> Labels {
    labels.sort();
    labels
}

fn is_name_start(c: u8, colon: bool) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || (colon && c == b':')
}

fn is_name_char(c: u8, colon: bool) -> bool {
    is_name_start(c, colon) || c.is_ascii_digit()
}

/// A metric (`colon`) or label name at the start of `s`, and the rest.
fn name(s: &str, colon: bool) -> Result<(&str, &str), String> {
    let b = s.as_bytes();
    if b.is_empty() || !is_name_start(b[0], colon) {
        return Err(format!("expected a name at {s:?}"));
    }
    let end = b
        .iter()
        .position(|c| !is_name_char(*c, colon))
        .unwrap_or(b.len());
    Ok((&s[..end], &s[end..]))
}

/// A quoted label value at the start of `s` (after the opening quote), and
/// the rest after the closing quote.
fn label_value(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, 'n')) => out.push('\n'),
                other => return Err(format!("bad escape {other:?} in {s:?}")),
            },
            '\n' => return Err("newline in a label value".into()),
            c => out.push(c),
        }
    }
    Err(format!("unterminated label value {s:?}"))
}

fn number(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        s => s.parse().map_err(|e| format!("bad number {s:?}: {e}")),
    }
}

fn sample_line(line: &str) -> Result<(String, Labels, f64), String> {
    let (metric, mut rest) = name(line, true)?;
    let mut labels: Labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (label, r) = name(rest, false)?;
            let r = r
                .strip_prefix("=\"")
                .ok_or_else(|| format!("expected =\" after {label}"))?;
            let (value, r) = label_value(r)?;
            if labels.iter().any(|(l, _)| l == label) {
                return Err(format!("label {label} twice"));
            }
            labels.push((label.to_owned(), value));
            rest = match r.strip_prefix(',') {
                Some(r) => r,
                None if r.starts_with('}') => r,
                None => return Err(format!("expected , or }} at {r:?}")),
            };
        }
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("expected a space before the value at {rest:?}"))?;
    let mut fields = rest.split(' ');
    let value = number(fields.next().unwrap_or(""))?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|e| format!("bad timestamp {ts:?}: {e}"))?;
    }
    if fields.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok((metric.to_owned(), labels, value))
}

/// Parses `text`, checking the grammar, one `# HELP` and one `# TYPE` per
/// family before its samples, every sample in a declared family, and no
/// (name, labels) twice. Returns the samples.
fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: HashSet<String> = HashSet::new();
    let mut samples = Vec::new();
    let mut seen: HashMap<(String, Labels), usize> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let at = |e: String| format!("line {n}: {e}: {line:?}");
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (family, _) = name(rest, true).map_err(at)?;
            if !helps.insert(family.to_owned()) {
                return Err(at(format!("second HELP of {family}")));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = name(rest, true).map_err(at)?;
            let kind = kind.trim_start();
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(at(format!("unknown type {kind}")));
            }
            if types.insert(family.to_owned(), kind.to_owned()).is_some() {
                return Err(at(format!("second TYPE of {family}")));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (metric, labels, value) = sample_line(line).map_err(at)?;
        let declared = |suffixes: &[&str], kinds: &[&str]| {
            suffixes.iter().any(|suffix| {
                metric
                    .strip_suffix(suffix)
                    .and_then(|family| types.get(family))
                    .is_some_and(|k| kinds.contains(&k.as_str()))
            })
        };
        let in_family = declared(&[""], &["counter", "gauge", "untyped", "summary"])
            || declared(&["_bucket", "_sum", "_count"], &["histogram"])
            || declared(&["_sum", "_count"], &["summary"]);
        if !in_family {
            return Err(at(format!("{metric} is in no declared family")));
        }
        if metric.ends_with("_bucket") && !labels.iter().any(|(l, _)| l == "le") {
            return Err(at("a bucket without `le`".into()));
        }
        let labels = sorted(labels);
        if let Some(first) = seen.insert((metric.clone(), labels.clone()), n) {
            return Err(at(format!("repeats the series of line {first}")));
        }
        samples.push(Sample {
            line: n,
            name: metric,
            labels,
            value,
        });
    }
    Ok(samples)
}

#[test]
fn the_parser_rejects_a_repeated_series_and_bad_lines() {
    let ok = "# HELP x_total a\n# TYPE x_total counter\nx_total{a=\"1\",b=\"q\\\"\\\\\\n\"} 1\nx_total 2 1700000000\n";
    let samples = parse(ok).expect("valid");
    assert_eq!(samples[0].labels[1].1, "q\"\\\n");
    let head = "# HELP x_total a\n# TYPE x_total counter\n";
    for bad in [
        // The same series, labels in another order.
        "x_total{a=\"1\",b=\"2\"} 1\nx_total{b=\"2\",a=\"1\"} 2\n",
        "x_total{a=\"1\"} 1\nx_total{a=\"1\"} 1\n",
        "x_total{a=\"1\",a=\"2\"} 1\n",
        "x_total{a=\"1} 1\n",
        "x_total{a=\"\\t\"} 1\n",
        "x_total{1a=\"1\"} 1\n",
        "x_total one\n",
        "y_total 1\n",
    ] {
        assert!(parse(&format!("{head}{bad}")).is_err(), "{bad:?}");
    }
    assert!(parse(&format!("{head}{head}")).is_err(), "two HELP/TYPE");
}

// ---------------------------------------------------------------------------

struct Driven {
    telemetry: &'static AdapterTelemetry,
    naming: Naming,
    /// Host label → model, for every host the rounds sent to.
    hosts: BTreeMap<String, HostModel>,
}

/// One round: a random mix of responses and errors for one host.
fn round(rng: &mut Rng, d: &mut Driven, round: u64) {
    let t = d.telemetry;
    let raw = if rng.chance(8) {
        rng.pick(OVERFLOW_SPELLINGS).to_owned()
    } else {
        format!("R{round}.Example.com")
    };
    let host = t.hosts().intern_host(&raw, Some("https"));
    if OVERFLOW_SPELLINGS.contains(&raw.as_str()) {
        assert!(host.is_overflow(), "{raw:?} must fold, got {host:?}");
    } else if !host.is_overflow() {
        assert_eq!(host.as_str(), raw.to_ascii_lowercase());
    }
    let model = d.hosts.entry(host.as_str().to_owned()).or_default();
    // A few methods per round, so the duration histograms stay few.
    let methods: Vec<HttpMethod> = (0..1 + rng.below(4)).map(|_| random_method(rng)).collect();
    let most = if rng.chance(30) { 120 } else { 40 };
    let events = 1 + rng.below(most);
    for _ in 0..events {
        let meta = EventMeta::new(t, host, CorrelationId::next(), 1);
        let method = rng.pick(&methods);
        let duration = Duration::from_micros(rng.below(2_000_000));
        if rng.chance(25) {
            let error_type = random_error(rng);
            // Every error type as a wire attempt (a refusal before the wire
            // goes to its own family, not this counter): the encoding must
            // keep each one apart.
            request(t, meta, method);
            t.emit(EventRef::Error(&ErrorEvent {
                meta,
                method,
                error_type,
                message: "failed".into(),
                duration,
                reached_wire: true,
            }));
            model.add(method, Outcome::Error(error_type));
        } else {
            let status = random_code(rng);
            request(t, meta, method);
            t.emit(EventRef::Response(&ResponseEvent {
                meta,
                method,
                status,
                duration,
                body_size: rng.chance(20).then(|| rng.below(1 << 20)),
            }));
            model.add(method, Outcome::Code(status));
        }
    }
}

fn request(t: &'static AdapterTelemetry, meta: EventMeta, method: HttpMethod) {
    t.emit(EventRef::Request(&RequestEvent {
        meta,
        method,
        url: format!("https://{}/", meta.host.as_str()).into(),
        port: 443,
    }));
}

/// Checks one rendering: the parser's rules over the whole exposition, no
/// host posing as `_OTHER`, and the exact `http_requests_total` of every
/// host of `driven` (nothing more, nothing less).
fn check(text: &str, driven: &[&Driven], seed: u64) {
    let samples = parse(text).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    for s in &samples {
        for (label, value) in &s.labels {
            if ["host", "server_address"].contains(&label.as_str()) {
                assert!(
                    value == "_OTHER" || !value.eq_ignore_ascii_case("_other"),
                    "seed {seed}: line {}: a host exported as {value:?}",
                    s.line
                );
            }
        }
    }
    for d in driven {
        let (family, host_label) = match d.naming {
            Naming::Prometheus => ("http_requests_total", "host"),
            Naming::OpenTelemetry => ("http_client_requests_total", "server_address"),
        };
        let adapter = d.telemetry.manifest().name;
        let mut got: BTreeMap<String, BTreeMap<Labels, f64>> = BTreeMap::new();
        for s in samples.iter().filter(|s| {
            s.name == family && s.labels.iter().any(|(l, v)| l == "adapter" && v == adapter)
        }) {
            let host = s
                .labels
                .iter()
                .find(|(l, _)| l == host_label)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("seed {seed}: line {} has no host", s.line));
            got.entry(host)
                .or_default()
                .insert(s.labels.clone(), s.value);
        }
        let want: BTreeMap<String, BTreeMap<Labels, f64>> = d
            .hosts
            .iter()
            .map(|(host, m)| (host.clone(), m.expected(d.naming, adapter, host)))
            .collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "seed {seed}: {adapter}: hosts"
        );
        for (host, want) in &want {
            assert_eq!(&got[host], want, "seed {seed}: {adapter}: host {host}");
        }
    }
}

#[test]
fn no_mix_of_methods_codes_and_errors_repeats_a_series() {
    // The tool requirement is decided here, in the test's own process, so
    // a skip notice is seen (the child's output is shown only on failure).
    let promtool_here = require_tool("promtool");
    telemetry_tests::run_alone!(no_mix_of_methods_codes_and_errors_repeats_a_series);
    let promtool = promtool_here.or_else(|| require_tool("promtool"));
    assert_eq!(OTHER_CODE_STATUS, "_OTHER");
    assert_eq!(OTHER_ERROR_STATUS, "other_error");

    let seed = std::env::var("TELEMETRY_EXPOSITION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0010_u64);
    let mut rng = Rng(seed);
    ExpoProm::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    ExpoOtel::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    let mut prom = Driven {
        telemetry: ExpoProm::telemetry(),
        naming: Naming::Prometheus,
        hosts: BTreeMap::new(),
    };
    let mut otel = Driven {
        telemetry: ExpoOtel::telemetry(),
        naming: Naming::OpenTelemetry,
        hosts: BTreeMap::new(),
    };
    let mut text = String::new();
    for r in 1..=ROUNDS {
        round(&mut rng, &mut prom, r);
        round(&mut rng, &mut otel, r);
        if r % CHECK_EVERY == 0 {
            text = render();
            check(&text, &[&prom, &otel], seed);
        }
    }
    // The mixes reached what they are for: folded pairs, odd codes of an
    // unknown method, and unclassified errors of an unknown method, in both
    // namings; and hosts past the cap.
    for d in [&prom, &otel] {
        let overflow = &d.hosts["_OTHER"];
        assert!(overflow.folded > 0, "the overflow host folded pairs");
        let has = |f: &dyn Fn(&(HttpMethod, Outcome)) -> bool| {
            d.hosts.values().any(|m| m.pairs.iter().any(|(p, _)| f(p)))
        };
        assert!(has(
            &|p| *p == (HttpMethod::Other, Outcome::Error(ErrorType::Other))
        ));
        assert!(has(&|p| p.0 == HttpMethod::Other
            && matches!(p.1, Outcome::Code(c) if !(100..=999).contains(&c))));
        for code in [600, 609, 700, 999] {
            assert!(has(&|p| p.1 == Outcome::Code(code)), "code {code}");
        }
        assert!(d.telemetry.hosts().overflow_count() > 0);
    }
    eprintln!(
        "exposition: seed {seed}, {ROUNDS} rounds per naming, {} hosts, {} lines",
        prom.hosts.len() + otel.hosts.len(),
        text.lines().count()
    );

    if let Some(promtool) = promtool {
        let (ok, output) = promtool_check_metrics(&promtool, &text);
        assert!(ok, "seed {seed}: promtool check metrics failed:\n{output}");
        assert!(
            output.trim().is_empty(),
            "seed {seed}: promtool findings:\n{output}"
        );
    }
}
