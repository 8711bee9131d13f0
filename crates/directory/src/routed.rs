//! One directory per action: passwords and unlock in Active Directory, second factors in
//! Okta or Duo, say.
//!
//! A deployment has one *directory of record*: where the account is looked up at the
//! start of a session, whose names and birth date are compared with the ID, and whose
//! groups say whether the account is privileged. Each action (password, second factors,
//! unlock) is carried out by the record itself, by another connector, or by nobody
//! (`off`). In another connector the account is found through an attribute of the
//! record's account ([`Link`]): its login or its email address. The account found there
//! must be exactly one; none, or several, fail the change (`UserNotFound`, or a protocol
//! error), never guess.
//!
//! [`RoutedDirectory`] is itself a [`Directory`], so the server's exactly-once logic is
//! unchanged: the grant names the record's account, and each call to apply or check a
//! change finds the linked account anew and passes it to the connector that owns the
//! action (whose own rules for a repeat after a lost answer then hold).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Capabilities, Directory, DirectoryError, DirectoryUser, MfaReset};

/// The name the directory of record goes by in a route.
pub const RECORD: &str = "directory";
/// The route that turns an action off.
pub const OFF: &str = "off";

/// Which attribute of the record's account finds the account in another connector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// The login name (`sAMAccountName`, `uid`): the default, since a login is unique
    /// and set by the administrators.
    #[default]
    Username,
    /// The email address. Only where the other service does not let people change
    /// their own address: whoever can set theirs to someone else's is found for them.
    Email,
}

/// Where one action is carried out (`[actions.mfa]` in the server's configuration).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// [`RECORD`] (`directory`), [`OFF`], or the name of a configured connector.
    pub connector: String,
    /// How the account is found in that connector. Not used for the record.
    #[serde(default)]
    pub link: Link,
}

/// The routes of the three actions; an absent one is carried out by the record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Routes {
    pub password: Option<Route>,
    pub mfa: Option<Route>,
    pub unlock: Option<Route>,
}

impl Routes {
    fn each(&self) -> [(&'static str, &Option<Route>); 3] {
        [
            ("password", &self.password),
            ("mfa", &self.mfa),
            ("unlock", &self.unlock),
        ]
    }

    /// Checks the routes against the names of the configured connectors, without opening
    /// any: each route names the record, `off` or a connector; no connector takes a
    /// reserved name; every connector is used by some action (one that is not is a
    /// configuration that does not do what its author meant).
    pub fn check_names<'a>(
        &self,
        connectors: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<(), DirectoryError> {
        for name in connectors.clone() {
            if name == RECORD || name == OFF || name.trim().is_empty() {
                return Err(DirectoryError::Config(format!(
                    "connectors.{name}: `{RECORD}` and `{OFF}` are reserved names"
                )));
            }
            if !self
                .each()
                .iter()
                .any(|(_, r)| r.as_ref().is_some_and(|r| r.connector == name))
            {
                return Err(DirectoryError::Config(format!(
                    "connectors.{name}: no action uses it (name it in [actions])"
                )));
            }
        }
        for (action, route) in self.each() {
            if let Some(r) = route {
                let known = r.connector == RECORD
                    || r.connector == OFF
                    || connectors.clone().into_iter().any(|n| n == r.connector);
                if !known {
                    return Err(DirectoryError::Config(format!(
                        "actions.{action}: no connector named `{}` (define [connectors.{}])",
                        r.connector, r.connector
                    )));
                }
            }
        }
        Ok(())
    }

    /// True when every action is the record's: no routing needed.
    pub fn is_default(&self) -> bool {
        [&self.password, &self.mfa, &self.unlock]
            .iter()
            .all(|r| r.as_ref().is_none_or(|r| r.connector == RECORD))
    }
}

/// Who carries out one action.
enum Target {
    Record,
    Off,
    Linked {
        name: String,
        connector: Arc<dyn Directory>,
        link: Link,
    },
}

/// The directory of record with each action sent to its connector.
pub struct RoutedDirectory {
    record: Arc<dyn Directory>,
    password: Target,
    mfa: Target,
    unlock: Target,
    /// Every connector but the record, for the health check.
    others: Vec<(String, Arc<dyn Directory>)>,
}

impl RoutedDirectory {
    /// Routes the actions of `routes` to `connectors` (by name). Refuses, without touching
    /// the network, a route to an unknown connector, an action routed to a connector that
    /// cannot do it, and a connector no action uses (a configuration that does not do
    /// what its author meant).
    pub fn new(
        record: Arc<dyn Directory>,
        connectors: BTreeMap<String, Arc<dyn Directory>>,
        routes: &Routes,
    ) -> Result<RoutedDirectory, DirectoryError> {
        routes.check_names(connectors.keys().map(String::as_str))?;
        let target = |route: &Option<Route>,
                      action: &str,
                      can: fn(Capabilities) -> bool|
         -> Result<Target, DirectoryError> {
            let Some(route) = route else {
                return Ok(Target::Record);
            };
            match route.connector.as_str() {
                RECORD => Ok(Target::Record),
                OFF => Ok(Target::Off),
                name => {
                    let connector = connectors.get(name).ok_or_else(|| {
                        DirectoryError::Config(format!(
                            "actions.{action}: no connector named `{name}` (define [connectors.{name}])"
                        ))
                    })?;
                    if !can(connector.capabilities()) {
                        return Err(DirectoryError::Config(format!(
                            "actions.{action}: connector `{name}` ({}) cannot do this action",
                            connector.kind()
                        )));
                    }
                    Ok(Target::Linked {
                        name: name.to_string(),
                        connector: connector.clone(),
                        link: route.link,
                    })
                }
            }
        };
        let routed = RoutedDirectory {
            password: target(&routes.password, "password", |c| c.reset_password)?,
            mfa: target(&routes.mfa, "mfa", |c| c.reset_mfa)?,
            unlock: target(&routes.unlock, "unlock", |c| c.unlock)?,
            others: connectors
                .iter()
                .map(|(n, c)| (n.clone(), c.clone()))
                .collect(),
            record,
        };
        Ok(routed)
    }

    /// The connector name each action goes to (`directory`, `off` or a connector's
    /// name), for `/healthz` and the logs.
    pub fn describe(&self) -> [(&'static str, &str); 3] {
        fn name(t: &Target) -> &str {
            match t {
                Target::Record => RECORD,
                Target::Off => OFF,
                Target::Linked { name, .. } => name.as_str(),
            }
        }
        [
            ("password", name(&self.password)),
            ("mfa", name(&self.mfa)),
            ("unlock", name(&self.unlock)),
        ]
    }

    /// The connector that carries out `target`'s action for `user`, and the account it
    /// knows `user` by.
    async fn resolve<'a>(
        &'a self,
        target: &'a Target,
        user: &DirectoryUser,
        action: &'static str,
    ) -> Result<(&'a dyn Directory, DirectoryUser), DirectoryError> {
        match target {
            Target::Record => Ok((self.record.as_ref(), user.clone())),
            Target::Off => Err(DirectoryError::Unsupported(action)),
            Target::Linked {
                name,
                connector,
                link,
            } => {
                let key = match link {
                    Link::Username => Some(user.username.as_str()),
                    Link::Email => user.email.as_deref(),
                }
                .map(str::trim)
                .filter(|k| !k.is_empty());
                let Some(key) = key else {
                    tracing::warn!(
                        connector = name.as_str(),
                        "the account has no value of the link attribute; it cannot be found in the connector"
                    );
                    return Err(DirectoryError::UserNotFound);
                };
                match connector.find_user(key).await? {
                    Some(linked) => Ok((connector.as_ref(), linked)),
                    None => {
                        tracing::warn!(
                            connector = name.as_str(),
                            "no linked account in the connector"
                        );
                        Err(DirectoryError::UserNotFound)
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Directory for RoutedDirectory {
    fn kind(&self) -> &'static str {
        self.record.kind()
    }

    fn capabilities(&self) -> Capabilities {
        let record = self.record.capabilities();
        let can = |t: &Target, own: bool, theirs: fn(Capabilities) -> bool| match t {
            Target::Record => own,
            Target::Off => false,
            Target::Linked { connector, .. } => theirs(connector.capabilities()),
        };
        Capabilities {
            reset_password: can(&self.password, record.reset_password, |c| c.reset_password),
            reset_mfa: can(&self.mfa, record.reset_mfa, |c| c.reset_mfa),
            unlock: can(&self.unlock, record.unlock, |c| c.unlock),
        }
    }

    async fn find_user(&self, login: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        self.record.find_user(login).await
    }

    async fn set_password(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<(), DirectoryError> {
        let (connector, account) = self
            .resolve(&self.password, user, "reset passwords")
            .await?;
        connector.set_password(&account, password).await
    }

    async fn password_is(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<bool, DirectoryError> {
        let (connector, account) = self
            .resolve(&self.password, user, "reset passwords")
            .await?;
        connector.password_is(&account, password).await
    }

    async fn reset_mfa(
        &self,
        user: &DirectoryUser,
        keep_enrolled_since: Option<std::time::SystemTime>,
    ) -> Result<MfaReset, DirectoryError> {
        let (connector, account) = self
            .resolve(&self.mfa, user, "reset second factors")
            .await?;
        connector.reset_mfa(&account, keep_enrolled_since).await
    }

    async fn unlock(&self, user: &DirectoryUser) -> Result<(), DirectoryError> {
        let (connector, account) = self.resolve(&self.unlock, user, "unlock").await?;
        connector.unlock(&account).await
    }

    async fn health(&self) -> Result<(), DirectoryError> {
        self.record.health().await?;
        for (name, connector) in &self.others {
            connector.health().await.inspect_err(|e| {
                tracing::warn!(
                    connector = name.as_str(),
                    code = e.code().as_str(),
                    "connector unhealthy"
                );
            })?;
        }
        Ok(())
    }

    /// The record's groups and those of each linked account: privilege is judged where
    /// a change can land, since an administrator role kept only in the cloud (an Entra
    /// Global Administrator whose AD account is in no protected group) is taken over by
    /// a second-factor reset there. A connector with no linked account adds nothing (no
    /// change can land there); any other failure fails the whole list, so the account's
    /// privilege is unknown and treated as privileged.
    async fn groups(&self, user: &DirectoryUser) -> Result<Vec<String>, DirectoryError> {
        let mut all = self.record.groups(user).await?;
        let mut asked: Vec<&str> = Vec::new();
        for (target, action) in [
            (&self.password, "reset passwords"),
            (&self.mfa, "reset second factors"),
            (&self.unlock, "unlock"),
        ] {
            let Target::Linked { name, .. } = target else {
                continue;
            };
            if asked.contains(&name.as_str()) {
                continue;
            }
            asked.push(name.as_str());
            match self.resolve(target, user, action).await {
                Ok((connector, account)) => all.extend(connector.groups(&account).await?),
                Err(DirectoryError::UserNotFound) => {}
                Err(e) => return Err(e),
            }
        }
        all.sort();
        all.dedup();
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DemoDirectory, DemoUser};

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn demo(tag: &str, users: Vec<DemoUser>) -> Arc<DemoDirectory> {
        let path = std::env::temp_dir().join(format!(
            "reclaim-routed-{tag}-{}-{:?}.json",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&path);
        Arc::new(DemoDirectory::open(&path, users).unwrap())
    }

    fn user(login: &str, mail: &str) -> DemoUser {
        let mut u = DemoUser::new(login, "Anna", "Berg").with_password("old password 1");
        u.email = Some(mail.into());
        u
    }

    fn route(connector: &str, link: Link) -> Option<Route> {
        Some(Route {
            connector: connector.into(),
            link,
        })
    }

    #[test]
    fn each_action_goes_to_its_connector_and_the_account_is_found_there_by_its_link() {
        let record = demo("record", vec![user("anna", "anna@example.test")]);
        // The second-factor service knows Anna by another login, the same address.
        let idp = demo("idp", vec![user("a.berg", "anna@example.test")]);
        let routes = Routes {
            mfa: route("idp", Link::Email),
            unlock: route(OFF, Link::Username),
            ..Routes::default()
        };
        let r = RoutedDirectory::new(
            record.clone(),
            BTreeMap::from([("idp".to_string(), idp.clone() as Arc<dyn Directory>)]),
            &routes,
        )
        .unwrap();
        assert_eq!(
            r.describe(),
            [("password", "directory"), ("mfa", "idp"), ("unlock", "off")]
        );
        let caps = r.capabilities();
        assert!(caps.reset_password && caps.reset_mfa && !caps.unlock);
        let anna = block(r.find_user("anna")).unwrap().unwrap();
        assert_eq!(anna.username, "anna");
        block(r.reset_mfa(&anna, None)).unwrap();
        block(r.set_password(&anna, "a new long passphrase")).unwrap();
        assert_eq!(
            (
                record.user("anna").unwrap().mfa_resets,
                idp.user("a.berg").unwrap().mfa_resets
            ),
            (0, 1),
            "the second factors were reset in the connector, not the record"
        );
        assert_eq!(
            (
                record.user("anna").unwrap().password_changes,
                idp.user("a.berg").unwrap().password_changes
            ),
            (1, 0)
        );
        assert_eq!(
            block(r.unlock(&anna)).unwrap_err().code(),
            DirectoryError::Unsupported("").code()
        );
    }

    #[test]
    fn privilege_is_judged_where_a_change_can_land() {
        let record = demo("record4", vec![user("anna", "anna@example.test")]);
        let mut cloud_admin = user("anna", "anna@example.test");
        cloud_admin.groups = vec!["Global Administrator".into()];
        let idp = demo("idp4", vec![cloud_admin]);
        let r = RoutedDirectory::new(
            record,
            BTreeMap::from([("idp".to_string(), idp as Arc<dyn Directory>)]),
            &Routes {
                mfa: route("idp", Link::Username),
                ..Routes::default()
            },
        )
        .unwrap();
        let anna = block(r.find_user("anna")).unwrap().unwrap();
        let anna = block(r.with_groups(anna));
        assert!(anna.groups_complete);
        assert_eq!(anna.member_of_any(&["Global Administrator"]), Some(true));

        // Nobody to link in the connector: nothing can land there, nothing added.
        let record = demo("record5", vec![user("bert", "bert@example.test")]);
        let idp = demo("idp5", vec![user("carl", "carl@example.test")]);
        let r = RoutedDirectory::new(
            record,
            BTreeMap::from([("idp".to_string(), idp as Arc<dyn Directory>)]),
            &Routes {
                mfa: route("idp", Link::Username),
                ..Routes::default()
            },
        )
        .unwrap();
        let bert = block(r.with_groups(block(r.find_user("bert")).unwrap().unwrap()));
        assert!(bert.groups_complete);
        assert_eq!(bert.member_of_any(&["Global Administrator"]), Some(false));
    }

    #[test]
    fn an_account_missing_in_the_connector_is_not_found_never_another() {
        let record = demo("record2", vec![user("anna", "anna@example.test")]);
        let idp = demo("idp2", vec![user("bert", "bert@example.test")]);
        let r = RoutedDirectory::new(
            record,
            BTreeMap::from([("idp".to_string(), idp.clone() as Arc<dyn Directory>)]),
            &Routes {
                mfa: route("idp", Link::Username),
                ..Routes::default()
            },
        )
        .unwrap();
        let anna = block(r.find_user("anna")).unwrap().unwrap();
        assert_eq!(
            block(r.reset_mfa(&anna, None)).unwrap_err(),
            DirectoryError::UserNotFound
        );
        assert_eq!(idp.user("bert").unwrap().mfa_resets, 0);
        // No address to link by: not found either.
        let mut nameless = anna.clone();
        nameless.username = " ".into();
        assert_eq!(
            block(r.reset_mfa(&nameless, None)).unwrap_err(),
            DirectoryError::UserNotFound
        );
    }

    #[test]
    fn a_configuration_that_cannot_do_what_it_says_is_refused() {
        let record = || demo("record3", vec![]) as Arc<dyn Directory>;
        let idp = || {
            BTreeMap::from([(
                "idp".to_string(),
                demo("idp3", vec![]) as Arc<dyn Directory>,
            )])
        };
        let refused = |connectors, routes: Routes| match RoutedDirectory::new(
            record(),
            connectors,
            &routes,
        ) {
            Err(DirectoryError::Config(m)) => m,
            other => panic!(
                "accepted: {:?}",
                other.map(|r| r.describe().map(|(a, b)| (a, b.to_string())))
            ),
        };
        let m = refused(
            BTreeMap::new(),
            Routes {
                mfa: route("okta", Link::Username),
                ..Routes::default()
            },
        );
        assert!(m.contains("okta"), "{m}");
        // Second factors sent to a connector that keeps none (OpenLDAP).
        let ldap = crate::LdapDirectory::new(crate::LdapConfig::new(
            "ldaps://ldap.example.test",
            crate::LdapFlavour::OpenLdap,
            "cn=svc,dc=example,dc=test",
            "x",
            "dc=example,dc=test",
        ))
        .unwrap();
        let m = refused(
            BTreeMap::from([("ldap".to_string(), Arc::new(ldap) as Arc<dyn Directory>)]),
            Routes {
                mfa: route("ldap", Link::Username),
                ..Routes::default()
            },
        );
        assert!(m.contains("cannot do this action"), "{m}");
        // Defined, used by nothing.
        let m = refused(idp(), Routes::default());
        assert!(m.contains("no action uses it"), "{m}");
        // A reserved name.
        let m = refused(
            BTreeMap::from([(RECORD.to_string(), record())]),
            Routes::default(),
        );
        assert!(m.contains("reserved"), "{m}");
        assert!(Routes::default().is_default());
        assert!(!Routes {
            unlock: route(OFF, Link::Username),
            ..Routes::default()
        }
        .is_default());
    }
}
