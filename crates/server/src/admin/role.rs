//! The console's roles, given by the groups the identity provider says a person is in.

use serde::{Deserialize, Serialize};

use crate::config::OidcConfig;

/// What someone signed in to the console may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Reviewer,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Reviewer, Role::Auditor];

    /// The role named `name` (as [`Role::as_str`] writes it).
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
        }
    }
}

/// The roles that `groups` give under `config` (`admin_groups`, `reviewer_groups`,
/// `auditor_groups`; names compared exactly), each once, in the order admin, reviewer,
/// auditor. Empty: the person may not sign in.
pub fn roles(groups: &[String], config: &OidcConfig) -> Vec<Role> {
    let member = |of: &[String]| of.iter().any(|g| groups.contains(g));
    let mut out = Vec::new();
    if member(&config.admin_groups) {
        out.push(Role::Admin);
    }
    if member(&config.reviewer_groups) {
        out.push(Role::Reviewer);
    }
    if member(&config.auditor_groups) {
        out.push(Role::Auditor);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OidcConfig {
        OidcConfig {
            issuer: "https://id.example.test".into(),
            client_id: "reclaim".into(),
            client_secret: None,
            ca_file: None,
            scopes: Vec::new(),
            groups_claim: "groups".into(),
            username_claim: "preferred_username".into(),
            admin_groups: vec!["it-admins".into()],
            reviewer_groups: vec!["helpdesk".into(), "it-admins".into()],
            auditor_groups: vec!["audit".into()],
            mfa_amr: vec!["mfa".into()],
            mfa_acr: Vec::new(),
        }
    }

    #[test]
    fn groups_give_roles_each_once() {
        let g = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let c = config();
        assert_eq!(roles(&g(&["helpdesk"]), &c), [Role::Reviewer]);
        assert_eq!(
            roles(&g(&["audit", "it-admins", "helpdesk"]), &c),
            [Role::Admin, Role::Reviewer, Role::Auditor]
        );
        assert!(roles(&g(&[]), &c).is_empty());
        // Names are compared exactly: no case folding, no prefixes.
        assert!(roles(&g(&["Helpdesk", "helpdesk-2", "audi"]), &c).is_empty());
        assert_eq!(Role::Auditor.as_str(), "auditor");
        assert_eq!(
            serde_json::to_string(&Role::Reviewer).unwrap(),
            "\"reviewer\""
        );
    }
}
