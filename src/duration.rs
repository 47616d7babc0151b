//! The DURATION syntax (`90s`, `24h`, `2d3h`, `1h 30m`) and the short ages shown to people.

use std::fmt;
use std::time::Duration;

use crate::text::escape;

/// Why a DURATION string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationError {
    /// The string was empty or only white space.
    Empty,
    /// A number with no unit, such as `24` (which could mean seconds or hours).
    MissingUnit(String),
    /// A unit other than s, m, h, d or w.
    UnknownUnit(String),
    /// Something that is not `<integer><unit>`, such as `-5m` or `h`.
    Invalid(String),
    /// A value too large to represent.
    Overflow,
}

impl DurationError {
    /// Why `value` (the whole text given) is not a DURATION, with `examples` of good
    /// ones: the one wording of every DURATION error. `value` itself is left for the
    /// caller to name; a part of it is named here.
    pub fn explain(&self, value: &str, examples: &str) -> String {
        let value = value.trim();
        let whole = |part: &str| part.trim() == value;
        if value.starts_with('-') {
            return format!("a DURATION cannot be negative; use e.g. {examples}");
        }
        match self {
            Self::Empty => format!("a DURATION cannot be empty; use e.g. {examples}"),
            Self::MissingUnit(n) => {
                let what = if whole(n) {
                    "no unit".to_owned()
                } else {
                    format!("'{}' has no unit", escape(n))
                };
                let n = escape(n);
                format!("{what}; say {n}s, {n}m, {n}h, {n}d or {n}w (e.g. {examples})")
            }
            Self::UnknownUnit(u) => format!(
                "unknown unit '{}'; use s, m, h, d or w (e.g. {examples})",
                escape(u)
            ),
            Self::Invalid(s) if whole(s) => format!(
                "not a DURATION; use <integer><unit> with s, m, h, d or w (e.g. {examples})"
            ),
            Self::Invalid(s) => format!(
                "'{}' is not a DURATION; use <integer><unit> with s, m, h, d or w (e.g. \
                 {examples})",
                escape(s)
            ),
            Self::Overflow => "the DURATION is too large".to_owned(),
        }
    }
}

impl fmt::Display for DurationError {
    /// [`explain`](Self::explain) for a value it does not know: every part it names is
    /// named.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explain("", "24h, 90m or 2d3h"))
    }
}

impl std::error::Error for DurationError {}

/// Parse a DURATION: one or more `<integer><unit>` with units s, m, h, d, w, optionally
/// separated by spaces.
///
/// A bare number is rejected, so `24` can never silently mean 24 seconds.
///
/// ```
/// use std::time::Duration;
/// use patina_reap::for_cli::parse_duration;
///
/// assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
/// assert!(parse_duration("24").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(DurationError::Invalid(s.to_owned()));
        }
        let number: u64 = s[start..i].parse().map_err(|_| DurationError::Overflow)?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            "" if i == bytes.len() || bytes[i] == b' ' => {
                return Err(DurationError::MissingUnit(s[start..i].to_owned()))
            }
            "" => return Err(DurationError::Invalid(s.to_owned())),
            other => return Err(DurationError::UnknownUnit(other.to_owned())),
        };
        let part = number.checked_mul(scale).ok_or(DurationError::Overflow)?;
        total = total.checked_add(part).ok_or(DurationError::Overflow)?;
    }
    Ok(Duration::from_secs(total))
}

/// `d` from now, or as far as an `Instant` goes: a huge grace period or wait never
/// overflows (and panics).
pub(crate) fn deadline_after(d: Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    let mut d = d;
    loop {
        if let Some(t) = now.checked_add(d) {
            return t;
        }
        d /= 2;
    }
}

/// A short age as people read it: `2d3h`, `5h12m`, `45m`, and `42s` under a minute.
pub(crate) fn format_age(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{secs}s")
    }
}

/// A duration written back in the DURATION syntax, exact: `24h`, `1h30m`, `90s` → `1m30s`.
/// Days are used from two days up, so the default reads `24h`.
pub(crate) fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, scale) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= scale && (unit != "d" || secs >= 2 * scale) {
            out.push_str(&format!("{}{unit}", secs / scale));
            secs %= scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> Result<u64, DurationError> {
        parse_duration(s).map(|d| d.as_secs())
    }

    #[test]
    fn accepts_every_unit_and_combinations() {
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("45m"), Ok(2700));
        assert_eq!(secs("24h"), Ok(86_400));
        assert_eq!(secs("2d3h"), Ok(183_600));
        assert_eq!(secs("1h 30m"), Ok(5400));
        assert_eq!(secs("1w"), Ok(604_800));
        assert_eq!(secs("0s"), Ok(0));
        assert_eq!(secs("  5m  "), Ok(300));
    }

    #[test]
    fn bare_numbers_are_rejected_with_a_unit_hint() {
        assert_eq!(secs("24"), Err(DurationError::MissingUnit("24".into())));
        assert_eq!(secs("0"), Err(DurationError::MissingUnit("0".into())));
        assert_eq!(secs("1h 30"), Err(DurationError::MissingUnit("30".into())));
        assert!(DurationError::MissingUnit("24".into())
            .to_string()
            .contains("24h"));
    }

    #[test]
    fn garbage_is_rejected_never_zero() {
        assert_eq!(secs(""), Err(DurationError::Empty));
        assert_eq!(secs("   "), Err(DurationError::Empty));
        assert_eq!(secs("-5m"), Err(DurationError::Invalid("-5m".into())));
        assert_eq!(secs("h"), Err(DurationError::Invalid("h".into())));
        assert_eq!(secs("5y"), Err(DurationError::UnknownUnit("y".into())));
        assert_eq!(secs("5 m"), Err(DurationError::MissingUnit("5".into())));
        assert_eq!(secs("1.5h"), Err(DurationError::Invalid("1.5h".into())));
        assert_eq!(secs("5mm"), Err(DurationError::UnknownUnit("mm".into())));
        assert_eq!(secs("24H"), Err(DurationError::UnknownUnit("H".into())));
        assert_eq!(secs("off"), Err(DurationError::Invalid("off".into())));
        assert_eq!(secs("99999999999999999999s"), Err(DurationError::Overflow));
        assert_eq!(secs("99999999999999w"), Err(DurationError::Overflow));
    }

    #[test]
    fn deadlines_saturate_instead_of_overflowing() {
        let now = std::time::Instant::now();
        assert!(deadline_after(Duration::MAX) > now + Duration::from_secs(100 * 365 * 86_400));
        assert!(deadline_after(Duration::from_secs(u64::MAX)) > now);
        let soon = deadline_after(Duration::from_secs(5));
        assert!(soon >= now + Duration::from_secs(5));
    }

    #[test]
    fn ages_read_like_the_original() {
        assert_eq!(format_age(1445 * 60), "1d0h");
        assert_eq!(format_age(2 * 86_400 + 3 * 3600 + 59), "2d3h");
        assert_eq!(format_age(5 * 3600 + 12 * 60 + 7), "5h12m");
        assert_eq!(format_age(45 * 60 + 30), "45m");
        assert_eq!(format_age(42), "42s");
        assert_eq!(format_age(0), "0s");
    }

    #[test]
    fn durations_format_back_to_parseable_text() {
        for text in ["24h", "47h59m", "2d", "15d3h", "1h30m", "1m30s", "0s", "5s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }
}

/// Property tests; `PROPTEST_CASES=100000 cargo test proptests` runs them longer.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    const UNITS: [(char, u64); 5] = [
        ('s', 1),
        ('m', 60),
        ('h', 3600),
        ('d', 86_400),
        ('w', 604_800),
    ];

    proptest! {
        #[test]
        fn any_text_is_parsed_or_rejected_without_panic(text in any::<String>()) {
            let _ = parse_duration(&text);
        }

        #[test]
        fn duration_like_text_is_parsed_or_rejected_without_panic(
            text in "[0-9smhdwSMHDWy .,+:-]{0,40}"
        ) {
            let _ = parse_duration(&text);
        }

        #[test]
        fn a_sequence_of_parts_parses_to_its_sum(
            parts in prop::collection::vec((0u64..10_000_000, 0usize..5, " {0,2}"), 1..6),
            lead in " {0,3}",
            trail in " {0,3}",
        ) {
            let mut text = lead;
            let mut total = 0u64;
            for (n, unit, gap) in &parts {
                let (u, scale) = UNITS[*unit];
                text.push_str(&format!("{n}{u}{gap}"));
                total += n * scale;
            }
            text.push_str(&trail);
            prop_assert_eq!(parse_duration(&text), Ok(Duration::from_secs(total)));
        }

        #[test]
        fn a_number_without_a_unit_is_never_accepted(
            parts in prop::collection::vec((0u64..1_000_000, 0usize..5), 0..4),
            bare in any::<u32>(),
        ) {
            let mut text: String = parts
                .iter()
                .map(|(n, u)| format!("{n}{} ", UNITS[*u].0))
                .collect();
            text.push_str(&bare.to_string());
            prop_assert_eq!(
                parse_duration(&text),
                Err(DurationError::MissingUnit(bare.to_string()))
            );
        }

        #[test]
        fn an_accepted_duration_names_a_unit_for_every_number(text in "[0-9smhdw ]{1,24}") {
            if let Ok(d) = parse_duration(&text) {
                let words = text.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty());
                // Zero only if every number written was zero: garbage never reads as 0.
                if d.is_zero() {
                    prop_assert!(words.clone().all(|w| w.bytes().all(|b| b == b'0')));
                }
                for chunk in text.split(' ').filter(|c| !c.is_empty()) {
                    prop_assert!(chunk.ends_with(['s', 'm', 'h', 'd', 'w']), "{chunk}");
                }
            }
        }

        #[test]
        fn formatted_durations_parse_back_exactly(secs in any::<u64>()) {
            let d = Duration::from_secs(secs);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn ages_are_short_and_never_empty(secs in any::<u64>()) {
            let age = format_age(secs);
            prop_assert!(!age.is_empty() && age.is_ascii());
            prop_assert!(age.ends_with(['s', 'm', 'h']), "{age}");
        }
    }
}
