//! Decoding of the password-policy response control (draft-behera-ldap-password-policy,
//! OID 1.3.6.1.4.1.42.2.27.8.5.1), which tells why OpenLDAP refused a password.
//!
//! ```text
//! PasswordPolicyResponseValue ::= SEQUENCE {
//!     warning [0] CHOICE {
//!         timeBeforeExpiration [0] INTEGER (0 .. maxInt),
//!         graceAuthNsRemaining [1] INTEGER (0 .. maxInt) } OPTIONAL,
//!     error   [1] ENUMERATED { ... } OPTIONAL }
//! ```
//!
//! The value comes from the network, so the decoder is strict and bounded: it never
//! panics, and anything it does not understand is an error rather than a guess.

use crate::{DirectoryError, PasswordRefusal};

/// The control's `error` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PpolicyError {
    PasswordExpired,
    AccountLocked,
    ChangeAfterReset,
    PasswordModNotAllowed,
    MustSupplyOldPassword,
    InsufficientPasswordQuality,
    PasswordTooShort,
    PasswordTooYoung,
    PasswordInHistory,
    /// A value this decoder does not know (a newer draft).
    Other(u32),
}

impl PpolicyError {
    fn from_code(code: u32) -> PpolicyError {
        match code {
            0 => PpolicyError::PasswordExpired,
            1 => PpolicyError::AccountLocked,
            2 => PpolicyError::ChangeAfterReset,
            3 => PpolicyError::PasswordModNotAllowed,
            4 => PpolicyError::MustSupplyOldPassword,
            5 => PpolicyError::InsufficientPasswordQuality,
            6 => PpolicyError::PasswordTooShort,
            7 => PpolicyError::PasswordTooYoung,
            8 => PpolicyError::PasswordInHistory,
            n => PpolicyError::Other(n),
        }
    }

    /// What a refusal of a reset means to Reclaim. Errors about the password become a
    /// [`PasswordRefusal`] the user can act on; the others concern the service account's
    /// rights or the policy's configuration.
    pub fn into_directory_error(self) -> DirectoryError {
        match self {
            PpolicyError::PasswordTooShort => {
                DirectoryError::PasswordRefused(PasswordRefusal::TooShort)
            }
            PpolicyError::PasswordTooYoung => {
                DirectoryError::PasswordRefused(PasswordRefusal::TooYoung)
            }
            PpolicyError::PasswordInHistory => {
                DirectoryError::PasswordRefused(PasswordRefusal::InHistory)
            }
            PpolicyError::InsufficientPasswordQuality => {
                DirectoryError::PasswordRefused(PasswordRefusal::QualityFailed)
            }
            PpolicyError::PasswordModNotAllowed => DirectoryError::PermissionDenied(
                "the password policy does not allow this password to be modified".into(),
            ),
            PpolicyError::MustSupplyOldPassword => DirectoryError::PermissionDenied(
                "the password policy requires the old password (pwdSafeModify)".into(),
            ),
            PpolicyError::AccountLocked => DirectoryError::PermissionDenied(
                "the password policy reports the account as locked".into(),
            ),
            PpolicyError::PasswordExpired | PpolicyError::ChangeAfterReset => {
                DirectoryError::PermissionDenied(
                    "the service account's own password must be changed".into(),
                )
            }
            PpolicyError::Other(_) => {
                DirectoryError::PasswordRefused(PasswordRefusal::PolicyViolation)
            }
        }
    }
}

/// The decoded control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PpolicyResponse {
    pub time_before_expiration: Option<u32>,
    pub grace_logins_remaining: Option<u32>,
    pub error: Option<PpolicyError>,
}

impl PpolicyResponse {
    pub fn decode(value: &[u8]) -> Result<PpolicyResponse, String> {
        let (tag, body, rest) = tlv(value)?;
        if tag != 0x30 || !rest.is_empty() {
            return Err("not a single SEQUENCE".into());
        }
        let mut out = PpolicyResponse::default();
        let mut input = body;
        while !input.is_empty() {
            let (tag, inner, rest) = tlv(input)?;
            input = rest;
            match tag {
                // [0] constructed: the warning CHOICE, itself one tagged INTEGER.
                0xa0 => {
                    let (wtag, wval, wrest) = tlv(inner)?;
                    if !wrest.is_empty() {
                        return Err("trailing bytes in warning".into());
                    }
                    let n = unsigned(wval)?;
                    match wtag {
                        0x80 => out.time_before_expiration = Some(n),
                        0x81 => out.grace_logins_remaining = Some(n),
                        t => return Err(format!("unknown warning tag {t:#04x}")),
                    }
                }
                // [1] primitive: the error ENUMERATED.
                0x81 => out.error = Some(PpolicyError::from_code(unsigned(inner)?)),
                t => return Err(format!("unknown element tag {t:#04x}")),
            }
        }
        Ok(out)
    }
}

/// One BER element with a single-byte tag: (tag, contents, what follows).
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let (&tag, rest) = input.split_first().ok_or("truncated element")?;
    let (&first, rest) = rest.split_first().ok_or("truncated length")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("unsupported length".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err("truncated contents".into());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// A non-negative INTEGER or ENUMERATED that fits in 32 bits.
fn unsigned(v: &[u8]) -> Result<u32, String> {
    if v.is_empty() || v.len() > 5 || v[0] & 0x80 != 0 {
        return Err("bad integer".into());
    }
    let n = v.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    u32::try_from(n).map_err(|_| "integer too large".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_error_only() {
        let r = PpolicyResponse::decode(&[0x30, 0x03, 0x81, 0x01, 0x06]).unwrap();
        assert_eq!(r.error, Some(PpolicyError::PasswordTooShort));
        assert_eq!(r.time_before_expiration, None);
        assert_eq!(
            r.error.unwrap().into_directory_error(),
            DirectoryError::PasswordRefused(PasswordRefusal::TooShort)
        );
    }

    #[test]
    fn decodes_warning_and_error() {
        let v = [
            0x30, 0x0a, 0xa0, 0x05, 0x80, 0x03, 0x01, 0x51, 0x80, 0x81, 0x01, 0x08,
        ];
        let r = PpolicyResponse::decode(&v).unwrap();
        assert_eq!(r.time_before_expiration, Some(0x015180));
        assert_eq!(r.error, Some(PpolicyError::PasswordInHistory));
        let grace = [0x30, 0x05, 0xa0, 0x03, 0x81, 0x01, 0x02];
        assert_eq!(
            PpolicyResponse::decode(&grace)
                .unwrap()
                .grace_logins_remaining,
            Some(2)
        );
    }

    #[test]
    fn an_empty_sequence_has_no_error() {
        assert_eq!(
            PpolicyResponse::decode(&[0x30, 0x00]).unwrap(),
            PpolicyResponse::default()
        );
    }

    #[test]
    fn every_code_maps() {
        for (code, want) in [
            (
                5,
                DirectoryError::PasswordRefused(PasswordRefusal::QualityFailed),
            ),
            (
                7,
                DirectoryError::PasswordRefused(PasswordRefusal::TooYoung),
            ),
            (
                8,
                DirectoryError::PasswordRefused(PasswordRefusal::InHistory),
            ),
            (
                42,
                DirectoryError::PasswordRefused(PasswordRefusal::PolicyViolation),
            ),
        ] {
            let r = PpolicyResponse::decode(&[0x30, 0x03, 0x81, 0x01, code]).unwrap();
            assert_eq!(r.error.unwrap().into_directory_error(), want);
        }
        for code in 0..=4 {
            let r = PpolicyResponse::decode(&[0x30, 0x03, 0x81, 0x01, code]).unwrap();
            assert!(matches!(
                r.error.unwrap().into_directory_error(),
                DirectoryError::PermissionDenied(_)
            ));
        }
    }

    #[test]
    fn malformed_values_are_errors_not_panics() {
        for v in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x81, 0x01],
            &[0x31, 0x00],
            &[0x30, 0x03, 0x82, 0x01, 0x00],
            &[0x30, 0x03, 0x81, 0x01, 0xff],
            &[0x30, 0x02, 0x81, 0x00],
            &[0x30, 0x00, 0x00],
            &[0x30, 0x85, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x04, 0xa0, 0x02, 0x82, 0x00],
        ] {
            assert!(PpolicyResponse::decode(v).is_err(), "{v:?}");
        }
    }
}
