//! Name rules (Prometheus names, snake_case event names, Rust keywords) and
//! the spellings error messages suggest in place of a rejected name. A
//! suggestion is only offered when it passes the same rules as the name it
//! replaces, so following it cannot fail again (and it can never repeat the
//! rejected name, which failed them).

use syn::Ident;

/// Prometheus metric/label name rules: `[a-zA-Z_][a-zA-Z0-9_]*`, and names
/// starting with `__` are reserved. The error completes "name `x` ...".
pub(crate) fn prometheus_name(v: &str) -> Result<(), &'static str> {
    if v.is_empty() {
        return Err("is empty");
    }
    // The characters first: `ünicode` breaks that rule, not the first.
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("may only contain ASCII letters, digits and `_` (Prometheus naming rules)");
    }
    if v.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("must start with a letter or `_` (Prometheus naming rules)");
    }
    if v.starts_with("__") {
        return Err("must not start with `__`, which Prometheus reserves");
    }
    Ok(())
}

/// Rust keywords that a raw identifier (`r#type`) cannot spell either.
pub(crate) const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Whether `name` is a Rust keyword, so that it must be written `r#name`.
pub(crate) fn is_keyword(name: &str) -> bool {
    syn::parse_str::<Ident>(name).is_err()
}

/// How to write `name` as an identifier: `r#name` for a keyword, `None`
/// when not even a raw identifier can spell it (`self`).
pub(crate) fn written_ident(name: &str) -> Option<String> {
    if NOT_RAW.contains(&name) {
        None
    } else if is_keyword(name) {
        Some(format!("r#{name}"))
    } else {
        Some(name.to_owned())
    }
}

/// Event names are snake_case ASCII: `[a-z][a-z0-9]*(_[a-z0-9]+)*`. They name
/// emitter methods, enum variants and the `event` label value.
pub(crate) fn is_snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.split('_').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// `CrossrefAPI` -> `crossref_api`, `HTTPClient` -> `http_client`.
pub(crate) fn snake_case(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `cache_miss` -> `CacheMiss`.
pub(crate) fn upper_camel(s: &str) -> String {
    s.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
        })
        .collect()
}

/// The ASCII spelling of a lowercase Latin letter with a diacritic
/// (`é` -> `e`, `ß` -> `ss`), so that `région` can be offered as `region`.
fn ascii_fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à'..='å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è'..='ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ì'..='ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' | 'ľ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò'..='ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' => "r",
        'ś' | 'š' | 'ş' => "s",
        'ß' => "ss",
        'ť' | 'ţ' => "t",
        'ù'..='ü' | 'ū' | 'ů' | 'ű' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'þ' => "th",
        _ => return None,
    })
}

/// `raw` as lowercase ASCII words joined by single `_`: snake_case,
/// diacritics dropped, every other character a word break, no `_` at
/// either end (`__Hidden` -> `hidden`, `my-api` -> `my_api`, `Ünicode` ->
/// `unicode`). May be empty, or start with a digit.
fn ascii_words(raw: &str) -> String {
    let mut flat = String::new();
    for c in snake_case(raw).chars() {
        if c.is_ascii_alphanumeric() {
            flat.push(c.to_ascii_lowercase());
        } else if let Some(folded) = ascii_fold(c) {
            flat.push_str(folded);
        } else {
            flat.push('_');
        }
    }
    flat.split('_')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// [`ascii_words`], starting with a letter: `prefix_` goes before a name
/// that is empty or starts with a digit (`2fast` -> `adapter_2fast`).
fn ascii_name(raw: &str, prefix: &str) -> String {
    let words = ascii_words(raw);
    if words.is_empty() {
        prefix.to_owned()
    } else if words.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{prefix}_{words}")
    } else {
        words
    }
}

/// A valid adapter name in place of `raw`; `fallback` (the type name) is
/// used when nothing of `raw` is left (`name = ""`).
pub(crate) fn adapter_name_fix(raw: &str, fallback: &str) -> String {
    let fixed = if ascii_words(raw).is_empty() {
        ascii_name(fallback, "adapter")
    } else {
        ascii_name(raw, "adapter")
    };
    debug_assert!(prometheus_name(&fixed).is_ok(), "{fixed}");
    fixed
}

/// The snake_case spelling of `raw` an event name fix starts from
/// (`CacheMiss` -> `cache_miss`), before checking it is free.
pub(crate) fn event_name_candidate(raw: &str) -> String {
    ascii_name(raw, "event")
}

/// A snake_case event name in place of `raw`, as it must be written (a
/// keyword with `r#`), if one passes `is_free` (not built in, not taken).
pub(crate) fn event_name_fix(raw: &str, is_free: impl Fn(&str) -> bool) -> Option<String> {
    let fixed = event_name_candidate(raw);
    (is_snake_case(&fixed) && is_free(&fixed))
        .then(|| written_ident(&fixed))
        .flatten()
}

/// A valid label name in place of `raw`, as it must be written, if one
/// passes `is_free` (not reserved by the runtime, not declared twice).
pub(crate) fn label_name_fix(raw: &str, is_free: impl Fn(&str) -> bool) -> Option<String> {
    let fixed = ascii_name(raw, "label");
    (prometheus_name(&fixed).is_ok() && is_free(&fixed))
        .then(|| written_ident(&fixed))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions() {
        assert_eq!(snake_case("Crossref"), "crossref");
        assert_eq!(snake_case("CrossrefAPI"), "crossref_api");
        assert_eq!(snake_case("HTTPClient"), "http_client");
        assert_eq!(snake_case("S3Store"), "s3_store");
        assert_eq!(upper_camel("cache_miss"), "CacheMiss");
        assert_eq!(upper_camel("resolved"), "Resolved");
    }

    #[test]
    fn snake_case_event_names() {
        assert!(is_snake_case("resolved"));
        assert!(is_snake_case("cache_miss_v2"));
        assert!(!is_snake_case("CacheMiss"));
        assert!(!is_snake_case("cache__miss"));
        assert!(!is_snake_case("cache_"));
        assert!(!is_snake_case("_cache"));
        assert!(!is_snake_case("2xx"));
        assert!(!is_snake_case(""));
    }

    #[test]
    fn prometheus_names() {
        assert!(prometheus_name("crossref_v2").is_ok());
        assert!(prometheus_name("my-api").is_err());
        assert!(prometheus_name("2fast").is_err());
        assert!(prometheus_name("__meta").is_err());
        assert!(prometheus_name("").is_err());
    }

    #[test]
    fn adapter_name_fixes_are_valid_and_new() {
        for (raw, fixed) in [
            ("my-api", "my_api"),
            ("My-API", "my_api"),
            ("2fast", "adapter_2fast"),
            ("__meta", "meta"),
            ("__", "crossref"),
            ("", "crossref"),
            ("Ünicode", "unicode"),
            ("café.v2", "cafe_v2"),
            ("日本", "crossref"),
        ] {
            let got = adapter_name_fix(raw, "Crossref");
            assert_eq!(got, fixed, "{raw}");
            assert!(prometheus_name(&got).is_ok(), "{raw}");
            assert_ne!(got, raw);
        }
        assert_eq!(adapter_name_fix("", "__"), "adapter");
    }

    #[test]
    fn event_name_fixes_are_snake_case_and_free() {
        let free = |n: &str| n != "retry";
        for (raw, fixed) in [
            ("CacheMiss", Some("cache_miss")),
            ("cache__miss", Some("cache_miss")),
            ("_cache", Some("cache")),
            ("cache_", Some("cache")),
            ("2xx", Some("event_2xx")),
            ("Über", Some("uber")),
            ("Type", Some("r#type")),
            ("Retry", None),
            ("Self", None),
        ] {
            assert_eq!(event_name_fix(raw, free).as_deref(), fixed, "{raw}");
        }
    }

    #[test]
    fn label_name_fixes_pass_the_label_rules() {
        let free = |n: &str| n != "host";
        assert_eq!(label_name_fix("__tenant", free).as_deref(), Some("tenant"));
        assert_eq!(label_name_fix("région", free).as_deref(), Some("region"));
        assert_eq!(label_name_fix("__host", free), None);
        assert_eq!(label_name_fix("__type", free).as_deref(), Some("r#type"));
    }

    #[test]
    fn raw_keywords_pass_the_other_rules() {
        // What "write `r#type`" offers for each keyword must then pass the
        // rules of labels and events.
        for kw in [
            "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern",
            "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
            "pub", "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use",
            "where", "while", "abstract", "become", "box", "do", "final", "macro", "override",
            "priv", "try", "typeof", "unsized", "virtual", "yield",
        ] {
            assert_eq!(written_ident(kw), Some(format!("r#{kw}")), "{kw}");
            assert!(prometheus_name(kw).is_ok(), "{kw}");
            assert!(is_snake_case(kw), "{kw}");
            assert!(!telemetry_vocab::RESERVED_LABELS.contains(&kw), "{kw}");
            assert!(!telemetry_vocab::BUILTIN_EVENTS.contains(&kw), "{kw}");
        }
    }
}
