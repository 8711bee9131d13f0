//! The new-password policy of NIST SP 800-63B-4, checked the same way live in the app (as
//! the person types) and on the server (which decides).
//!
//! What it asks: a minimum length (15 characters when the password is the only factor, 8
//! with MFA), at least 64 allowed, every printable character and Unicode accepted, no
//! composition rules, and a check against common and compromised passwords and words tied
//! to the account, with the reason said plainly when a password is refused.
//!
//! Length is counted on what the person typed, one per code point, leaving out invisible
//! characters (format characters and other default-ignorable code points: zero-width
//! spaces and joiners, variation selectors, bidirectional marks), which add length without
//! adding anything a guesser must find. The content checks judge the NFKC form with the
//! invisible characters removed, so a full-width or zero-width-padded `password` is still
//! `password`. NFKC can multiply a string's length (U+FDFA becomes 18 characters), so the
//! typed length is bounded first ([`typed_length`]) and nothing oversized is normalised.
//!
//! The common list ships with the crate: the 30,000 most common passwords of zxcvbn (MIT,
//! `scripts/fetch-password-list` re-creates and checks it). Compromised passwords come from
//! an operator's k-anonymity range directory (the format of the Pwned Passwords range API:
//! one file per 5-hex-digit SHA-1 prefix, lines `SUFFIX:COUNT`), so only the one file for
//! a password's prefix is ever read and no password is sent anywhere.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::codes::Code;
use sha1::{Digest, Sha1};
use unicode_normalization::UnicodeNormalization;

const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Length rules, as the decision sends them to the app (`password_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub min_chars: usize,
    pub max_chars: usize,
}

impl PasswordPolicy {
    /// The password is the account's only factor.
    pub const SINGLE_FACTOR: PasswordPolicy = PasswordPolicy {
        min_chars: 15,
        max_chars: 256,
    };
    /// The account also has a second factor.
    pub const WITH_MFA: PasswordPolicy = PasswordPolicy {
        min_chars: 8,
        max_chars: 256,
    };
}

/// The most characters a password may have as typed before anything else is done with it
/// (the server refuses a longer one outright; the app's field stops there too).
pub const MAX_PASSWORD_INPUT_CHARS: usize = 1024;
/// The most bytes (UTF-8) a password may have as typed: 1,024 four-byte characters.
pub const MAX_PASSWORD_INPUT_BYTES: usize = 4 * MAX_PASSWORD_INPUT_CHARS;

/// The password's length in characters as typed, or `PasswordTooLong` when it is over
/// [`MAX_PASSWORD_INPUT_BYTES`] or [`MAX_PASSWORD_INPUT_CHARS`]. Looks at no more than the
/// byte bound allows, and allocates nothing: call it before normalising.
pub fn typed_length(password: &str) -> Result<usize, PasswordProblem> {
    let too_long = PasswordProblem::PasswordTooLong {
        max_chars: MAX_PASSWORD_INPUT_CHARS,
    };
    if password.len() > MAX_PASSWORD_INPUT_BYTES {
        return Err(too_long);
    }
    let chars = password.chars().count();
    if chars > MAX_PASSWORD_INPUT_CHARS {
        return Err(too_long);
    }
    Ok(chars)
}

/// Code points that show nothing: Unicode's default-ignorable code points
/// (DerivedCoreProperties.txt, 16.0) and the format characters (general category Cf) that
/// are invisible. The prepended concatenation marks (U+0600..U+0605, U+06DD, U+070F,
/// U+0890..U+0891, U+08E2, U+110BD, U+110CD) are Cf but drawn, so they count. The app's
/// page (ui/app.js) keeps the same list, so the count it shows is the one judged here.
const INVISIBLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFFB),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
];

/// True for a character that shows nothing (see [`INVISIBLE`]).
pub fn is_invisible(c: char) -> bool {
    let c = u32::from(c);
    INVISIBLE.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// The length the policy's minimum is judged on: characters as typed, invisible ones left
/// out.
pub fn visible_chars(password: &str) -> usize {
    password.chars().filter(|c| !is_invisible(*c)).count()
}

/// Why a password was refused; each has a stable code and a sentence for the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum PasswordProblem {
    PasswordTooShort { min_chars: usize, chars: usize },
    PasswordTooLong { max_chars: usize },
    PasswordInvalidCharacter,
    PasswordCommon,
    PasswordRepetitive,
    PasswordContainsAccountInfo,
    PasswordBreached { times_seen: u64 },
}

impl PasswordProblem {
    pub fn code(&self) -> Code {
        match self {
            PasswordProblem::PasswordTooShort { .. } => Code::PasswordTooShort,
            PasswordProblem::PasswordTooLong { .. } => Code::PasswordTooLong,
            PasswordProblem::PasswordInvalidCharacter => Code::PasswordInvalidCharacter,
            PasswordProblem::PasswordCommon => Code::PasswordCommon,
            PasswordProblem::PasswordRepetitive => Code::PasswordRepetitive,
            PasswordProblem::PasswordContainsAccountInfo => Code::PasswordContainsAccountInfo,
            PasswordProblem::PasswordBreached { .. } => Code::PasswordBreached,
        }
    }

    pub fn message(&self) -> String {
        match self {
            PasswordProblem::PasswordTooShort { min_chars, chars } => format!(
                "Use at least {min_chars} characters (this has {chars}). A few unrelated words make a long password easy to remember."
            ),
            PasswordProblem::PasswordTooLong { max_chars } => {
                format!("Use at most {max_chars} characters.")
            }
            PasswordProblem::PasswordInvalidCharacter => {
                "Use printable characters only (no control characters).".into()
            }
            PasswordProblem::PasswordCommon => {
                "This is one of the most common passwords. Choose something less predictable."
                    .into()
            }
            PasswordProblem::PasswordRepetitive => {
                "This is a repeated or sequential pattern. Choose something less predictable."
                    .into()
            }
            PasswordProblem::PasswordContainsAccountInfo => {
                "Do not use your name, username or email address in your password.".into()
            }
            PasswordProblem::PasswordBreached { .. } => {
                "This password has appeared in a data breach. Choose one you have never used."
                    .into()
            }
        }
    }
}

/// An operator's compromised-password range directory (see the module docs).
#[derive(Debug, Clone)]
pub struct BreachedPasswords {
    dir: PathBuf,
}

impl BreachedPasswords {
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, String> {
        let dir = dir.into();
        if !dir.is_dir() {
            return Err(format!("{}: not a directory", dir.display()));
        }
        Ok(BreachedPasswords { dir })
    }

    /// How often `password` (already normalised) was seen, 0 when never. A missing range
    /// file means the operator's set has no hash with that prefix.
    pub fn times_seen(&self, password: &str) -> Result<u64, String> {
        let digest = hex::encode_upper(Sha1::digest(password.as_bytes()));
        let (prefix, suffix) = digest.split_at(5);
        let path = self.dir.join(prefix);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(range_count(&text, suffix))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn range_count(text: &str, suffix: &str) -> u64 {
    text.lines()
        .filter_map(|line| {
            let (s, count) = line.trim().split_once(':').unwrap_or((line.trim(), "1"));
            s.eq_ignore_ascii_case(suffix)
                .then(|| count.trim().parse::<u64>().unwrap_or(1))
        })
        .next()
        .unwrap_or(0)
}

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().filter(|l| !l.is_empty()).collect())
}

/// The password as it is stored and compared: NFKC-normalised.
pub fn normalize_password(password: &str) -> String {
    password.nfkc().collect()
}

/// Checks a new password. `account_words` are the account's own words (username, name
/// parts, email local part); parts shorter than 4 characters are ignored. Returns every
/// problem found, or nothing when the password is acceptable.
///
/// The maximum counts every character typed (the directory receives them all), the
/// minimum only the visible ones; both before normalisation. The content checks judge
/// the NFKC form without invisible characters.
pub fn check_password(
    password: &str,
    policy: &PasswordPolicy,
    account_words: &[&str],
    breached: Option<&BreachedPasswords>,
) -> Result<Vec<PasswordProblem>, String> {
    // Nothing more is computed on an oversized input: above all it is not normalised.
    let typed = match typed_length(password) {
        Ok(n) => n,
        Err(too_long) => return Ok(vec![too_long]),
    };
    if typed > policy.max_chars {
        return Ok(vec![PasswordProblem::PasswordTooLong {
            max_chars: policy.max_chars,
        }]);
    }
    let chars = visible_chars(password);
    let mut problems = Vec::new();
    if chars < policy.min_chars {
        problems.push(PasswordProblem::PasswordTooShort {
            min_chars: policy.min_chars,
            chars,
        });
    }
    let normalized: String = normalize_password(password)
        .chars()
        .filter(|c| !is_invisible(*c))
        .collect();
    if normalized.chars().any(char::is_control) {
        problems.push(PasswordProblem::PasswordInvalidCharacter);
    }
    let lower = normalized.to_lowercase();
    if common().contains(lower.as_str()) || is_common_repeated(&lower) {
        problems.push(PasswordProblem::PasswordCommon);
    }
    if is_repetitive(&lower) {
        problems.push(PasswordProblem::PasswordRepetitive);
    }
    let words = account_words
        .iter()
        .flat_map(|w| w.split(|c: char| !c.is_alphanumeric()))
        .map(|w| normalize_password(w).to_lowercase())
        .filter(|w| w.chars().count() >= 4);
    let mut contains = false;
    for w in words {
        contains |= lower.contains(&w);
    }
    if contains {
        problems.push(PasswordProblem::PasswordContainsAccountInfo);
    }
    if let Some(b) = breached {
        let times_seen = b.times_seen(&normalized)?;
        if times_seen > 0 {
            problems.push(PasswordProblem::PasswordBreached { times_seen });
        }
    }
    Ok(problems)
}

/// A common password written twice or more (`passwordpassword`), which gets past a length
/// rule without being any less guessable.
fn is_common_repeated(lower: &str) -> bool {
    let chars: Vec<char> = lower.chars().collect();
    (1..=chars.len() / 2).any(|unit| {
        chars.len() % unit == 0
            && chars.chunks(unit).all(|c| c == &chars[..unit])
            && common().contains(chars[..unit].iter().collect::<String>().as_str())
    })
}

/// One character repeated, or a run of consecutive characters (`aaaaaaaa`, `12345678`,
/// `abcdefgh`, `98765432`) making up the whole password.
fn is_repetitive(lower: &str) -> bool {
    let chars: Vec<u32> = lower.chars().map(u32::from).collect();
    if chars.len() < 2 {
        return false;
    }
    let steps: Vec<i64> = chars
        .windows(2)
        .map(|w| i64::from(w[1]) - i64::from(w[0]))
        .collect();
    steps.iter().all(|&d| d == steps[0]) && steps[0].abs() <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(password: &str, policy: &PasswordPolicy, words: &[&str]) -> Vec<&'static str> {
        check_password(password, policy, words, None)
            .unwrap()
            .iter()
            .map(|p| p.code().as_str())
            .collect()
    }

    const SF: PasswordPolicy = PasswordPolicy::SINGLE_FACTOR;
    const MFA: PasswordPolicy = PasswordPolicy::WITH_MFA;

    #[test]
    fn long_unrelated_words_pass_without_composition_rules() {
        assert!(codes("correct horse battery staple", &SF, &["ada.lovelace"]).is_empty());
        // No upper case, digit or symbol needed; Unicode welcome.
        assert!(codes("грушевый сад у реки", &MFA, &[]).is_empty());
        assert!(codes("ünïcødé pässwörd ok", &SF, &[]).is_empty());
    }

    #[test]
    fn length_follows_the_factor_count_and_counts_characters_not_bytes() {
        assert_eq!(codes("tangerine-kayak", &SF, &[]), Vec::<&str>::new());
        assert_eq!(codes("tangerine-kay", &SF, &[]), ["password_too_short"]);
        assert!(codes("mulberry7quay", &MFA, &[]).is_empty());
        // A common password is refused even where it is long enough.
        assert_eq!(codes("tangerine", &MFA, &[]), ["password_common"]);
        // 8 characters of 2 bytes each is 8 characters.
        assert!(codes("éèêëēėęě", &MFA, &[]).is_empty());
        let long = "x".repeat(300);
        assert_eq!(codes(&long, &SF, &[]), ["password_too_long"]);
        // 64 characters must be allowed.
        assert!(codes(&"plum tree ".repeat(7)[..64], &SF, &[]).is_empty());
    }

    #[test]
    fn common_repeated_and_sequential_passwords_are_refused() {
        assert_eq!(codes("password", &MFA, &[]), ["password_common"]);
        assert_eq!(codes("PassWord", &MFA, &[]), ["password_common"]);
        assert_eq!(
            codes("passwordpassword", &SF, &[]),
            ["password_common"],
            "a common password written twice"
        );
        assert!(codes("aaaaaaaaaaaaaaaa", &SF, &[]).contains(&"password_repetitive"));
        assert!(codes("1234567812345678", &SF, &[]).contains(&"password_common"));
        assert!(codes("abcdefghijklmnop", &SF, &[]).contains(&"password_repetitive"));
        assert!(codes("zyxwvutsrqponmlk", &SF, &[]).contains(&"password_repetitive"));
    }

    #[test]
    fn account_words_are_refused_inside_the_password() {
        let words = ["ada.lovelace", "Ada Lovelace", "alovelace@example.com"];
        assert_eq!(
            codes("lovelace-forever-2026", &SF, &words),
            ["password_contains_account_info"]
        );
        // Short parts (`ada`) are not held against a password.
        assert!(codes("canada geese flying", &SF, &words).is_empty());
    }

    #[test]
    fn normalisation_makes_lookalike_forms_equal() {
        // The full-width form of a common password is the common password.
        assert_eq!(codes("ｐａｓｓｗｏｒｄ", &MFA, &[]), ["password_common"]);
        assert_eq!(normalize_password("ﬁle"), "file");
        assert!(codes("tab\there and more", &SF, &[]).contains(&"password_invalid_character"));
    }

    #[test]
    fn length_is_counted_as_typed_not_after_normalisation() {
        // U+FDFA is one character typed and 18 after NFKC: 8 characters typed are 8.
        assert_eq!(normalize_password("\u{FDFA}").chars().count(), 18);
        assert_eq!(visible_chars("\u{FDFA}1234567"), 8);
        assert!(codes("\u{FDFA}1234567", &SF, &[]).contains(&"password_too_short"));
        assert!(codes("\u{FDFA}1234567", &MFA, &[]).is_empty());
        // Fourteen ligatures typed are fourteen, however long their normal form.
        assert!(codes(&"\u{FB01}".repeat(14), &SF, &[]).contains(&"password_too_short"));
    }

    #[test]
    fn invisible_characters_are_not_counted() {
        let padded = format!("password{}", "\u{200B}".repeat(10));
        assert_eq!(visible_chars(&padded), 8);
        let c = codes(&padded, &SF, &[]);
        assert!(c.contains(&"password_too_short"), "{c:?}");
        // The blocklist judges what is left once the invisible characters are gone.
        assert!(c.contains(&"password_common"), "{c:?}");
        for invisible in [
            '\u{00AD}',
            '\u{034F}',
            '\u{061C}',
            '\u{180E}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{202E}',
            '\u{2060}',
            '\u{2066}',
            '\u{3164}',
            '\u{FE0F}',
            '\u{FEFF}',
            '\u{FFA0}',
            '\u{1D173}',
            '\u{E0041}',
            '\u{E0100}',
        ] {
            let p = format!("tangerine{invisible}kayak{invisible}x");
            assert_eq!(visible_chars(&p), 15, "U+{:04X}", invisible as u32);
            assert!(is_invisible(invisible), "U+{:04X}", invisible as u32);
        }
        for visible in [
            'a',
            ' ',
            '\u{00E9}',
            '\u{0301}',
            '\u{0600}',
            '\u{FDFA}',
            '\u{1F600}',
        ] {
            assert!(!is_invisible(visible), "U+{:04X}", visible as u32);
        }
        // Invisible characters spread through a long password do not make it short.
        let spread = "tangerine\u{200D}kayak\u{200D}lantern";
        assert!(codes(spread, &SF, &[]).is_empty());
    }

    #[test]
    fn the_apps_page_counts_with_the_same_list() {
        // The page shows the count as the person types; it must be the count judged here.
        let page = include_str!("../../../ui/app.js");
        let start = page
            .find("const INVISIBLE = [")
            .expect("the list in ui/app.js");
        let end = start + page[start..].find("];").unwrap();
        let pairs: Vec<(u32, u32)> = page[start..end]
            .lines()
            .filter_map(|l| {
                let l = l.trim().strip_prefix('[')?.strip_suffix("],")?;
                let (a, b) = l.split_once(", ")?;
                let hex = |v: &str| u32::from_str_radix(v.trim_start_matches("0x"), 16).unwrap();
                Some((hex(a), hex(b)))
            })
            .collect();
        assert_eq!(pairs, INVISIBLE);
    }

    #[test]
    fn an_oversized_password_is_refused_before_it_is_normalised() {
        // 42 MB of U+FDFA would be 250 million characters after NFKC.
        let huge = "\u{FDFA}".repeat(14 * 1024 * 1024);
        assert_eq!(
            typed_length(&huge),
            Err(PasswordProblem::PasswordTooLong {
                max_chars: MAX_PASSWORD_INPUT_CHARS
            })
        );
        assert_eq!(codes(&huge, &SF, &[]), ["password_too_long"]);
        // Bytes are bounded as well as characters: 1,024 four-byte characters are 4 KiB.
        let wide = "\u{1F600}".repeat(MAX_PASSWORD_INPUT_CHARS);
        assert!(wide.len() == MAX_PASSWORD_INPUT_BYTES && typed_length(&wide).is_ok());
        let wider = format!("{wide}a");
        assert!(typed_length(&wider).is_err());
        // The policy's maximum counts what was typed too: 257 typed characters are too
        // many, 256 ligatures (4,608 after NFKC) are not.
        assert_eq!(codes(&"x".repeat(257), &SF, &[]), ["password_too_long"]);
        let ligatures = "\u{FB03}\u{FB04}\u{FB01}q".repeat(64);
        assert!(!codes(&ligatures, &SF, &[]).contains(&"password_too_long"));
    }

    #[test]
    fn breached_passwords_come_from_the_operators_range_files() {
        let dir = std::env::temp_dir().join(format!("reclaim-breach-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let leaked = "violet lamp under stairs";
        let digest = hex::encode_upper(Sha1::digest(leaked.as_bytes()));
        let (prefix, suffix) = digest.split_at(5);
        std::fs::write(
            dir.join(prefix),
            format!("0000000000000000000000000000000000A:3\r\n{suffix}:42\r\n"),
        )
        .unwrap();
        let breached = BreachedPasswords::new(&dir).unwrap();
        let problems = check_password(leaked, &SF, &[], Some(&breached)).unwrap();
        assert_eq!(
            problems,
            [PasswordProblem::PasswordBreached { times_seen: 42 }]
        );
        // Another password with no range file: not seen.
        assert!(
            check_password("quiet river stones", &SF, &[], Some(&breached))
                .unwrap()
                .is_empty()
        );
        assert!(BreachedPasswords::new(dir.join("missing")).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn every_problem_has_a_code_and_words() {
        let all = [
            PasswordProblem::PasswordTooShort {
                min_chars: 15,
                chars: 3,
            },
            PasswordProblem::PasswordTooLong { max_chars: 256 },
            PasswordProblem::PasswordInvalidCharacter,
            PasswordProblem::PasswordCommon,
            PasswordProblem::PasswordRepetitive,
            PasswordProblem::PasswordContainsAccountInfo,
            PasswordProblem::PasswordBreached { times_seen: 1 },
        ];
        let codes: HashSet<_> = all.iter().map(PasswordProblem::code).collect();
        assert_eq!(codes.len(), all.len());
        assert!(all.iter().all(|p| p.message().ends_with('.')));
        // The JSON names a problem by its code, whatever the variant is called.
        for p in &all {
            assert_eq!(serde_json::to_value(p).unwrap()["code"], p.code().as_str());
        }
        let json = serde_json::to_value(&all[0]).unwrap();
        assert_eq!(json["code"], "password_too_short");
    }

    #[test]
    fn the_shipped_list_is_the_real_one() {
        assert_eq!(common().len(), 30_000);
        assert!(common().contains("123456") && common().contains("dragon"));
    }
}
