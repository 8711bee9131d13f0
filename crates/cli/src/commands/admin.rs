//! `reclaim admin local ...`: the console's local accounts, for bootstrap and break-glass
//! (sign-in with a passkey, no OpenID provider needed). Made here, on the server's own
//! command line, so that having one takes access to the server, not to the console.

use reclaim_protocol::Code;
use reclaim_server::admin::{local, Role};

use super::serve::{open_admin, AdminArgs};
use crate::output::{fail, print_json, say, Exit};

#[derive(clap::Subcommand)]
pub enum AdminCommand {
    /// The console's local accounts (passkey sign-in, for bootstrap and break-glass).
    #[command(subcommand)]
    Local(LocalCommand),
}

#[derive(clap::Subcommand)]
pub enum LocalCommand {
    /// Make a local account and print its one-time enrolment link (24 hours) to open in
    /// the browser where its passkey is to be made.
    Add {
        #[command(flatten)]
        admin: AdminArgs,
        /// The account's name: a-z, 0-9, '.', '_', '-' (kept in lower case). Use the
        /// person's own login: they then cannot decide their own account's recovery.
        name: String,
        /// A role it has (admin, reviewer, auditor); give it once per role.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// List the local accounts.
    List {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Remove a local account: its passkeys stop working and its console sign-ins end.
    Remove {
        #[command(flatten)]
        admin: AdminArgs,
        name: String,
    },
}

/// Who did it, for the audit chain: the command line, and the system user running it
/// (the one who called `sudo`, when the command runs as the server's user through it).
fn actor() -> String {
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_default();
    let user: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .take(64)
        .collect();
    if user.is_empty() {
        "admin:cli".to_string()
    } else {
        format!("admin:cli:{user}")
    }
}

pub fn run(command: AdminCommand) -> Exit {
    let AdminCommand::Local(command) = command;
    let rt = match super::runtime(false) {
        Ok(r) => r,
        Err(o) => return o,
    };
    rt.block_on(async move {
        match command {
            LocalCommand::Add { admin, name, roles } => {
                let mut parsed = Vec::new();
                for r in &roles {
                    match Role::parse(&r.to_ascii_lowercase()) {
                        Some(role) => parsed.push(role),
                        None => {
                            return fail(
                                admin.json,
                                Code::InputInvalid,
                                &format!("--role {r}: admin, reviewer or auditor"),
                            )
                        }
                    }
                }
                let app = match open_admin(&admin).await {
                    Ok(a) => a,
                    Err(o) => return o,
                };
                if !app.config.admin.local_accounts {
                    eprintln!("reclaim: note: admin.local_accounts is off, so the console takes no passkeys until it is turned on");
                }
                match local::add(&app, &name, &parsed, &actor()).await {
                    Ok(new) => {
                        if admin.json {
                            print_json(&serde_json::json!({
                                "name": new.name,
                                "enrolment_link": new.link.as_str(),
                                "expires_at": new.expires_at,
                            }));
                        } else {
                            say!("local account {} made; its enrolment link (works once, for 24 hours):", new.name);
                            say!("{}", new.link.as_str());
                        }
                        Exit::Yes
                    }
                    Err(e) => fail(admin.json, e.code, &e.message),
                }
            }
            LocalCommand::List { admin } => {
                let app = match open_admin(&admin).await {
                    Ok(a) => a,
                    Err(o) => return o,
                };
                match local::list(&app).await {
                    Ok(accounts) => {
                        if admin.json {
                            let list: Vec<_> = accounts
                                .iter()
                                .map(|a| {
                                    serde_json::json!({
                                        "name": a.name,
                                        "roles": a.roles.split(',').collect::<Vec<_>>(),
                                        "passkeys": a.passkeys,
                                        "created_at": a.created_at,
                                        "created_by": a.created_by,
                                        "last_used": a.last_used,
                                        "enrolment_expires_at": a.enrol_expires,
                                    })
                                })
                                .collect();
                            print_json(&list);
                        } else {
                            for a in accounts {
                                let pending = match a.enrol_expires {
                                    Some(_) => "  (enrolment link not used yet)",
                                    None => "",
                                };
                                say!("{}  {}  passkeys: {}{}", a.name, a.roles, a.passkeys, pending);
                            }
                        }
                        Exit::Yes
                    }
                    Err(e) => fail(admin.json, e.code, &e.message),
                }
            }
            LocalCommand::Remove { admin, name } => {
                let app = match open_admin(&admin).await {
                    Ok(a) => a,
                    Err(o) => return o,
                };
                match local::remove(&app, &name, &actor()).await {
                    Ok(true) => {
                        if admin.json {
                            print_json(&serde_json::json!({ "name": name, "removed": true }));
                        } else {
                            say!("local account {name} removed; its sign-ins ended");
                        }
                        Exit::Yes
                    }
                    Ok(false) => fail(admin.json, Code::InputInvalid, &format!("{name}: no such local account")),
                    Err(e) => fail(admin.json, e.code, &e.message),
                }
            }
        }
    })
}
