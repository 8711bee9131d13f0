//! The new-password policy of NIST SP 800-63B-4, checked the same way live in the app (as
//! the person types) and on the server (which decides).
//!
//! What it asks: a minimum length (15 characters when the password is the only factor, 8
//! with MFA), at least 64 allowed, every printable character and Unicode accepted after
//! normalisation (NFKC), no composition rules, and a check against common and compromised
//! passwords and words tied to the account, with the reason said plainly when a password
//! is refused.
//!
//! The common list ships with the crate: the 30,000 most common passwords of zxcvbn (MIT,
//! `scripts/fetch-password-list` re-creates and checks it). Compromised passwords come from
//! an operator's k-anonymity range directory (the format of the Pwned Passwords range API:
//! one file per 5-hex-digit SHA-1 prefix, lines `SUFFIX:COUNT`), so only the one file for
//! a password's prefix is ever read and no password is sent anywhere.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;
use sha1::{Digest, Sha1};
use unicode_normalization::UnicodeNormalization;

const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Length rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    pub fn code(&self) -> &'static str {
        match self {
            PasswordProblem::PasswordTooShort { .. } => "password_too_short",
            PasswordProblem::PasswordTooLong { .. } => "password_too_long",
            PasswordProblem::PasswordInvalidCharacter => "password_invalid_character",
            PasswordProblem::PasswordCommon => "password_common",
            PasswordProblem::PasswordRepetitive => "password_repetitive",
            PasswordProblem::PasswordContainsAccountInfo => "password_contains_account_info",
            PasswordProblem::PasswordBreached { .. } => "password_breached",
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
pub fn check_password(
    password: &str,
    policy: &PasswordPolicy,
    account_words: &[&str],
    breached: Option<&BreachedPasswords>,
) -> Result<Vec<PasswordProblem>, String> {
    let normalized = normalize_password(password);
    let chars = normalized.chars().count();
    let mut problems = Vec::new();
    if chars < policy.min_chars {
        problems.push(PasswordProblem::PasswordTooShort {
            min_chars: policy.min_chars,
            chars,
        });
    }
    if chars > policy.max_chars {
        problems.push(PasswordProblem::PasswordTooLong {
            max_chars: policy.max_chars,
        });
        // Nothing more is computed on an oversized input.
        return Ok(problems);
    }
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
            .map(PasswordProblem::code)
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
        let json = serde_json::to_value(&all[0]).unwrap();
        assert_eq!(json["code"], "password_too_short");
    }

    #[test]
    fn the_shipped_list_is_the_real_one() {
        assert_eq!(common().len(), 30_000);
        assert!(common().contains("123456") && common().contains("dragon"));
    }
}
