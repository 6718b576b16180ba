//! The runtime's layers, checked on its own sources (issue 9).
//!
//! Every `.rs` file under `telemetry-runtime/src` is parsed with `syn` and
//! turned into a graph of which file depends on which. The check fails, with a
//! report naming the file and line of every problem, when
//!
//! * a file depends on a layer its row in [`LAYERS`] does not allow,
//! * files depend on each other in a circle (within a layer or across layers;
//!   each group of files that reach each other is shown as circles through it,
//!   with the line of every step),
//! * a file is in no layer, or cannot be read or parsed.
//!
//! **What is a dependency.** Every `use` (at any depth: in functions, impls,
//! inline modules, cfg'd items; cfg is ignored), and every other path (in
//! expressions, types, patterns, trait bounds, attributes and the tokens of
//! macro calls) that starts with `crate::`, `super::`, `self::` or with the
//! name of a child module of the module it is written in (`breaker::Policy`
//! in `client/mod.rs`). Doc comments and strings are not code, so they never
//! count. Inside a `macro_rules!` body only a plain `crate::` path counts
//! (`$crate::`, `super::` and `self::` there depend on where the macro is used).
//!
//! **Which file a path reaches.** The path is made absolute (`super::names::Family`
//! written in `backends/prometheus/text.rs` is `crate::backends::prometheus::names::Family`)
//! and reaches the file that holds the longest prefix of it that is a module:
//! `crate::core::events::EventRef` reaches `src/core/events.rs` (or
//! `src/core/events/mod.rs`), `crate::core::events::lifecycle::Start` reaches
//! `src/core/events/lifecycle.rs` when that file exists. An inline `mod x { }`
//! belongs to the file it is written in. A file reaching itself is no edge.
//!
//! **Facades.** A `pub`, `pub(crate)` or `pub(super)` `use` of something in a
//! file's own descendants (`pub use events::Event;` in `core/mod.rs`) is a
//! re-export, not a dependency, so a child may import an item through its
//! parent's facade without making a circle.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::path::Path;

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt as _;
use syn::visit::{self, Visit};

/// The layers, by file path under `telemetry-runtime/src/`.
///
/// A file belongs to the first row one of whose patterns matches it; a file
/// that no row matches is an error. In `files`, `*` matches one path segment
/// (in `*.rs`, a file's stem) and `**`, which ends a pattern, one or more
/// segments. The row named `backends/*` is one layer per backend
/// (`backends/prometheus`, `backends/otlp`, ...).
///
/// In `may use`, `backends/*` is every backend, `self` the file's own layer and
/// `*` any layer. A file may always depend on files of its own layer.
#[rustfmt::skip]
const LAYERS: &[Layer] = &[
    // layer          files                                may use
    row("core",       &["core.rs", "core/**"],             &["core"]),
    row("sink",       &["sink.rs", "sink/**"],             &["core", "sink"]),
    row("client",     &["client.rs", "client/**"],         &["core", "client"]),
    // The backends facade declares the backends, so it may reach each of them.
    row("backends",   &["backends.rs", "backends/mod.rs"], &["core", "backends/*"]),
    // One backend: core and itself, never another backend, sink, client or server.
    row("backends/*", &["backends/*.rs", "backends/*/**"], &["core", "self"]),
    row("server",     &["server.rs", "server/**"],         &["core", "sink", "backends", "backends/*", "server"]),
    row("tools",      &["tools.rs", "tools/**"],           &["core", "tools"]),
    // Runtime control (issue 12) orchestrates reloads across the client,
    // the sinks, the server and the backends: the top layer, which nothing
    // else may use (the server reaches it only through its `ReloadHook`).
    row("control",    &["control.rs", "control/**"],       &["core", "sink", "client", "backends", "backends/*", "server", "control"]),
    row("root",       &["lib.rs"],                         &["*"]),
];

/// One row of [`LAYERS`].
struct Layer {
    name: &'static str,
    files: &'static [&'static str],
    may_use: &'static [&'static str],
}

const fn row(
    name: &'static str,
    files: &'static [&'static str],
    may_use: &'static [&'static str],
) -> Layer {
    Layer {
        name,
        files,
        may_use,
    }
}

// ---------------------------------------------------------------------------
// The check on the real sources.

#[test]

fn the_runtime_sources_follow_the_layers() {
    let (files, unreadable) = runtime_sources();
    let mut report = check(&borrowed(&files));
    report.unreadable.extend(unreadable);
    assert!(report.is_clean(), "{report}");
}

/// Runs today, so the scanner keeps up with the syntax the runtime uses.
#[test]
fn every_runtime_source_can_be_read_and_parsed() {
    let (files, unreadable) = runtime_sources();
    let mut report = Report {
        unreadable,
        ..Report::default()
    };
    let parsed = parse_all(&borrowed(&files), &mut report);
    assert!(report.unreadable.is_empty(), "{report}");
    assert!(
        parsed.iter().any(|f| f.path == "src/lib.rs"),
        "no src/lib.rs among {} files",
        parsed.len()
    );
}

/// Every `.rs` file under the crate's `src/`, as (`src/...` path, source),
/// sorted by path, and what could not be read.
fn runtime_sources() -> (Vec<(String, String)>, Vec<String>) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut errors = Vec::new();
    read_sources(crate_dir, &crate_dir.join("src"), &mut files, &mut errors);
    files.sort();
    (files, errors)
}

fn read_sources(
    crate_dir: &Path,
    dir: &Path,
    files: &mut Vec<(String, String)>,
    errors: &mut Vec<String>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(format!("{}: cannot read directory: {e}", dir.display()));
            return;
        }
    };
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => {
                errors.push(format!("{}: cannot list an entry: {e}", dir.display()));
                continue;
            }
        };
        if path.is_dir() {
            read_sources(crate_dir, &path, files, errors);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let shown = path.strip_prefix(crate_dir).unwrap_or(&path);
            let shown: Vec<_> = shown.iter().map(|part| part.to_string_lossy()).collect();
            match std::fs::read_to_string(&path) {
                Ok(source) => files.push((shown.join("/"), source)),
                Err(e) => errors.push(format!("{}: cannot read: {e}", shown.join("/"))),
            }
        }
    }
}

fn borrowed(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files
        .iter()
        .map(|(path, source)| (path.as_str(), source.as_str()))
        .collect()
}

// ---------------------------------------------------------------------------
// The checker.

/// Checks (`src/...` path, source) pairs against [`LAYERS`].
fn check(files: &[(&str, &str)]) -> Report {
    let mut report = Report::default();
    let files = parse_all(files, &mut report);
    let edges = dependencies(&files);
    check_layers(&files, &edges, &mut report);
    check_circles(&files, &edges, &mut report);
    report
}

/// Everything wrong with a tree, every problem listed.
#[derive(Default)]
struct Report {
    /// Files that could not be read or parsed.
    unreadable: Vec<String>,
    /// Files no row of [`LAYERS`] places.
    unplaced: Vec<String>,
    crossings: Vec<Crossing>,
    circle_groups: Vec<CircleGroup>,
}

/// References on one line of one file into a layer the file's layer may not use.
struct Crossing {
    file: String,
    line: usize,
    /// The paths as written, e.g. `super::names::Family`.
    paths: Vec<String>,
    layer: String,
    may_use: String,
    reaches_layer: String,
    reaches_file: String,
}

/// A group of files that all reach each other (a strongly connected
/// component of the graph), shown as circles through it: the shortest one
/// through its first file, then more until every file of the group is in one.
struct CircleGroup {
    files: Vec<String>,
    /// Each circle's steps: the first reference of a file to the next.
    circles: Vec<Vec<Step>>,
}

struct Step {
    file: String,
    line: usize,
    path: String,
    reaches: String,
}

impl Report {
    fn is_clean(&self) -> bool {
        self.problems() == 0
    }

    fn problems(&self) -> usize {
        let circles: usize = self.circle_groups.iter().map(|g| g.circles.len()).sum();
        self.unreadable.len() + self.unplaced.len() + self.crossings.len() + circles
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "layer check: {} problem(s); the layer table is at the top of telemetry-runtime/tests/layers.rs",
            self.problems()
        )?;
        if !self.unreadable.is_empty() {
            writeln!(
                f,
                "\nfiles that cannot be read or parsed ({}):",
                self.unreadable.len()
            )?;
            for problem in &self.unreadable {
                writeln!(f, "  {problem}")?;
            }
        }
        if !self.unplaced.is_empty() {
            writeln!(f, "\nfiles in no layer ({}):", self.unplaced.len())?;
            for file in &self.unplaced {
                writeln!(f, "  file {file} is in no layer; add it to the layer table")?;
            }
        }
        if !self.crossings.is_empty() {
            writeln!(
                f,
                "\nuses that cross a layer the wrong way ({}):",
                self.crossings.len()
            )?;
            for c in &self.crossings {
                let paths: Vec<String> = c.paths.iter().map(|p| format!("`{p}`")).collect();
                writeln!(
                    f,
                    "  {}:{}: {} — {} may depend on {}; this reaches {} ({})",
                    c.file,
                    c.line,
                    paths.join(", "),
                    c.layer,
                    c.may_use,
                    c.reaches_layer,
                    c.reaches_file
                )?;
            }
        }
        if !self.circle_groups.is_empty() {
            writeln!(
                f,
                "\nimport circles, by group of files that reach each other ({} group(s)):",
                self.circle_groups.len()
            )?;
            for group in &self.circle_groups {
                writeln!(
                    f,
                    "  {} files: {}",
                    group.files.len(),
                    group.files.join(", ")
                )?;
                for circle in &group.circles {
                    let mut chain: Vec<&str> = circle.iter().map(|s| s.file.as_str()).collect();
                    chain.extend(circle.first().map(|s| s.file.as_str()));
                    writeln!(f, "    {}", chain.join(" -> "))?;
                    for s in circle {
                        writeln!(
                            f,
                            "      {}:{}: `{}` reaches {}",
                            s.file, s.line, s.path, s.reaches
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// One parsed file.
struct SourceFile {
    /// As the report shows it: `src/core/events.rs`.
    path: String,
    /// The module the file holds: `[]` for `src/lib.rs`, `[core, events]` for
    /// `src/core/events.rs` or `src/core/events/mod.rs`.
    module: Vec<String>,
    /// The inline `mod x { }` blocks in the file, as absolute module paths.
    inline_modules: Vec<Vec<String>>,
    references: Vec<Reference>,
}

/// A path written in a file that may name a module of this crate.
struct Reference {
    /// As written: `["super", "names", "Family"]`.
    segments: Vec<String>,
    /// The module it is written in: the file's module, plus any inline `mod`s around it.
    scope: Vec<String>,
    line: usize,
    /// Written in a `pub`, `pub(crate)` or `pub(super)` `use`.
    reexport: bool,
}

/// A dependency of one file on another.
struct Edge {
    from: usize,
    to: usize,
    line: usize,
    path: String,
}

/// Parses every file; the ones that fail go to `report.unreadable`.
fn parse_all(files: &[(&str, &str)], report: &mut Report) -> Vec<SourceFile> {
    let mut parsed = Vec::new();
    for (path, source) in files {
        match syn::parse_file(source) {
            Ok(syntax) => {
                let module = module_of(in_src(path));
                let mut collector = Collector {
                    scope: module.clone(),
                    inline_modules: Vec::new(),
                    references: Vec::new(),
                };
                collector.visit_file(&syntax);
                parsed.push(SourceFile {
                    path: path.to_string(),
                    module,
                    inline_modules: collector.inline_modules,
                    references: collector.references,
                });
            }
            Err(e) => report.unreadable.push(format!(
                "{path}:{}: cannot parse: {e}",
                e.span().start().line
            )),
        }
    }
    parsed
}

/// `src/core/events.rs` -> `core/events.rs`.
fn in_src(path: &str) -> &str {
    path.strip_prefix("src/").unwrap_or(path)
}

/// The module a file under `src/` holds: `lib.rs` the crate root, `a/mod.rs`
/// and `a.rs` the module `a`.
fn module_of(file: &str) -> Vec<String> {
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    let mut module: Vec<String> = stem.split('/').map(String::from).collect();
    if module == ["lib"] || module.last().is_some_and(|last| last == "mod") {
        module.pop();
    }
    module
}

/// Walks one file and writes down every path that may name one of this
/// crate's modules. Which of them do is only known once every file is read.
struct Collector {
    scope: Vec<String>,
    inline_modules: Vec<Vec<String>>,
    references: Vec<Reference>,
}

/// Where a path was written.
#[derive(Clone, Copy, PartialEq)]
enum WrittenIn {
    /// In code: an expression, type, pattern, attribute or macro call.
    Code,
    /// In a private `use`.
    Use,
    /// In a `pub`, `pub(crate)` or `pub(super)` `use`.
    Reexport,
}

impl Collector {
    fn note(&mut self, segments: Vec<String>, span: Span, written: WrittenIn) {
        let Some(first) = segments.first() else {
            return;
        };
        let anchored = matches!(first.as_str(), "crate" | "super" | "self");
        // `x` alone in code is a local name; `x::y` may start at a child module.
        if !anchored && segments.len() < 2 && written == WrittenIn::Code {
            return;
        }
        self.references.push(Reference {
            segments,
            scope: self.scope.clone(),
            line: span.start().line,
            reexport: written == WrittenIn::Reexport,
        });
    }

    /// Every leaf of a `use` tree, as the full path it imports.
    fn use_tree(&mut self, tree: &syn::UseTree, prefix: &mut Vec<String>, written: WrittenIn) {
        let leaf = |prefix: &[String], name: &syn::Ident| {
            let mut path = prefix.to_vec();
            // `use a::{self}` imports `a` itself.
            if name != "self" || prefix.is_empty() {
                path.push(name.unraw().to_string());
            }
            path
        };
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.unraw().to_string());
                self.use_tree(&p.tree, prefix, written);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.note(leaf(prefix, &n.ident), n.ident.span(), written),
            syn::UseTree::Rename(r) => self.note(leaf(prefix, &r.ident), r.ident.span(), written),
            syn::UseTree::Glob(g) => self.note(prefix.clone(), g.star_token.spans[0], written),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(tree, prefix, written);
                }
            }
        }
    }

    /// The `a::b::c` runs of identifiers in a macro's tokens. With
    /// `crate_only`, only the ones that start with a plain `crate`.
    fn token_paths(&mut self, tokens: TokenStream, crate_only: bool) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(group) => {
                    self.token_paths(group.stream(), crate_only);
                    i += 1;
                }
                TokenTree::Ident(first) if starts_path(&tokens, i) => {
                    let mut segments = vec![first.unraw().to_string()];
                    let mut j = i + 1;
                    while let Some(next) = ident_after_path_separator(&tokens, j) {
                        segments.push(next.unraw().to_string());
                        j += 3;
                    }
                    if !crate_only || segments[0] == "crate" {
                        self.note(segments, first.span(), WrittenIn::Code);
                    }
                    i = j;
                }
                _ => i += 1,
            }
        }
    }
}

/// Whether the identifier at `tokens[i]` starts a path: it does unless it
/// follows `$` (`$crate`, `$name`), `.` (a field or method) or `::` (the
/// middle of a path).
fn starts_path(tokens: &[TokenTree], i: usize) -> bool {
    let punct = |at: Option<usize>| match at.and_then(|at| tokens.get(at)) {
        Some(TokenTree::Punct(p)) => Some((p.as_char(), p.spacing())),
        _ => None,
    };
    let before = punct(i.checked_sub(1));
    let path_separator = before == Some((':', proc_macro2::Spacing::Alone))
        && punct(i.checked_sub(2)) == Some((':', proc_macro2::Spacing::Joint));
    !path_separator && !matches!(before, Some(('$' | '.', _)))
}

/// The identifier in `:: ident` at `tokens[at..]`, if that is what is there.
fn ident_after_path_separator(tokens: &[TokenTree], at: usize) -> Option<&proc_macro2::Ident> {
    match tokens.get(at..at + 3)? {
        [TokenTree::Punct(a), TokenTree::Punct(b), TokenTree::Ident(ident)]
            if a.as_char() == ':'
                && a.spacing() == proc_macro2::Spacing::Joint
                && b.as_char() == ':' =>
        {
            Some(ident)
        }
        _ => None,
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.scope.push(item.ident.unraw().to_string());
        if item.content.is_some() {
            self.inline_modules.push(self.scope.clone());
        }
        visit::visit_item_mod(self, item);
        self.scope.pop();
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if item.leading_colon.is_some() {
            return; // `use ::other_crate::...`
        }
        let written = match &item.vis {
            syn::Visibility::Public(_) => WrittenIn::Reexport,
            syn::Visibility::Restricted(r) if !r.path.is_ident("self") => WrittenIn::Reexport,
            _ => WrittenIn::Use,
        };
        self.use_tree(&item.tree, &mut Vec::new(), written);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            if let Some(first) = path.segments.first() {
                let segments = path
                    .segments
                    .iter()
                    .map(|s| s.ident.unraw().to_string())
                    .collect();
                self.note(segments, first.ident.span(), WrittenIn::Code);
            }
        }
        visit::visit_path(self, path);
    }

    /// `pub(in crate::a)` says who may see an item; it depends on nothing.
    fn visit_vis_restricted(&mut self, _: &'ast syn::VisRestricted) {}

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        visit::visit_macro(self, mac);
        self.token_paths(mac.tokens.clone(), false);
    }

    fn visit_item_macro(&mut self, item: &'ast syn::ItemMacro) {
        if item.ident.is_some() {
            // A `macro_rules!` definition: its body is resolved where it is used.
            self.token_paths(item.mac.tokens.clone(), true);
        } else {
            visit::visit_item_macro(self, item);
        }
    }
}

/// Every dependency between two files.
fn dependencies(files: &[SourceFile]) -> Vec<Edge> {
    // Which file holds each module.
    let mut owner: BTreeMap<&[String], usize> = BTreeMap::new();
    for (i, file) in files.iter().enumerate() {
        owner.entry(&file.module).or_insert(i);
        for inline in &file.inline_modules {
            owner.entry(inline).or_insert(i);
        }
    }
    let mut edges = Vec::new();
    for (from, file) in files.iter().enumerate() {
        for r in &file.references {
            let is_module = |module: &[String]| owner.contains_key(module);
            let Some(full) = absolute(&r.segments, &r.scope, is_module) else {
                continue;
            };
            let Some(to) = (0..=full.len())
                .rev()
                .find_map(|n| owner.get(&full[..n]).copied())
            else {
                continue;
            };
            let facade = r.reexport && files[to].module.starts_with(&file.module);
            if to != from && !facade {
                edges.push(Edge {
                    from,
                    to,
                    line: r.line,
                    path: r.segments.join("::"),
                });
            }
        }
    }
    edges
}

/// The path from the crate root that `segments`, written in module `scope`,
/// names; `None` when it names nothing in this crate (another crate, a local
/// name, `super` above the root).
fn absolute(
    segments: &[String],
    scope: &[String],
    is_module: impl Fn(&[String]) -> bool,
) -> Option<Vec<String>> {
    let first = segments.first()?;
    let (mut base, mut rest) = match first.as_str() {
        "crate" => (Vec::new(), &segments[1..]),
        "self" => (scope.to_vec(), &segments[1..]),
        "super" => (scope.to_vec(), segments),
        _ => {
            let child = [scope, std::slice::from_ref(first)].concat();
            if !is_module(&child) {
                return None;
            }
            (scope.to_vec(), segments)
        }
    };
    while let Some((head, tail)) = rest.split_first() {
        if head != "super" {
            break;
        }
        base.pop()?;
        rest = tail;
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The layer a file under `src/` is in: its name (with `*` filled in) and its row.
fn place(file: &str) -> Option<(String, &'static Layer)> {
    LAYERS.iter().find_map(|layer| {
        let caught = layer.files.iter().find_map(|pattern| glob(pattern, file))?;
        Some((layer.name.replace('*', caught), layer))
    })
}

/// Matches `file` (`backends/prometheus/text.rs`) against `pattern`
/// (`backends/*/**`); returns what `*` matched, `""` if the pattern has none.
fn glob<'f>(pattern: &str, file: &'f str) -> Option<&'f str> {
    let mut caught = "";
    let mut parts = file.split('/');
    for want in pattern.split('/') {
        if want == "**" {
            return parts.next().map(|_| caught);
        }
        let part = parts.next()?;
        match want.split_once('*') {
            None if want == part => {}
            Some((head, tail))
                if part.len() > head.len() + tail.len()
                    && part.starts_with(head)
                    && part.ends_with(tail) =>
            {
                caught = &part[head.len()..part.len() - tail.len()];
            }
            _ => return None,
        }
    }
    parts.next().is_none().then_some(caught)
}

/// Whether a file of layer `name` (row `layer`) may depend on layer `target`.
fn allows(layer: &Layer, name: &str, target: &str) -> bool {
    name == target
        || layer.may_use.iter().any(|&allowed| match allowed {
            "*" => true,
            "self" => false, // `name == target`, above
            _ => match allowed.strip_suffix("/*") {
                Some(family) => target
                    .strip_prefix(family)
                    .is_some_and(|t| t.starts_with('/')),
                None => allowed == target,
            },
        })
}

/// What a layer may depend on, for the report.
fn describe_may_use(layer: &Layer, name: &str) -> String {
    let names: Vec<&str> = layer
        .may_use
        .iter()
        .map(|&allowed| match allowed {
            "self" => name,
            "*" => "anything",
            other => other,
        })
        .collect();
    names.join(", ")
}

fn check_layers(files: &[SourceFile], edges: &[Edge], report: &mut Report) {
    let places: Vec<_> = files.iter().map(|file| place(in_src(&file.path))).collect();
    for (file, place) in files.iter().zip(&places) {
        if place.is_none() {
            report.unplaced.push(file.path.clone());
        }
    }
    // (file, line, reached file) -> paths, so one line reads as one problem.
    let mut crossings: BTreeMap<(usize, usize, usize), Vec<String>> = BTreeMap::new();
    for edge in edges {
        let (Some((name, layer)), Some((target, _))) = (&places[edge.from], &places[edge.to])
        else {
            continue; // A file in no layer is reported above.
        };
        if !allows(layer, name, target) {
            let paths = crossings
                .entry((edge.from, edge.line, edge.to))
                .or_default();
            if !paths.contains(&edge.path) {
                paths.push(edge.path.clone());
            }
        }
    }
    for ((from, line, to), paths) in crossings {
        let (Some((name, layer)), Some((target, _))) = (&places[from], &places[to]) else {
            continue;
        };
        report.crossings.push(Crossing {
            file: files[from].path.clone(),
            line,
            paths,
            layer: name.clone(),
            may_use: describe_may_use(layer, name),
            reaches_layer: target.clone(),
            reaches_file: files[to].path.clone(),
        });
    }
}

fn check_circles(files: &[SourceFile], edges: &[Edge], report: &mut Report) {
    // The first reference (lowest line) of each file to each other file.
    let mut first: BTreeMap<(usize, usize), &Edge> = BTreeMap::new();
    for edge in edges {
        let kept = first.entry((edge.from, edge.to)).or_insert(edge);
        if edge.line < kept.line {
            *kept = edge;
        }
    }
    let mut next = vec![Vec::new(); files.len()];
    for &(from, to) in first.keys() {
        next[from].push(to);
    }
    for group in strongly_connected(&next) {
        if group.len() < 2 {
            continue;
        }
        let members: BTreeSet<usize> = group.into_iter().collect();
        let mut covered = BTreeSet::new();
        let mut circles = Vec::new();
        for &start in &members {
            if covered.contains(&start) {
                continue;
            }
            let chain = shortest_circle(start, &next, &members);
            covered.extend(chain.iter().copied());
            let steps = chain
                .iter()
                .zip(chain.iter().cycle().skip(1))
                .filter_map(|(&from, &to)| {
                    let edge = first.get(&(from, to))?;
                    Some(Step {
                        file: files[from].path.clone(),
                        line: edge.line,
                        path: edge.path.clone(),
                        reaches: files[to].path.clone(),
                    })
                })
                .collect();
            circles.push(steps);
        }
        report.circle_groups.push(CircleGroup {
            files: members.iter().map(|&i| files[i].path.clone()).collect(),
            circles,
        });
    }
    report.circle_groups.sort_by(|a, b| a.files.cmp(&b.files));
}

/// Tarjan's strongly connected components of the graph `next[file] = files it reaches`.
fn strongly_connected(next: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct Tarjan<'g> {
        next: &'g [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        counter: usize,
        groups: Vec<Vec<usize>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, v: usize) {
            self.index[v] = Some(self.counter);
            self.low[v] = self.counter;
            self.counter += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            let next = self.next;
            for &w in &next[v] {
                match self.index[w] {
                    None => {
                        self.visit(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(index) if self.on_stack[w] => self.low[v] = self.low[v].min(index),
                    Some(_) => {}
                }
            }
            if self.index[v] == Some(self.low[v]) {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    group.push(w);
                    if w == v {
                        break;
                    }
                }
                self.groups.push(group);
            }
        }
    }
    let n = next.len();
    let mut tarjan = Tarjan {
        next,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        counter: 0,
        groups: Vec::new(),
    };
    for v in 0..n {
        if tarjan.index[v].is_none() {
            tarjan.visit(v);
        }
    }
    tarjan.groups
}

/// A shortest circle from `start` back to it, through `within` only, as the
/// files in order (`start` first, not repeated at the end).
fn shortest_circle(start: usize, next: &[Vec<usize>], within: &BTreeSet<usize>) -> Vec<usize> {
    let mut came_from: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &next[v] {
            if w == start {
                let mut chain = vec![v];
                while let Some(&before) = came_from.get(&chain[chain.len() - 1]) {
                    chain.push(before);
                }
                if chain.last() != Some(&start) {
                    chain.push(start);
                }
                chain.reverse();
                return chain;
            }
            if within.contains(&w) && !came_from.contains_key(&w) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}

// ---------------------------------------------------------------------------
// The checker on small trees, to show it can fail.

/// (from, line, to) of every dependency in a tree that parses.
fn edges_of(files: &[(&str, &str)]) -> Vec<(String, usize, String)> {
    let mut report = Report::default();
    let parsed = parse_all(files, &mut report);
    assert!(report.unreadable.is_empty(), "{report}");
    dependencies(&parsed)
        .into_iter()
        .map(|e| {
            (
                parsed[e.from].path.clone(),
                e.line,
                parsed[e.to].path.clone(),
            )
        })
        .collect()
}

fn edge(from: &str, line: usize, to: &str) -> (String, usize, String) {
    (from.to_string(), line, to.to_string())
}

/// A tree laid out as the issue asks, with every kind of allowed reference.
const CLEAN: &[(&str, &str)] = &[
    (
        "src/lib.rs",
        "pub mod backends;\npub mod client;\npub mod core;\npub mod server;\npub mod sink;\n\
         pub use crate::core::Event;\n",
    ),
    (
        "src/core/mod.rs",
        "pub mod events;\npub use events::{Event, Meta};\n",
    ),
    (
        "src/core/events.rs",
        "pub struct Event;\npub struct Meta;\n",
    ),
    (
        "src/sink/mod.rs",
        "use crate::core::Event;\npub trait Sink { fn on(&self, e: &Event); }\n",
    ),
    (
        "src/client/mod.rs",
        "mod retry;\npub use retry::Policy;\npub struct Client(super::core::Meta);\n",
    ),
    (
        "src/client/retry.rs",
        "use super::super::core::events::Meta;\npub struct Policy;\n",
    ),
    (
        "src/backends/mod.rs",
        "pub mod prometheus;\npub mod otlp;\n",
    ),
    (
        "src/backends/prometheus/mod.rs",
        "mod text;\nuse crate::core::Event;\nfn f() { text::render(); }\n",
    ),
    ("src/backends/prometheus/text.rs", "pub fn render() {}\n"),
    ("src/backends/otlp.rs", "fn f(_: crate::core::Meta) {}\n"),
    (
        "src/server/mod.rs",
        "use crate::backends::prometheus;\nuse crate::sink::Sink;\nfn f(_: &dyn Sink) {}\n",
    ),
];

#[test]
fn a_clean_tree_passes() {
    let report = check(CLEAN);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn a_core_file_using_the_client_is_reported_with_its_line() {
    let mut files = CLEAN.to_vec();
    files[2] = (
        "src/core/events.rs",
        "//! Events.\n\nuse crate::client::Client;\npub struct Event;\npub struct Meta;\n\
         fn f() -> crate::sink::Sink { todo!() }\n",
    );
    let report = check(&files);
    let text = report.to_string();
    assert_eq!(report.crossings.len(), 2, "{text}");
    assert!(
        text.contains(
            "src/core/events.rs:3: `crate::client::Client` — core may depend on core; \
             this reaches client (src/client/mod.rs)"
        ),
        "{text}"
    );
    assert!(
        text.contains("src/core/events.rs:6: `crate::sink::Sink`"),
        "{text}"
    );
    // No circle: client and sink reach core only through its facade, which
    // re-exports `events.rs` without depending on it.
    assert!(report.circle_groups.is_empty(), "{text}");
}

#[test]
fn a_two_file_circle_is_reported() {
    let files = [
        ("src/lib.rs", "pub mod core;\n"),
        ("src/core/mod.rs", "pub mod a;\npub mod b;\n"),
        ("src/core/a.rs", "use super::b::B;\npub struct A;\n"),
        (
            "src/core/b.rs",
            "pub struct B;\n\npub fn f() -> crate::core::a::A { todo!() }\n",
        ),
    ];
    let report = check(&files);
    let text = report.to_string();
    assert!(
        report.crossings.is_empty() && report.unplaced.is_empty(),
        "{text}"
    );
    assert_eq!(report.problems(), 1, "{text}");
    assert!(
        text.contains("src/core/a.rs -> src/core/b.rs -> src/core/a.rs"),
        "{text}"
    );
    assert!(
        text.contains("src/core/a.rs:1: `super::b::B` reaches src/core/b.rs"),
        "{text}"
    );
    assert!(
        text.contains("src/core/b.rs:3: `crate::core::a::A` reaches src/core/a.rs"),
        "{text}"
    );
}

#[test]
fn every_file_of_a_circle_group_is_shown_in_a_circle() {
    let files = [
        ("src/lib.rs", "pub mod core;\n"),
        (
            "src/core/mod.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub mod d;\n",
        ),
        ("src/core/a.rs", "use super::b::B;\n"),
        ("src/core/b.rs", "use super::c::C;\nuse super::a::A;\n"),
        ("src/core/c.rs", "use super::a::A;\n"),
        ("src/core/d.rs", "use super::a::A;\n"), // reaches the group, is not in it
    ];
    let report = check(&files);
    let text = report.to_string();
    assert_eq!(report.circle_groups.len(), 1, "{text}");
    assert_eq!(report.problems(), 2, "{text}");
    assert!(
        text.contains("3 files: src/core/a.rs, src/core/b.rs, src/core/c.rs\n"),
        "{text}"
    );
    assert!(
        text.contains("    src/core/a.rs -> src/core/b.rs -> src/core/a.rs\n"),
        "{text}"
    );
    assert!(
        text.contains("    src/core/c.rs -> src/core/a.rs -> src/core/b.rs -> src/core/c.rs\n"),
        "{text}"
    );
}

#[test]
fn a_facade_reexport_is_not_an_edge() {
    let facade = [
        ("src/lib.rs", "pub mod core;\n"),
        (
            "src/core/mod.rs",
            "mod events;\nmod labels;\nmod names;\n\
             pub use self::events::Event;\npub(crate) use labels::Label;\npub(super) use names::*;\n",
        ),
        ("src/core/events.rs", "use super::Label;\npub struct Event;\n"),
        ("src/core/labels.rs", "use crate::core::Event;\npub struct Label;\n"),
        ("src/core/names.rs", "pub struct Name;\n"),
    ];
    assert_eq!(
        edges_of(&facade),
        [
            edge("src/core/events.rs", 1, "src/core/mod.rs"),
            edge("src/core/labels.rs", 1, "src/core/mod.rs")
        ]
    );
    assert!(check(&facade).is_clean(), "{}", check(&facade));

    // A private `use` of a child is a dependency, and here makes a circle.
    let mut private = facade;
    private[1] = (
        "src/core/mod.rs",
        "mod events;\nmod labels;\nmod names;\nuse events::Event;\n",
    );
    assert!(edges_of(&private).contains(&edge("src/core/mod.rs", 4, "src/core/events.rs")));
    assert_eq!(
        check(&private).circle_groups.len(),
        1,
        "{}",
        check(&private)
    );

    // Re-exporting what is not a descendant is a dependency too.
    let mut sideways = facade;
    sideways[4] = ("src/core/names.rs", "pub use super::labels::Label;\n");
    assert!(edges_of(&sideways).contains(&edge("src/core/names.rs", 1, "src/core/labels.rs")));
}

#[test]
fn a_super_path_resolves() {
    let files = [
        ("src/lib.rs", "pub mod core;\npub mod client;\n"),
        ("src/core/mod.rs", "pub struct Meta;\n"),
        (
            "src/client/mod.rs",
            "mod breaker;\nmod retry;\npub struct Client;\n",
        ),
        ("src/client/breaker.rs", "pub struct Breaker;\n"),
        (
            "src/client/retry.rs",
            "use super::breaker::Breaker;\n\
             fn f() -> super::super::core::Meta { todo!() }\n\
             #[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::Client;\n}\n",
        ),
    ];
    // `super::*` in `retry.rs`'s inline `tests` is `retry` itself: no edge.
    assert_eq!(
        edges_of(&files),
        [
            edge("src/client/retry.rs", 1, "src/client/breaker.rs"),
            edge("src/client/retry.rs", 2, "src/core/mod.rs"),
            edge("src/client/retry.rs", 6, "src/client/mod.rs"),
        ]
    );
}

#[test]
fn a_path_that_starts_at_a_child_module_resolves() {
    let files = [
        ("src/lib.rs", "pub mod client;\n"),
        (
            "src/client/mod.rs",
            "mod breaker;\nmod retry;\n\
             fn f() {\n    let retry = breaker::Breaker::new();\n    retry.go();\n}\n\
             fn g() -> tokio::time::Instant { todo!() }\n",
        ),
        ("src/client/breaker.rs", "pub struct Breaker;\n"),
        ("src/client/retry.rs", "pub struct Policy;\n"),
    ];
    // `retry` alone is the local variable, `tokio::` another crate.
    assert_eq!(
        edges_of(&files),
        [edge("src/client/mod.rs", 4, "src/client/breaker.rs")]
    );
}

#[test]
fn a_nested_use_tree_gives_every_edge() {
    let files = [
        (
            "src/lib.rs",
            "pub mod core;\npub mod sink;\npub mod tools;\n",
        ),
        ("src/core/mod.rs", "pub struct X;\n"),
        ("src/sink/mod.rs", "pub mod c;\n"),
        ("src/sink/c.rs", "pub struct Y;\n"),
        (
            "src/tools/mod.rs",
            "use crate::{\n    core::X,\n    sink::{c::Y},\n};\n",
        ),
    ];
    assert_eq!(
        edges_of(&files),
        [
            edge("src/tools/mod.rs", 2, "src/core/mod.rs"),
            edge("src/tools/mod.rs", 3, "src/sink/c.rs")
        ]
    );
    let text = check(&files).to_string();
    assert!(
        text.contains(
            "src/tools/mod.rs:3: `crate::sink::c::Y` — tools may depend on core, tools; \
             this reaches sink (src/sink/c.rs)"
        ),
        "{text}"
    );
}

#[test]
fn a_path_reaches_the_longest_module_that_is_a_file() {
    let files = [
        ("src/lib.rs", "pub mod core;\npub mod client;\n"),
        ("src/core/mod.rs", "pub mod events;\n"),
        ("src/core/events/mod.rs", "pub mod lifecycle;\npub struct EventRef;\npub mod inline { pub struct Z; }\n"),
        ("src/core/events/lifecycle.rs", "pub struct Start;\n"),
        (
            "src/client/mod.rs",
            "use crate::core::events::EventRef;\nuse crate::core::events::lifecycle::Start;\n\
             use crate::core::events::inline::Z;\nuse crate::core::{self};\nuse crate::core::events::*;\n",
        ),
    ];
    assert_eq!(
        edges_of(&files),
        [
            edge("src/client/mod.rs", 1, "src/core/events/mod.rs"),
            edge("src/client/mod.rs", 2, "src/core/events/lifecycle.rs"),
            edge("src/client/mod.rs", 3, "src/core/events/mod.rs"),
            edge("src/client/mod.rs", 4, "src/core/mod.rs"),
            edge("src/client/mod.rs", 5, "src/core/events/mod.rs"),
        ]
    );
}

#[test]
fn paths_count_anywhere_in_code_but_not_in_docs_or_strings() {
    let files = [
        ("src/lib.rs", "pub mod core;\npub mod client;\n"),
        ("src/core/mod.rs", "pub struct A;\n"),
        (
            "src/client/mod.rs",
            "//! See [`crate::core::A`].\n\
             const DOC: &str = \"crate::core::A\";\n\
             impl Client { fn f(&self) -> Option<crate::core::A> { None } }\n\
             #[cfg(feature = \"never\")]\nfn g() { let _ = crate::core::A; }\n\
             fn h() { assert!(matches!(Some(1), Some(_)), \"{}\", crate::core::A); }\n\
             macro_rules! m { () => { $crate::core::A }; }\n\
             fn i() { use crate::core::A as B; }\n\
             fn j() -> Value { json!({ \"a\": crate::core::A }) }\n\
             macro_rules! n { () => { crate::core::A }; }\n\
             macro_rules! o { () => { super::core::A }; }\n",
        ),
    ];
    assert_eq!(
        edges_of(&files),
        [
            edge("src/client/mod.rs", 3, "src/core/mod.rs"),
            edge("src/client/mod.rs", 5, "src/core/mod.rs"),
            edge("src/client/mod.rs", 6, "src/core/mod.rs"),
            edge("src/client/mod.rs", 8, "src/core/mod.rs"),
            edge("src/client/mod.rs", 9, "src/core/mod.rs"),
            edge("src/client/mod.rs", 10, "src/core/mod.rs"),
        ]
    );
}

#[test]
fn a_backend_may_not_reach_another_backend_nor_the_facade() {
    let files = [
        ("src/lib.rs", "pub mod backends;\npub mod core;\n"),
        ("src/core/mod.rs", "pub struct A;\n"),
        (
            "src/backends/mod.rs",
            "pub mod names;\npub mod otlp;\npub mod prometheus;\npub struct Shared;\n",
        ),
        ("src/backends/names.rs", "pub struct Family;\n"),
        (
            "src/backends/otlp.rs",
            "use super::names::Family;\nuse super::Shared;\n",
        ),
        ("src/backends/prometheus.rs", "mod text;\n"),
        (
            "src/backends/prometheus/text.rs",
            "use super::super::otlp;\nuse super::*;\n",
        ),
    ];
    let report = check(&files);
    let text = report.to_string();
    let found: Vec<(&str, usize, &str)> = report
        .crossings
        .iter()
        .map(|c| (c.file.as_str(), c.line, c.reaches_layer.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("src/backends/otlp.rs", 1, "backends/names"),
            ("src/backends/otlp.rs", 2, "backends"),
            ("src/backends/prometheus/text.rs", 1, "backends/otlp"),
        ],
        "{text}"
    );
    assert!(
        text.contains("backends/otlp may depend on core, backends/otlp;"),
        "{text}"
    );
}

#[test]
fn a_file_in_no_layer_and_a_file_that_does_not_parse_are_reported() {
    let files = [
        ("src/lib.rs", "pub mod core;\npub mod config;\n"),
        ("src/core/mod.rs", "fn broken() { let = 1; }\n"),
        ("src/config.rs", "pub struct Config;\n"),
    ];
    let report = check(&files);
    let text = report.to_string();
    assert_eq!(report.problems(), 2, "{text}");
    assert!(
        text.contains("file src/config.rs is in no layer; add it to the layer table"),
        "{text}"
    );
    assert!(text.contains("src/core/mod.rs:1: cannot parse"), "{text}");
}

#[test]
fn the_layer_table_places_files_as_documented() {
    let place_of = |file: &str| place(file).map(|(name, _)| name);
    assert_eq!(
        place_of("core/events/lifecycle.rs").as_deref(),
        Some("core")
    );
    assert_eq!(place_of("backends/mod.rs").as_deref(), Some("backends"));
    assert_eq!(
        place_of("backends/otlp.rs").as_deref(),
        Some("backends/otlp")
    );
    assert_eq!(
        place_of("backends/prometheus/mod.rs").as_deref(),
        Some("backends/prometheus")
    );
    assert_eq!(
        place_of("backends/prometheus/text.rs").as_deref(),
        Some("backends/prometheus")
    );
    assert_eq!(place_of("lib.rs").as_deref(), Some("root"));
    assert_eq!(place_of("events.rs"), None);
    assert_eq!(place_of("core"), None);
}
