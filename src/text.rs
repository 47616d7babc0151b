//! Text from elsewhere made safe to show: one line, nothing a terminal acts on, decodable
//! back exactly. Every room that shows another process's text goes through here.

/// Text from elsewhere (another process's command line, an argument, an environment
/// variable) made safe to show on a terminal, as one line that reads as what it is:
///
/// - a line feed, tab and carriage return become `\n`, `\t` and `\r`;
/// - every other control character (C0, DEL, C1) and every character that can hide or
///   reorder text (the Unicode format characters, general category Cf, and U+2028,
///   U+2029) becomes an escape of its code point: `\xNN` up to U+00FF (so the soft
///   hyphen is `\xad`), `\u{N}` above (hex digits, no padding);
/// - a backslash is doubled, so that an escape in the output always came from one of
///   the above and the text can be decoded back exactly;
/// - everything else, other non-ASCII text included, is kept as it is.
///
/// ```
/// use patina_reap::for_cli::escape;
/// assert_eq!(escape("a\u{1b}]0;x\u{7}\u{202e}b"), r"a\x1b]0;x\x07\u{202e}b");
/// assert_eq!(escape("two\nlines\ttab"), r"two\nlines\ttab");
/// assert_eq!(escape(r"C:\dir café"), r"C:\\dir café");
/// assert_eq!(escape("soft\u{ad}hyphen\u{2028}"), r"soft\xadhyphen\u{2028}");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || is_format_char(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{{{n:x}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn needs_json_escape(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}') || is_format_char(c)
}

/// Every Unicode format character (general category Cf: bidi controls, zero-width and
/// invisible characters, the soft hyphen, tags...) and the line and paragraph separators
/// U+2028 and U+2029: text a terminal shows differently from what it is. The Cf ranges
/// are those of Unicode 18; a test checks them against the `unicode-properties` tables.
pub(crate) fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_characters_are_exactly_unicode_cf_and_the_separators() {
        use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let expected = c.general_category() == GeneralCategory::Format
                || matches!(c, '\u{2028}' | '\u{2029}');
            assert_eq!(is_format_char(c), expected, "U+{:04X}", c as u32);
        }
    }
}

/// Text that attacks terminals, and the checks on it, for the property tests here and in
/// `report`; `PROPTEST_CASES=100000 cargo test proptests` runs them longer.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use proptest::prelude::*;

    /// What a terminal could act on: C0 (newline included: one process, one line), DEL,
    /// C1, bidi controls and zero-width characters.
    pub(crate) fn drives_a_terminal(c: char) -> bool {
        c.is_control() || is_format_char(c)
    }

    /// Text rich in what attackers put in argv.
    pub(crate) fn hostile() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                any::<char>(),
                prop::char::range('\0', '\u{a0}'),
                prop::sample::select(vec![
                    '\u{1b}',
                    '\u{7}',
                    '\u{9b}',
                    '\u{202e}',
                    '\u{2066}',
                    '\u{200b}',
                    '\u{feff}',
                    '\\',
                    '\n',
                    '\r',
                    '\u{61c}',
                    '\u{ad}',
                    '\u{e0041}',
                    '\u{2028}',
                    '\u{2029}'
                ]),
            ],
            0..60,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    /// The inverse of [`escape`], to show no two texts look alike once escaped.
    pub(crate) fn unescape(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                Some('u') => {
                    let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                other => panic!("bad escape {other:?} in {text:?}"),
            }
        }
        out
    }
}

#[cfg(test)]
mod proptests {
    use super::testing::*;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn escaped_text_has_nothing_a_terminal_acts_on(text in hostile()) {
            let shown = escape(&text);
            prop_assert!(!shown.chars().any(drives_a_terminal), "{shown:?}");
            prop_assert_eq!(unescape(&shown), text);
        }

    }
}
