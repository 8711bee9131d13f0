//! Distinguished names read per RFC 4514, enough to compare two DNs that a directory and an
//! administrator may spell differently (`\,` or `\2C`, `CN=` or `cn=`, spaces after the
//! commas) and to take a group's name from its first RDN.

/// One RDN: its (attribute type in lower case, unescaped value) pairs, several when
/// joined with `+`.
pub(crate) type Rdn = Vec<(String, String)>;

/// The RDNs of `dn`, leftmost first; `None` when it is not a DN (an attribute type
/// without `=`, a dangling escape, an escape that is not UTF-8). Quoted values and
/// `#`-BER values (neither produced by the directories Reclaim talks to) are taken
/// literally.
pub(crate) fn parse(dn: &str) -> Option<Vec<Rdn>> {
    // Trailing spaces are left to the value reader: an escaped one is part of the value.
    let b = dn.trim_start().as_bytes();
    let mut rdns = Vec::new();
    if b.is_empty() {
        return Some(rdns);
    }
    let mut rdn = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && b[i] != b'=' {
            if matches!(b[i], b',' | b'+' | b';' | b'\\') {
                return None;
            }
            i += 1;
        }
        let ty = std::str::from_utf8(b.get(start..i)?)
            .ok()?
            .trim()
            .to_ascii_lowercase();
        if i == b.len() || ty.is_empty() {
            return None;
        }
        i += 1;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let mut value = Vec::new();
        // The length up to the last byte that is not an unescaped space: trailing spaces
        // are not part of the value unless escaped.
        let mut keep = 0;
        let mut separator = None;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    let hex = b
                        .get(i + 1..i + 3)
                        .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                    match hex {
                        Some(h) => {
                            let h = std::str::from_utf8(h).ok()?;
                            value.push(u8::from_str_radix(h, 16).ok()?);
                            i += 3;
                        }
                        None => {
                            value.push(*b.get(i + 1)?);
                            i += 2;
                        }
                    }
                    keep = value.len();
                }
                c @ (b',' | b';' | b'+') => {
                    separator = Some(c);
                    i += 1;
                    break;
                }
                c => {
                    value.push(c);
                    if c != b' ' {
                        keep = value.len();
                    }
                    i += 1;
                }
            }
        }
        value.truncate(keep);
        rdn.push((ty, String::from_utf8(value).ok()?));
        match separator {
            Some(b'+') => {}
            Some(_) => rdns.push(std::mem::take(&mut rdn)),
            None => {
                rdns.push(rdn);
                return Some(rdns);
            }
        }
    }
}

/// A form in which two spellings of the same DN are equal: values in lower case (the
/// naming attributes of users and groups, `cn`, `ou`, `dc`, `uid`, match case-insensitively
/// in both OpenLDAP and AD), the pairs of a multi-valued RDN in order.
pub(crate) fn canonical(rdns: Vec<Rdn>) -> Vec<Rdn> {
    rdns.into_iter()
        .map(|mut rdn| {
            for pair in rdn.iter_mut() {
                pair.1 = pair.1.to_lowercase();
            }
            rdn.sort();
            rdn
        })
        .collect()
}

/// The key under which a DN is counted once, whatever its spelling; a string that is not
/// a DN is its own key.
pub(crate) fn key(dn: &str) -> String {
    match parse(dn) {
        Some(rdns) => canonical(rdns)
            .iter()
            .map(|rdn| {
                rdn.iter()
                    .map(|(t, v)| {
                        format!(
                            "{t}={}",
                            v.replace('\\', "\\\\")
                                .replace(',', "\\,")
                                .replace('+', "\\+")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect::<Vec<_>>()
            .join(","),
        None => dn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_escapes_spaces_and_multi_valued_rdns() {
        let d = parse(r" CN=ops\, tier (0)* ,OU=groups+L=x; dc=example\2Ctest ,dc=\ a\  ").unwrap();
        assert_eq!(
            d,
            vec![
                vec![("cn".to_string(), "ops, tier (0)*".to_string())],
                vec![
                    ("ou".to_string(), "groups".to_string()),
                    ("l".to_string(), "x".to_string())
                ],
                vec![("dc".to_string(), "example,test".to_string())],
                vec![("dc".to_string(), " a ".to_string())],
            ]
        );
        assert_eq!(parse("").unwrap(), Vec::<Rdn>::new());
        assert_eq!(
            parse(r"cn=J\C3\BCrgen,dc=x").unwrap()[0][0].1,
            "Jürgen".to_string()
        );
        for bad in [
            "Domain Admins",
            "cn=a,b",
            "=a",
            "cn=a\\",
            r"cn=\FF,dc=x",
            "cn=a,",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn two_spellings_of_one_dn_have_one_key() {
        assert_eq!(
            key(r"CN=Ops\2C Tier,OU=Groups,DC=Example,DC=Test"),
            key(r"cn=ops\, tier, ou=groups, dc=example, dc=test")
        );
        assert_ne!(key("cn=a,dc=x"), key("cn=a,dc=y"));
        assert_ne!(key(r"cn=a\,b,dc=x"), key("cn=a,cn=b,dc=x"));
        assert_eq!(key("l=x+ou=y,dc=z"), key("OU=Y+L=X,DC=Z"));
    }
}
