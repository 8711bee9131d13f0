//! Signing a request to Duo's Admin API.
//!
//! Duo authenticates each request by HTTP Basic authentication whose user name is the
//! integration key and whose password is an HMAC of the request's canonical form under the
//! secret key, with the request's own `Date` header inside it (Duo's Admin API
//! documentation, "Authentication"). Reclaim signs as Duo's reference client `duo_client`
//! (PyPI `duo-client` 5.7.0, BSD) does by default, its signature version 5: the lines
//!
//! ```text
//! date                       (the Date header, RFC 2822)
//! METHOD                     (upper case)
//! api hostname               (lower case)
//! path                       (/admin/v1/users)
//! canonical parameters       (key=value, RFC 3986 percent-encoded, sorted, joined by &)
//! SHA-512 of the body, hex   (the JSON body of a POST; of "" for GET and DELETE)
//! SHA-512 of the X-Duo headers, hex   (none are sent: of "")
//! ```
//!
//! joined by `\n`, signed with HMAC-SHA512, hex. Parameters of a GET or DELETE go in the
//! query string (spelled exactly as in the canonical form) and those of a POST in a JSON
//! body (keys sorted, no spaces, as `duo_client` writes it), with no parameters in the
//! canonical form then.
//!
//! Written from the documentation and from reading `duo_client`'s `client.py`; no code
//! is taken from it. The tests below check the documented example and `duo_client`'s
//! own test vectors.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::{digest, hmac};

/// `Date` for a request sent now, in the form `duo_client` sends (`email.utils.formatdate`:
/// `Tue, 21 Aug 2012 17:29:18 -0000`).
pub(crate) fn date_now() -> String {
    rfc2822(std::time::SystemTime::now())
}

pub(crate) fn rfc2822(at: std::time::SystemTime) -> String {
    // httpdate writes `Tue, 21 Aug 2012 17:29:18 GMT`: the same fields, another zone name.
    let http = httpdate::fmt_http_date(at);
    match http.strip_suffix("GMT") {
        Some(head) => format!("{head}-0000"),
        None => http,
    }
}

/// RFC 3986 percent-encoding of every byte but the unreserved characters (`A-Z a-z 0-9
/// - . _ ~`), hex in upper case: Python's `urllib.parse.quote(s, '~')`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical parameters: each `key=value` encoded, sorted by key then value, joined
/// by `&`. Also the query string sent, so the two cannot differ.
pub(crate) fn canon_params(params: &[(&str, String)]) -> String {
    let mut pairs: Vec<(String, String)> =
        params.iter().map(|(k, v)| (quote(k), quote(v))).collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The JSON body of a POST: an object of string values, keys sorted, no spaces (what
/// `duo_client`'s `canon_json` makes of the same parameters; all of Reclaim's are ASCII,
/// where Python's escaping of other characters does not arise).
pub(crate) fn json_body(params: &[(&str, String)]) -> String {
    let map: std::collections::BTreeMap<&str, &str> =
        params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

/// The first five lines: date, method, host, path, parameters (the whole of the older
/// signature version 2).
pub(crate) fn canonical_head(
    date: &str,
    method: &str,
    host: &str,
    path: &str,
    canon_params: &str,
) -> String {
    [
        date,
        &method.to_ascii_uppercase(),
        &host.to_ascii_lowercase(),
        path,
        canon_params,
    ]
    .join("\n")
}

fn sha512_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA512, data))
}

/// The canonical form of signature version 5 (see the module's documentation). No
/// `X-Duo-` headers are sent, so their hash is that of the empty string.
pub(crate) fn canonical_v5(
    date: &str,
    method: &str,
    host: &str,
    path: &str,
    canon_params: &str,
    body: &str,
) -> String {
    format!(
        "{}\n{}\n{}",
        canonical_head(date, method, host, path, canon_params),
        sha512_hex(body.as_bytes()),
        sha512_hex(b"")
    )
}

/// `Basic base64(ikey:hex(HMAC(skey, canonical)))`.
pub(crate) fn basic(algorithm: hmac::Algorithm, ikey: &str, skey: &str, canonical: &str) -> String {
    let key = hmac::Key::new(algorithm, skey.as_bytes());
    let sig = hex::encode(hmac::sign(&key, canonical.as_bytes()));
    format!("Basic {}", STANDARD.encode(format!("{ikey}:{sig}")))
}

/// The `Authorization` header of a request, signature version 5 (HMAC-SHA512).
pub(crate) fn authorization(
    keys: (&str, &str),
    host: &str,
    date: &str,
    method: &str,
    path: &str,
    canon_params: &str,
    body: &str,
) -> String {
    let canonical = canonical_v5(date, method, host, path, canon_params, body);
    basic(hmac::HMAC_SHA512, keys.0, keys.1, &canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Duo's documentation of request signing (the "Authentication" section
    /// of the Auth API page, https://www.duosecurity.com/docs/authapi, whose output Duo's
    /// own Go client `duo_api_golang` checks in its `TestSign`, citing that page; read
    /// here through that test and a Duo community thread quoting the example, since the
    /// page itself could not be fetched): integration key
    /// `DIWJ8X6AEYOR5OMC6TQ1`, secret key `Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep`, the
    /// request `POST /accounts/v1/account/list` to `api-XXXXXXXX.duosecurity.com` with
    /// `realname=First Last` and `username=root` at `Tue, 21 Aug 2012 17:29:18 -0000`.
    /// The documented canonical request is
    ///
    /// ```text
    /// Tue, 21 Aug 2012 17:29:18 -0000
    /// POST
    /// api-xxxxxxxx.duosecurity.com
    /// /accounts/v1/account/list
    /// realname=First%20Last&username=root
    /// ```
    ///
    /// and, signed with HMAC-SHA1 (the example's signature version 2), the header
    /// `Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6MmQ5N2Q2MTY2MzE5NzgxYjVhM2EwN2FmMzlkMzY2ZjQ5MTIzNGVkYw==`.
    /// Version 5 adds the two hash lines to these same five.
    #[test]
    fn the_documented_example_signs_as_documented() {
        let params = [
            ("username", "root".to_string()),
            ("realname", "First Last".to_string()),
        ];
        let canon = canonical_head(
            "Tue, 21 Aug 2012 17:29:18 -0000",
            "POST",
            "api-XXXXXXXX.duosecurity.com",
            "/accounts/v1/account/list",
            &canon_params(&params),
        );
        assert_eq!(
            canon,
            "Tue, 21 Aug 2012 17:29:18 -0000\nPOST\napi-xxxxxxxx.duosecurity.com\n/accounts/v1/account/list\nrealname=First%20Last&username=root"
        );
        assert_eq!(
            basic(
                hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                "DIWJ8X6AEYOR5OMC6TQ1",
                "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep",
                &canon
            ),
            "Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6MmQ5N2Q2MTY2MzE5NzgxYjVhM2EwN2FmMzlkMzY2ZjQ5MTIzNGVkYw=="
        );
    }

    /// `duo_client` 5.7.0's tests (`tests/test_client.py`, `TestSign.test_hmac_sha512` and
    /// `TestQueryParameters`): mixed-case method and host, non-ASCII keys and values.
    #[test]
    fn duo_clients_own_vectors() {
        let params = [
            (
                "\u{469a}\u{287b}\u{35d0}\u{8ef3}\u{6727}\u{502a}\u{0810}\u{d091}\u{c8}\u{c170}",
                "\u{0f45}\u{1a76}\u{341a}\u{654c}\u{c23f}\u{9b09}\u{abe2}\u{8343}\u{1b27}\u{60d0}"
                    .to_string(),
            ),
            (
                "\u{7449}\u{7e4b}\u{ccfb}\u{59ff}\u{fe5f}\u{83b7}\u{adcc}\u{900c}\u{cfd1}\u{7813}",
                "\u{8db7}\u{5022}\u{92d3}\u{42ef}\u{207d}\u{8730}\u{acfe}\u{5617}\u{0946}\u{4e30}"
                    .to_string(),
            ),
            (
                "\u{7470}\u{9314}\u{901c}\u{9eae}\u{40d8}\u{4201}\u{82d8}\u{8c70}\u{1d31}\u{a042}",
                "\u{17d9}\u{0ba8}\u{9358}\u{aadf}\u{a42a}\u{48be}\u{fb96}\u{6fe9}\u{b7ff}\u{32f3}"
                    .to_string(),
            ),
            (
                "\u{c2c5}\u{2c1d}\u{2620}\u{3617}\u{96b3}F\u{8605}\u{20e8}\u{ac21}\u{5934}",
                "\u{fba9}\u{41aa}\u{bd83}\u{840b}\u{2615}\u{3e6e}\u{652d}\u{a8b5}\u{d56b}U"
                    .to_string(),
            ),
        ];
        let canon = canonical_head(
            "Fri, 07 Dec 2012 17:18:00 -0000",
            "PoSt",
            "foO.BAr52.cOm",
            "/Foo/BaR2/qux",
            &canon_params(&params),
        );
        let expected_hex = "0508065035a03b2a1de2f453e629e791d180329e157f65df6b3e0f08299d4321e1c5c7a7c7ee6b9e5fc80d1fb6fbf3ad5eb7c44dd3b3985a02c37aca53ec3698";
        assert_eq!(
            basic(
                hmac::HMAC_SHA512,
                "test_ikey",
                "gtdfxv9YgVBYcF6dl2Eq17KUQJN2PLM2ODVTkvoT",
                &canon
            ),
            format!(
                "Basic {}",
                STANDARD.encode(format!("test_ikey:{expected_hex}"))
            )
        );
        assert_eq!(
            canon_params(&[
                ("digits", "0123456789".into()),
                ("punctuation", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".into()),
                ("whitespace", "\t\n\x0b\x0c\r ".into()),
            ]),
            "digits=0123456789&punctuation=%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~&whitespace=%09%0A%0B%0C%0D%20"
        );
        assert_eq!(
            canon_params(&[("foo_bar", "2".into()), ("foo", "1".into())]),
            "foo=1&foo_bar=2"
        );
        assert_eq!(canon_params(&[]), "");
    }

    #[test]
    fn version_5_adds_the_body_and_header_hashes() {
        let body = json_body(&[("valid_secs", "3600".into()), ("count", "1".into())]);
        assert_eq!(body, r#"{"count":"1","valid_secs":"3600"}"#);
        let canon = canonical_v5(
            "Tue, 17 Nov 2020 14:12:00",
            "post",
            "API-x.duosecurity.com",
            "/admin/v1/users/DU1/bypass_codes",
            "",
            &body,
        );
        let lines: Vec<&str> = canon.split('\n').collect();
        assert_eq!(lines.len(), 7);
        assert_eq!(
            lines[1..5],
            [
                "POST",
                "api-x.duosecurity.com",
                "/admin/v1/users/DU1/bypass_codes",
                ""
            ]
        );
        assert_eq!(lines[5], sha512_hex(body.as_bytes()));
        // SHA-512 of nothing: no X-Duo headers.
        assert!(lines[6].starts_with("cf83e1357eefb8bdf1542850d66d8007d620e405"));
        assert_eq!(
            rfc2822(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_345_570_158)),
            "Tue, 21 Aug 2012 17:29:18 -0000"
        );
    }
}
