//! `reclaim serve`: the backend, and the admin commands that work on its database
//! (`reclaim device ...`, `reclaim audit verify`, `reclaim audit checkpoint-key`).

use reclaim_protocol::Code;
use std::path::PathBuf;

use reclaim_server::devices::{self, Tier};
use reclaim_server::{audit, hardware, App, Config};
use reclaim_tpm::{CertificationProof, RegistrationRequest};

use crate::output::{fail, print_json, say, Exit};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The configuration file (TOML); `RECLAIM__SECTION__KEY` variables override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Check the configuration and what it names (the data key against the database, the
    /// database and its TLS, files, models, SIEM sinks), print each problem on a line of
    /// its own and exit: 0 when a start would find nothing wrong, 1 when it would, 2 when
    /// the configuration itself is refused. Starts nothing; changes nothing but a missing
    /// `[siem.file]` file, created as a start would.
    #[arg(long)]
    pub check: bool,
    /// With --check: also connect to the company directory and bind as the service
    /// account.
    #[arg(long, requires = "check")]
    pub connect: bool,
    /// With --check: bring the database's schema up to date, as a start would, instead of
    /// only reading it.
    #[arg(long, requires = "check")]
    pub migrate: bool,
}

#[derive(clap::Args)]
pub struct AdminArgs {
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Subcommand)]
pub enum DeviceCommand {
    /// Register a device key. Without --public-key, a new key pair is made: its private
    /// seed is written to --key-out (owner-only) and its public key printed. With
    /// --tpm-attestation, the device's proof that its key lives in a TPM (answering a
    /// `tpm-challenge`) registers it as `hardware`.
    Register {
        #[command(flatten)]
        admin: AdminArgs,
        #[arg(long, conflicts_with = "tpm_attestation")]
        public_key: Option<String>,
        #[arg(long, conflicts_with = "tpm_attestation")]
        key_out: Option<PathBuf>,
        /// The device's certification proof (JSON), from its answer to `tpm-challenge`.
        #[arg(long, value_name = "FILE")]
        tpm_attestation: Option<PathBuf>,
        /// The device's name; with --tpm-attestation, the one given to `tpm-challenge`.
        #[arg(long, required_unless_present = "tpm_attestation")]
        name: Option<String>,
        /// `managed` (kiosks, managed laptops) or `unmanaged`. `hardware` only comes from
        /// a TPM attestation.
        #[arg(long, default_value = "managed", conflicts_with = "tpm_attestation")]
        tier: String,
    },
    /// The first step of registering a TPM-held key as `hardware`: checks the device's
    /// registration request (its endorsement and attestation keys, JSON) and prints the
    /// challenge (JSON) only that TPM can answer.
    TpmChallenge {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device's registration request (JSON).
        #[arg(value_name = "REQUEST")]
        request: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// Revoke a device key by its id.
    Revoke {
        #[command(flatten)]
        admin: AdminArgs,
        key_id: String,
    },
    /// List the registered devices.
    List {
        #[command(flatten)]
        admin: AdminArgs,
    },
}

#[derive(clap::Subcommand)]
pub enum AccountCommand {
    /// Let an account use self-service recovery again after its owner answered a notice
    /// with "this wasn't me" (after the helpdesk has spoken to them).
    UnlockSelfService {
        #[command(flatten)]
        admin: AdminArgs,
        /// The account's login or email, as the directory knows it.
        login: String,
    },
}

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Walk the audit chain: exit 0 when intact, 1 when an entry was edited, removed,
    /// reordered or forged, the head was moved, a reset has no decision, a grant in the
    /// database no decision issued, or (with --checkpoint) a checkpointed entry is gone.
    Verify {
        #[command(flatten)]
        admin: AdminArgs,
        /// Signed checkpoints to check the chain against: the server's checkpoint file or
        /// its JSON log (lines that are not checkpoints are skipped).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Print the public key that signs audit checkpoints (Ed25519), for a SIEM to check
    /// them with.
    CheckpointKey {
        #[command(flatten)]
        admin: AdminArgs,
    },
}

fn load_config(path: Option<&std::path::Path>, json: bool) -> Result<Config, Exit> {
    Config::load(path, std::env::vars())
        .map_err(|e| fail(json, Code::ConfigInvalid, &e.to_string()))
}

pub fn serve(args: ServeArgs) -> Exit {
    if args.check {
        return super::check::run(&args);
    }
    let config = match load_config(args.config.as_deref(), false) {
        Ok(c) => c,
        Err(o) => return o,
    };
    // Structured logs on stderr; they carry codes and ids, never secrets or biometrics.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RECLAIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let rt = match super::runtime(false) {
        Ok(r) => r,
        Err(o) => return o,
    };
    rt.block_on(async move {
        let app = match App::open(config).await {
            Ok(a) => a,
            Err(e) => return fail(false, Code::ServerStartFailed, &e.to_string()),
        };
        let server = match reclaim_server::start(app).await {
            Ok(s) => s,
            Err(e) => return fail(false, Code::ServerStartFailed, &e.to_string()),
        };
        tracing::info!(address = %server.addr, "listening");
        eprintln!("reclaim: listening on http://{}", server.addr);
        shutdown_signal().await;
        tracing::info!("shutting down");
        server.stop().await;
        Exit::Yes
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The database and keys only: admin commands load no models.
pub(crate) async fn open_admin(admin: &AdminArgs) -> Result<std::sync::Arc<App>, Exit> {
    let mut config = load_config(admin.config.as_deref(), admin.json)?;
    config.reverify = false;
    App::open(config)
        .await
        .map_err(|e| fail(admin.json, Code::ServerStartFailed, &e.to_string()))
}

pub fn device(command: DeviceCommand) -> Exit {
    let rt = match super::runtime(false) {
        Ok(r) => r,
        Err(o) => return o,
    };
    rt.block_on(async move {
        match command {
            DeviceCommand::TpmChallenge { admin, request, name } => {
                let (request, app, verifier) = match open_tpm::<RegistrationRequest>(&admin, &request).await {
                    Ok(opened) => opened,
                    Err(o) => return o,
                };
                match hardware::challenge(&app.store, &verifier, &request, &name).await {
                    // The challenge is the output in both modes: the device reads it.
                    Ok(challenge) => {
                        print_json(&challenge);
                        Exit::Yes
                    }
                    Err(e) => fail(admin.json, e.code(), &e.to_string()),
                }
            }
            DeviceCommand::Register {
                admin,
                tpm_attestation: Some(path),
                ..
            } => {
                let (proof, app, verifier) = match open_tpm::<CertificationProof>(&admin, &path).await {
                    Ok(opened) => opened,
                    Err(o) => return o,
                };
                match hardware::register(&app.store, &app.keys, &verifier, &proof, "admin:cli").await {
                    Ok(d) => {
                        let public = d.public_key.to_base64();
                        if admin.json {
                            print_json(&serde_json::json!({ "key_id": d.key_id, "tier": d.tier, "name": d.name, "public_key": public }));
                        } else {
                            say!("registered {} ({}) as {}: its key lives in the TPM", d.key_id, d.name, d.tier.as_str());
                            say!("public key: {public}");
                        }
                        Exit::Yes
                    }
                    Err(e) => fail(admin.json, e.code(), &e.to_string()),
                }
            }
            DeviceCommand::Register {
                admin,
                public_key,
                key_out,
                name,
                tier,
                tpm_attestation: None,
            } => {
                let Some(name) = name else {
                    return fail(admin.json, Code::InputInvalid, "give --name");
                };
                let tier = match tier.as_str() {
                    "managed" => Tier::Managed,
                    "unmanaged" => Tier::Unmanaged,
                    other => {
                        return fail(admin.json, Code::InputInvalid, &format!("--tier {other}: managed or unmanaged"))
                    }
                };
                let public = match (public_key, key_out) {
                    (Some(p), _) => p,
                    (None, Some(path)) => match new_key_file(&path) {
                        Ok(p) => p,
                        Err(message) => return fail(admin.json, Code::KeyWriteFailed, &message),
                    },
                    (None, None) => return fail(admin.json, Code::InputInvalid, "give --public-key or --key-out"),
                };
                let app = match open_admin(&admin).await {
                    Ok(a) => a,
                    Err(o) => return o,
                };
                match devices::register(&app.store, &app.keys, &public, &name, tier, "admin:cli").await {
                    Ok(d) => {
                        if admin.json {
                            print_json(&serde_json::json!({ "key_id": d.key_id, "tier": d.tier, "name": d.name, "public_key": public }));
                        } else {
                            say!("registered {} ({}) as {}", d.key_id, d.name, d.tier.as_str());
                            say!("public key: {public}");
                        }
                        Exit::Yes
                    }
                    Err(e) => fail(admin.json, e.code(), &e.to_string()),
                }
            }
            DeviceCommand::Revoke { admin, key_id } => {
                let app = match open_admin(&admin).await {
                    Ok(a) => a,
                    Err(o) => return o,
                };
                match devices::revoke(&app.store, &app.keys, &key_id, "admin:cli").await {
                    Ok(()) => {
                        if admin.json {
                            print_json(&serde_json::json!({ "key_id": key_id, "revoked": true }));
                        } else {
                            say!("revoked {key_id}");
                        }
                        Exit::Yes
                    }
                    Err(e) => fail(admin.json, e.code(), &e.to_string()),
                }
            }
            DeviceCommand::List { admin } => {
                let app = match open_admin(&admin).await {
                    Ok(a) => a,
                    Err(o) => return o,
                };
                match devices::list(&app.store).await {
                    Ok(list) => {
                        if admin.json {
                            print_json(&list);
                        } else {
                            for d in list {
                                say!(
                                    "{}  {:9}  {}{}",
                                    d.key_id,
                                    d.tier.as_str(),
                                    d.name,
                                    if d.revoked_at.is_some() { "  (revoked)" } else { "" }
                                );
                            }
                        }
                        Exit::Yes
                    }
                    Err(e) => fail(admin.json, e.code(), &e.to_string()),
                }
            }
        }
    })
}

/// What both TPM registration steps start from: the device's message (a JSON file), the
/// server's database, and the verifier for its `[tpm]` trust settings.
async fn open_tpm<T: serde::de::DeserializeOwned>(
    admin: &AdminArgs,
    path: &std::path::Path,
) -> Result<(T, std::sync::Arc<App>, reclaim_tpm::Verifier), Exit> {
    let message = read_json(path).map_err(|m| fail(admin.json, Code::InputInvalid, &m))?;
    let app = open_admin(admin).await?;
    let verifier = hardware::verifier(&app.config.tpm)
        .map_err(|e| fail(admin.json, e.code(), &e.to_string()))?;
    Ok((message, app, verifier))
}

/// A JSON file from a device, bounded: these are a few kilobytes.
fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, String> {
    use std::io::Read;
    const MAX: u64 = 256 * 1024;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if text.len() as u64 > MAX {
        return Err(format!("{}: larger than {MAX} bytes", path.display()));
    }
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a new device key's private seed (hex, owner-only) and returns its public key.
fn new_key_file(path: &std::path::Path) -> Result<String, String> {
    let key = reclaim_protocol::DeviceKey::generate()?;
    reclaim_server::crypto::write_private(path, key.seed_hex().as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(key.public().to_base64())
}

pub fn account(command: AccountCommand) -> Exit {
    let AccountCommand::UnlockSelfService { admin, login } = command;
    let rt = match super::runtime(false) {
        Ok(r) => r,
        Err(o) => return o,
    };
    rt.block_on(async move {
        let app = match open_admin(&admin).await {
            Ok(a) => a,
            Err(o) => return o,
        };
        let user = match app.directory.find_user(&login).await {
            Ok(Some(u)) => u,
            Ok(None) => {
                return fail(
                    admin.json,
                    Code::UserUnknown,
                    &format!("{login}: not in the directory"),
                )
            }
            Err(e) => return fail(admin.json, e.code(), &e.to_string()),
        };
        match reclaim_server::notify::unlock_self_service(
            &app.store,
            &app.keys,
            &user.id,
            "admin:cli",
        )
        .await
        {
            Ok(was_locked) => {
                if admin.json {
                    print_json(&serde_json::json!({ "login": login, "was_locked": was_locked }));
                } else if was_locked {
                    say!("self-service recovery unlocked for {login}");
                } else {
                    say!("self-service recovery was not locked for {login}");
                }
                Exit::Yes
            }
            Err(e) => fail(admin.json, e.code(), &e.to_string()),
        }
    })
}

pub fn audit(command: AuditCommand) -> Exit {
    let rt = match super::runtime(false) {
        Ok(r) => r,
        Err(o) => return o,
    };
    match command {
        AuditCommand::Verify { admin, checkpoint } => rt.block_on(audit_verify(admin, checkpoint)),
        AuditCommand::CheckpointKey { admin } => rt.block_on(async move {
            use base64::Engine as _;
            let app = match open_admin(&admin).await {
                Ok(a) => a,
                Err(o) => return o,
            };
            let key = app.keys.checkpoint_public_key();
            let raw = base64::engine::general_purpose::STANDARD.encode(key);
            // SubjectPublicKeyInfo for Ed25519 (RFC 8410): a fixed prefix, then the key;
            // `openssl pkeyutl -verify -pubin -rawin` reads it.
            let mut spki = vec![
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
            ];
            spki.extend_from_slice(&key);
            let pem = format!(
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
                base64::engine::general_purpose::STANDARD.encode(spki)
            );
            if admin.json {
                print_json(&serde_json::json!({ "algorithm": "Ed25519", "key": raw, "pem": pem }));
            } else {
                say!("{pem}");
            }
            Exit::Yes
        }),
    }
}

async fn audit_verify(admin: AdminArgs, checkpoint: Option<PathBuf>) -> Exit {
    // The file first: a wrong path is bad input (exit 2), not a broken chain.
    let checkpoints = match &checkpoint {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                return fail(
                    admin.json,
                    Code::CheckpointFileUnreadable,
                    &format!("{}: {e}", path.display()),
                )
            }
        },
        None => None,
    };
    let app = match open_admin(&admin).await {
        Ok(a) => a,
        Err(o) => return o,
    };
    let verified = match &checkpoints {
        Some(text) => audit::verify_with_checkpoints(&app.store, &app.keys, text).await,
        None => audit::verify(&app.store, &app.keys).await,
    };
    let report = match verified {
        Ok(r) => r,
        Err(e) => return fail(admin.json, e.code(), &e.to_string()),
    };
    if admin.json {
        print_json(&report);
    } else if report.intact() {
        say!(
            "audit chain intact: {} entries, head {} {}{}",
            report.entries,
            report.head_seq,
            report.head_hash,
            report
                .checkpoints
                .map_or(String::new(), |n| format!(", {n} checkpoints hold"))
        );
    } else {
        say!("audit chain BROKEN: {} entries", report.entries);
        for p in &report.problems {
            let mut line = format!("  entry {}: {}", p.seq, p.code);
            if let Some(g) = &p.grant {
                line.push_str(&format!(" (grant {g})"));
            }
            if let Some(n) = p.line {
                line.push_str(&format!(" (checkpoint line {n})"));
            }
            say!("{line}");
        }
    }
    if report.intact() {
        Exit::Yes
    } else {
        Exit::No
    }
}
