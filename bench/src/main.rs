//! `bench`: every benchmark of docs/performance.md in one run, interleaved,
//! with medians over rounds, written as markdown.
//!
//! ```text
//! bench [all] [--out FILE] [--rounds N] [--samples N] [--stack-rounds N] [--quick]
//! bench micro                  # hot-path tables only
//! bench render                 # render/memory table only
//! bench hosts                  # million-hosts table only
//! bench stack                  # loopback full-stack overhead (and the span floor)
//! bench spans                  # span floor only: one span per subscriber
//! bench stack-count NAME N     # N requests of one stack variant (run under callgrind)
//! bench hot-count SYMBOL N     # N calls of one unmangled hot-path function (run under callgrind)
//! ```
//!
//! Render and million-host scenarios run in child processes (this binary,
//! with a hidden `child-*` sub-command) so each one's memory is its own.

use std::fmt::Write as _;
use std::process::Command;

use telemetry_bench::harness::{run_interleaved, Stats};
use telemetry_bench::memory::HostsResult;
use telemetry_bench::render::RenderResult;
use telemetry_bench::{memory, micro, render, stack};

struct Options {
    what: String,
    out: Option<String>,
    rounds: usize,
    samples: usize,
    stack_rounds: usize,
    stack_per_round: usize,
    series: Vec<usize>,
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1).peekable();
    let mut o = Options {
        what: "all".into(),
        out: None,
        rounds: 21,
        samples: 1_000_000,
        stack_rounds: 30,
        stack_per_round: 400,
        series: vec![100, 1_000, 10_000, 100_000],
    };
    if let Some(first) = args.peek() {
        if !first.starts_with("--") {
            o.what = args.next().unwrap_or_default();
        }
    }
    let mut rest: Vec<String> = Vec::new();
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--out" => o.out = Some(value("--out")?),
            "--rounds" => {
                o.rounds = value("--rounds")?
                    .parse()
                    .map_err(|e| format!("--rounds: {e}"))?
            }
            "--samples" => {
                o.samples = value("--samples")?
                    .parse()
                    .map_err(|e| format!("--samples: {e}"))?
            }
            "--stack-rounds" => {
                o.stack_rounds = value("--stack-rounds")?
                    .parse()
                    .map_err(|e| format!("--stack-rounds: {e}"))?
            }
            "--quick" => {
                o.rounds = 7;
                o.samples = 200_000;
                o.stack_rounds = 10;
                o.stack_per_round = 200;
                o.series = vec![1_000, 10_000];
            }
            _ => rest.push(a),
        }
    }
    if o.what.starts_with("child-") || o.what == "stack-count" || o.what == "hot-count" {
        // Children take positional arguments; keep them in `out` untouched.
        o.out = Some(rest.join(" "));
    } else if !rest.is_empty() {
        return Err(format!("unknown arguments: {}", rest.join(" ")));
    }
    Ok(o)
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    match o.what.as_str() {
        "child-render" => {
            let args = o.out.unwrap_or_default();
            let a: Vec<&str> = args.split_whitespace().collect();
            let (Some(exporter), Some(series), Some(scraped), Some(samples)) = (
                a.first(),
                a.get(1).and_then(|s| s.parse().ok()),
                a.get(2).and_then(|s| s.parse().ok()),
                a.get(3).and_then(|s| s.parse().ok()),
            ) else {
                eprintln!("child-render EXPORTER SERIES SCRAPED SAMPLES");
                std::process::exit(2);
            };
            let r = match *exporter {
                "ours" => render::ours(series, samples, scraped),
                _ => render::metrics_exporter(series, samples, scraped),
            };
            println!("{}", r.to_line());
        }
        "child-upstream" => {
            if let Err(e) = stack::serve_upstream() {
                eprintln!("bench: upstream: {e}");
                std::process::exit(1);
            }
        }
        "stack-count" => {
            let args = o.out.unwrap_or_default();
            // NAME may contain spaces: the count is the last word.
            let Some((name, n)) = args
                .rsplit_once(' ')
                .and_then(|(name, n)| Some((name, n.parse::<usize>().ok()?)))
            else {
                eprintln!("stack-count NAME N");
                std::process::exit(2);
            };
            if let Err(e) = stack::count(name, n) {
                eprintln!("bench: stack-count: {e}");
                std::process::exit(1);
            }
        }
        "hot-count" => {
            let args = o.out.unwrap_or_default();
            let a: Vec<&str> = args.split_whitespace().collect();
            let (Some(&symbol), Some(n), 2) = (
                a.first(),
                a.get(1).and_then(|n| n.parse::<usize>().ok()),
                a.len(),
            ) else {
                eprintln!("hot-count SYMBOL N");
                std::process::exit(2);
            };
            match micro::hot_count(symbol, n) {
                Ok(calls) => println!("{symbol}\t{calls}"),
                Err(e) => {
                    eprintln!("bench: hot-count: {e}");
                    std::process::exit(2);
                }
            }
        }
        "child-hosts" => {
            let r = match o.out.as_deref().unwrap_or("ours") {
                "ours" => memory::ours(),
                "metrics" => memory::metrics_exporter(),
                _ => memory::rust_prometheus(),
            };
            println!("{}", r.to_line());
        }
        what => {
            let mut report = String::new();
            let _ = writeln!(report, "{}", machine());
            if matches!(what, "all" | "micro") {
                micro_tables(&mut report, o.rounds);
            }
            if matches!(what, "all" | "render") {
                render_table(&mut report, &o.series, o.samples);
            }
            if matches!(what, "all" | "hosts") {
                hosts_table(&mut report);
            }
            if matches!(what, "all" | "stack") {
                stack_table(&mut report, o.stack_rounds, o.stack_per_round);
            }
            if matches!(what, "all" | "stack" | "spans") {
                eprintln!("bench: span floor ({} rounds)", o.rounds);
                let mut cases = stack::span_cases();
                let stats = run_interleaved(&mut cases, o.rounds, 20.0);
                stats_table(
                    &mut report,
                    "Span floor: one client-shaped span per subscriber",
                    &stats,
                    "request span (7 fields, 3 enters, 1 record), registry",
                );
            }
            print!("{report}");
            if let Some(path) = o.out {
                if let Err(e) = std::fs::write(&path, &report) {
                    eprintln!("bench: cannot write {path}: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("Machine: {cores} CPUs, {cpu}.\n")
}

fn stats_table(report: &mut String, title: &str, stats: &[Stats], ours: &str) {
    let reference = stats
        .iter()
        .find(|s| s.name.starts_with(ours))
        .map_or(f64::NAN, |s| s.median);
    let _ = writeln!(report, "\n### {title}\n");
    let _ = writeln!(
        report,
        "| case | median ns/op | IQR | min-max | x ours ({ours}) |"
    );
    let _ = writeln!(report, "|---|---:|---:|---:|---:|");
    for s in stats {
        let _ = writeln!(
            report,
            "| {} | {:.1} | {:.1}-{:.1} | {:.1}-{:.1} | {:.1} |",
            s.name,
            s.median,
            s.q1,
            s.q3,
            s.min,
            s.max,
            s.median / reference
        );
    }
    if let Some(s) = stats.first() {
        let _ = writeln!(
            report,
            "\n{} rounds, interleaved in rotating order; each round runs every case for a batch of about 20 ms. Median, interquartile range and extremes over rounds, in ns per operation (harness included: see the baseline row).",
            s.rounds
        );
    }
}

fn micro_tables(report: &mut String, rounds: usize) {
    eprintln!("bench: recording one request ({rounds} rounds)");
    let mut cases = micro::record_cases();
    let stats = run_interleaved(&mut cases, rounds, 20.0);
    stats_table(
        report,
        "Record one request (counter + duration + size histograms, host label)",
        &stats,
        "ours: host_metrics",
    );
    eprintln!("bench: one counter increment ({rounds} rounds)");
    let mut cases = micro::counter_cases();
    let stats = run_interleaved(&mut cases, rounds, 20.0);
    stats_table(
        report,
        "One counter increment with a host label",
        &stats,
        "ours: host_metrics",
    );
}

fn child(args: &[String]) -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe).args(args).output().ok()?;
    if !out.status.success() {
        eprintln!(
            "bench: child {:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    String::from_utf8(out.stdout)
        .ok()?
        .lines()
        .last()
        .map(str::to_string)
}

fn mb(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn render_table(report: &mut String, series: &[usize], samples: usize) {
    let mut rows = Vec::new();
    for &n in series {
        for exporter in ["ours", "metrics"] {
            for scraped in [false, true] {
                eprintln!("bench: render {exporter} {n} series, scraped={scraped}");
                let args = [
                    "child-render".to_string(),
                    exporter.to_string(),
                    n.to_string(),
                    scraped.to_string(),
                    samples.to_string(),
                ];
                if let Some(r) = child(&args).and_then(|l| RenderResult::from_line(&l)) {
                    rows.push(r);
                }
            }
        }
    }
    let _ = writeln!(
        report,
        "\n### `/metrics` render time and memory vs series count\n\n{samples} requests recorded after the series exist (a counter and two histogram samples each), with {} scrapes spread over them or none; then one render (first) and five more (steady, median).\n",
        render::SCRAPES
    );
    let _ = writeln!(report, "| exporter | hosts (label sets) | time series (sample lines) | scraped while recording | first render ms | steady render ms | exposition kB | RSS after registering MB | RSS growth while recording MB | RSS after render MB | ns per recorded request (incl. scrapes) |");
    let _ = writeln!(
        report,
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let _ = writeln!(
            report,
            "| {} | {} ({}) | {} | {} | {:.2} | {:.2} | {:.0} | {:.1} | {:+.1} | {:.1} | {:.1} |",
            r.exporter,
            r.hosts,
            r.hosts * 10,
            r.lines,
            if r.scraped { "yes" } else { "no" },
            r.first_render_ms,
            r.steady_render_ms,
            r.bytes as f64 / 1024.0,
            mb(r.rss_registered),
            mb(r.rss_after_samples) - mb(r.rss_registered),
            mb(r.rss_after_render),
            r.record_ns
        );
    }
}

fn hosts_table(report: &mut String) {
    let mut rows = Vec::new();
    for exporter in ["ours", "metrics", "prometheus"] {
        eprintln!("bench: {} distinct hosts through {exporter}", memory::HOSTS);
        let args = ["child-hosts".to_string(), exporter.to_string()];
        if let Some(r) = child(&args).and_then(|l| HostsResult::from_line(&l)) {
            rows.push(r);
        }
    }
    let _ = writeln!(
        report,
        "\n### {} distinct hosts\n\nRSS in MB after N distinct hosts (each: intern + one recorded request for ours; one counter increment for the peers).\n",
        memory::HOSTS
    );
    let mut header = String::from(
        "| exporter | host cap | `http_requests_total` series at the end | RSS at start",
    );
    let mut rule = String::from("|---|---:|---:|---:");
    for c in memory::CHECKPOINTS {
        let _ = write!(header, " | {c}");
        rule.push_str("|---:");
    }
    let _ = writeln!(report, "{header} | ns per host |");
    let _ = writeln!(report, "{rule}|---:|");
    for r in rows {
        let mut line = format!(
            "| {} | {} | {} | {:.1}",
            r.exporter,
            if r.cap == 0 {
                "none".to_string()
            } else {
                r.cap.to_string()
            },
            r.series,
            mb(r.rss_start)
        );
        for c in &r.checkpoints {
            let _ = write!(line, " | {:.1}", mb(c.rss));
        }
        let _ = writeln!(report, "{line} | {:.0} |", r.ns_per_host);
    }
}

fn stack_table(report: &mut String, rounds: usize, per_round: usize) {
    eprintln!("bench: loopback GET, {rounds} rounds of {per_round} requests per variant");
    let (stats, _) = match stack::measure(rounds, per_round, true) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench: full-stack benchmark failed: {e}");
            let _ = writeln!(report, "\n### Full stack\n\nFAILED: {e}");
            return;
        }
    };
    let _ = writeln!(
        report,
        "\n### Full-stack overhead on a loopback GET ({} B body, upstream in its own process)\n\n{rounds} rounds x {per_round} requests per variant, interleaved in rotating order. CPU = this process's user + system time per request; ratio = median over rounds of (variant / bare reqwest) in the same round.\n",
        stack::BODY
    );
    let _ = writeln!(report, "| variant | client CPU us/request (median) | IQR | client CPU ratio to bare | client CPU overhead | ratio IQR | ratio min-max | client + upstream CPU us/request | its ratio to bare | wall us/request |");
    let _ = writeln!(report, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in stats {
        let _ = writeln!(
            report,
            "| {} | {:.2} | {:.2}-{:.2} | {:.3} | {:+.1} % | {:.3}-{:.3} | {:.3}-{:.3} | {:.2} | {:.3} | {:.1} |",
            s.name,
            s.cpu_us,
            s.cpu_us_q.0,
            s.cpu_us_q.1,
            s.ratio,
            (s.ratio - 1.0) * 100.0,
            s.ratio_q.0,
            s.ratio_q.1,
            s.ratio_minmax.0,
            s.ratio_minmax.1,
            s.total_cpu_us,
            s.total_ratio,
            s.wall_us
        );
    }
}
