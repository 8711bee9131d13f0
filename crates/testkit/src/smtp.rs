//! A real SMTP server for the notification tests: `aiosmtpd` (PyPI, 1.4.6) with its
//! Maildir handler, which stores every message it accepts as a file. The tests read the
//! files back: what the relay received is what a mailbox would have.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::{await_server, free_port, spawn_server, stop_server, TempDir};

/// A running `aiosmtpd`. Killed on drop.
#[derive(Debug)]
pub struct SmtpSink {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
}

/// One message the sink received.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Headers as received (unfolded), in order.
    pub headers: Vec<(String, String)>,
    /// The body, decoded from its transfer encoding (quoted-printable, base64, 7/8bit).
    pub body: String,
    /// The whole message as stored, for "does not contain" checks.
    pub raw: String,
}

impl Mail {
    /// The first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn subject(&self) -> &str {
        self.header("Subject").unwrap_or("")
    }

    /// The envelope recipients (aiosmtpd's `X-RcptTo`), or else the `To` header.
    pub fn to(&self) -> Vec<String> {
        let list = self
            .header("X-RcptTo")
            .or_else(|| self.header("To"))
            .unwrap_or("");
        list.split(',')
            .map(|a| {
                let a = a.trim();
                match (a.find('<'), a.rfind('>')) {
                    (Some(i), Some(j)) if i < j => a[i + 1..j].to_string(),
                    _ => a.to_string(),
                }
            })
            .filter(|a| !a.is_empty())
            .collect()
    }

    /// Every URL in the body that starts with `prefix`, up to the first character that
    /// cannot be part of it.
    pub fn links(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find(prefix) {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| c.is_whitespace() || c == '>' || c == '"' || c == '<')
                .unwrap_or(tail.len());
            out.push(tail[..end].to_string());
            rest = &tail[end..];
        }
        out
    }
}

impl SmtpSink {
    /// Starts the sink on a free loopback port; ready when this returns.
    pub fn start() -> Result<SmtpSink, String> {
        let mut last = String::new();
        // Another process can take the port between our probe and the bind: try again.
        for _ in 0..5 {
            match SmtpSink::start_on(free_port()?) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// A loopback port free now, to point a server at before the sink starts there (an
    /// SMTP relay that is down, then comes up).
    pub fn unused_port() -> Result<u16, String> {
        free_port()
    }

    /// Starts the sink on `port`.
    pub fn start_on(port: u16) -> Result<SmtpSink, String> {
        let dir = TempDir::new("smtp")?;
        let maildir = dir.path().join("maildir");
        for sub in ["cur", "new", "tmp"] {
            let d = maildir.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let mut cmd = Command::new("python3");
        cmd.arg("-m")
            .arg("aiosmtpd")
            .arg("-n")
            .arg("-l")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-c")
            .arg("aiosmtpd.handlers.Mailbox")
            .arg(&maildir);
        let log = dir.path().join("aiosmtpd.log");
        let mut child = spawn_server(cmd, &log).map_err(|e| format!("python3: {e}"))?;
        // Ready in about 0.4 s.
        let ready = await_server(&mut child, &log, Duration::from_secs(15), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if let Err(log) = ready {
            let hint = if log.contains("No module named aiosmtpd") {
                " (install it: python3 -m pip install aiosmtpd==1.4.6, or run scripts/setup-debian)"
            } else {
                ""
            };
            return Err(format!(
                "aiosmtpd did not start on 127.0.0.1:{port}{hint}: {}",
                log.trim()
            ));
        }
        Ok(SmtpSink {
            child: Some(child),
            port,
            dir,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The relay URL for Reclaim's `notify.smtp_url` (no TLS: loopback).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<(std::time::SystemTime, String, PathBuf)> = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir().join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let modified = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                files.push((
                    modified,
                    e.file_name().to_string_lossy().into_owned(),
                    e.path(),
                ));
            }
        }
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, _, p)| std::fs::read(p).ok())
            .map(|bytes| parse(&String::from_utf8_lossy(&bytes)))
            .collect()
    }

    /// Waits until at least `count` messages arrived (or `limit` passed) and returns all
    /// of them; an error says how many came.
    pub fn wait_for_messages(&self, count: usize, limit: Duration) -> Result<Vec<Mail>, String> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.messages();
            if got.len() >= count {
                return Ok(got);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} of {count} messages arrived within {limit:?}",
                    got.len()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        stop_server(&mut self.child);
    }
}

/// Splits a stored message into unfolded headers and a decoded body.
fn parse(raw: &str) -> Mail {
    let text = raw.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((text.as_str(), ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let encoding = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Transfer-Encoding"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    let body = match encoding.as_str() {
        "quoted-printable" => quoted_printable(body),
        "base64" => base64(body),
        _ => body.to_string(),
    };
    Mail {
        headers,
        body,
        raw: raw.to_string(),
    }
}

fn quoted_printable(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let (line, soft) = match line.strip_suffix('=') {
            Some(l) => (l, true),
            None => (line, false),
        };
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 3 <= bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                if let Ok(b) = u8::from_str_radix(hex, 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        if !soft {
            out.push(b'\n');
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_parsed_and_decoded() {
        let m = parse("To: A <a@example.test>\r\nSubject: Hello\r\n  world\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsee https://x.test/v1/notices/nc_ab=\r\ncd now =C3=A9\r\n");
        assert_eq!(m.subject(), "Hello world");
        assert_eq!(m.to(), ["a@example.test"]);
        assert_eq!(
            m.links("https://x.test/"),
            ["https://x.test/v1/notices/nc_abcd"]
        );
        assert!(m.body.contains("now é"), "{}", m.body);
        let m = parse("Content-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQ=\n");
        assert_eq!(m.body, "hello world");
    }
}
