//! The demo directory: a small directory embedded in Reclaim, for `reclaim-lab demo`, for
//! trying the product without a real one, and for the server's own tests.
//!
//! It behaves like a directory where it matters to the flow (lookups by name or email, a
//! length policy of its own, lockout, second factors, group memberships by name) and keeps
//! counts of every change, so tests can prove a reset was applied exactly once. With a file
//! it persists across restarts (written to a temporary file and renamed, so a crash never
//! leaves half a file).
//! Passwords are kept as salted SHA-256: fine for a demo, not a model for a real store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{Capabilities, Directory, DirectoryError, DirectoryUser, MfaReset, PasswordRefusal};

/// One account of the demo directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoUser {
    pub username: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub display_name: Option<String>,
    pub birth_date: Option<String>,
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub mfa_factors: u32,
    /// The groups the account is in, by name (`it-admins`): what [`Directory::groups`]
    /// answers. Absent in files written before groups existed: none.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Hex salt and hex SHA-256 of salt || password.
    #[serde(default)]
    salt: String,
    #[serde(default)]
    hash: String,
    /// How many times each change was applied.
    #[serde(default)]
    pub password_changes: u64,
    #[serde(default)]
    pub mfa_resets: u64,
    #[serde(default)]
    pub unlocks: u64,
}

impl DemoUser {
    pub fn new(username: &str, given: &str, surname: &str) -> DemoUser {
        DemoUser {
            username: username.into(),
            email: Some(format!("{username}@example.test")),
            given_name: Some(given.into()),
            surname: Some(surname.into()),
            display_name: Some(format!("{given} {surname}")),
            birth_date: None,
            locked: false,
            mfa_factors: 1,
            groups: Vec::new(),
            salt: String::new(),
            hash: String::new(),
            password_changes: 0,
            mfa_resets: 0,
            unlocks: 0,
        }
    }

    /// Sets the password directly (seeding; not counted as a change).
    pub fn with_password(mut self, password: &str) -> DemoUser {
        self.store_password(password);
        self
    }

    fn store_password(&mut self, password: &str) {
        let mut salt = [0u8; 16];
        // A demo store: a fixed salt is only a weaker demo, never a failure.
        let _ = getrandom::fill(&mut salt);
        self.salt = hex::encode(salt);
        self.hash = hash(&salt, password);
    }

    fn password_matches(&self, password: &str) -> bool {
        let Ok(salt) = hex::decode(&self.salt) else {
            return false;
        };
        if self.hash.is_empty() {
            return false;
        }
        bool::from(hash(&salt, password).as_bytes().ct_eq(self.hash.as_bytes()))
    }

    fn record(&self) -> DirectoryUser {
        DirectoryUser {
            id: format!("demo:{}", self.username),
            username: self.username.clone(),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            given_name: self.given_name.clone(),
            surname: self.surname.clone(),
            birth_date: self.birth_date.clone(),
            // Like every connector's lookup, without groups: `Directory::with_groups`.
            groups: Vec::new(),
            groups_complete: false,
        }
    }
}

fn hash(salt: &[u8], password: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(password.as_bytes());
    hex::encode(h.finalize())
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct DemoState {
    users: BTreeMap<String, DemoUser>,
}

/// The embedded directory.
#[derive(Debug)]
pub struct DemoDirectory {
    state: Mutex<DemoState>,
    file: Option<PathBuf>,
    /// The directory's own minimum length, so its refusal path can be seen in the demo.
    min_password_chars: usize,
}

impl DemoDirectory {
    /// An in-memory directory with these users.
    pub fn new(users: Vec<DemoUser>) -> DemoDirectory {
        let mut state = DemoState::default();
        for u in users {
            state.users.insert(u.username.to_lowercase(), u);
        }
        DemoDirectory {
            state: Mutex::new(state),
            file: None,
            min_password_chars: 8,
        }
    }

    /// A directory kept in `path` (JSON). When the file does not exist it is created with
    /// `seed`; when it does, `seed` is ignored.
    pub fn open(path: &Path, seed: Vec<DemoUser>) -> Result<DemoDirectory, DirectoryError> {
        let dir = if path.exists() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| DirectoryError::Config(format!("{}: {e}", path.display())))?;
            let state: DemoState = serde_json::from_str(&text)
                .map_err(|e| DirectoryError::Config(format!("{}: {e}", path.display())))?;
            DemoDirectory {
                state: Mutex::new(state),
                file: Some(path.to_path_buf()),
                min_password_chars: 8,
            }
        } else {
            let mut d = DemoDirectory::new(seed);
            d.file = Some(path.to_path_buf());
            let state = d.lock()?;
            d.persist(&state)?;
            drop(state);
            d
        };
        Ok(dir)
    }

    /// A copy of one account (tests read the change counts from it).
    pub fn user(&self, username: &str) -> Option<DemoUser> {
        self.lock()
            .ok()
            .and_then(|s| s.users.get(&username.to_lowercase()).cloned())
    }

    /// Marks the account locked, as too many failed sign-ins would.
    pub fn lock_account(&self, username: &str) -> Result<(), DirectoryError> {
        self.change(username, |u| {
            u.locked = true;
            Ok(())
        })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, DemoState>, DirectoryError> {
        self.state
            .lock()
            .map_err(|_| DirectoryError::Unavailable("demo directory state poisoned".into()))
    }

    fn persist(&self, state: &DemoState) -> Result<(), DirectoryError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| DirectoryError::Protocol(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| DirectoryError::Unavailable(format!("{}: {e}", path.display())))
    }

    fn change(
        &self,
        username: &str,
        f: impl FnOnce(&mut DemoUser) -> Result<(), DirectoryError>,
    ) -> Result<(), DirectoryError> {
        let mut state = self.lock()?;
        let user = state
            .users
            .get_mut(&username.to_lowercase())
            .ok_or(DirectoryError::UserNotFound)?;
        f(user)?;
        self.persist(&state)
    }

    fn username_of(user: &DirectoryUser) -> Result<&str, DirectoryError> {
        user.id
            .strip_prefix("demo:")
            .ok_or(DirectoryError::UserNotFound)
    }
}

#[async_trait]
impl Directory for DemoDirectory {
    fn kind(&self) -> &'static str {
        "demo"
    }

    /// The demo directory keeps passwords, second factors and a lockout flag: all three.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reset_password: true,
            reset_mfa: true,
            unlock: true,
        }
    }

    async fn find_user(&self, login: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        let login = login.trim().to_lowercase();
        let state = self.lock()?;
        if let Some(u) = state.users.get(&login) {
            return Ok(Some(u.record()));
        }
        Ok(state
            .users
            .values()
            .find(|u| u.email.as_deref().map(str::to_lowercase).as_deref() == Some(&login))
            .map(DemoUser::record))
    }

    async fn set_password(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<(), DirectoryError> {
        let min = self.min_password_chars;
        self.change(Self::username_of(user)?, |u| {
            if password.chars().count() < min {
                return Err(DirectoryError::PasswordRefused(PasswordRefusal::TooShort));
            }
            if u.password_matches(password) {
                return Err(DirectoryError::PasswordRefused(PasswordRefusal::InHistory));
            }
            u.store_password(password);
            u.password_changes += 1;
            Ok(())
        })
    }

    async fn password_is(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<bool, DirectoryError> {
        let state = self.lock()?;
        let u = state
            .users
            .get(&Self::username_of(user)?.to_lowercase())
            .ok_or(DirectoryError::UserNotFound)?;
        Ok(u.password_matches(password))
    }

    async fn reset_mfa(
        &self,
        user: &DirectoryUser,
        // The demo keeps a count, not factors with enrolment times: all go.
        _keep_enrolled_since: Option<std::time::SystemTime>,
    ) -> Result<MfaReset, DirectoryError> {
        self.change(Self::username_of(user)?, |u| {
            u.mfa_factors = 0;
            u.mfa_resets += 1;
            Ok(())
        })?;
        Ok(MfaReset::default())
    }

    async fn unlock(&self, user: &DirectoryUser) -> Result<(), DirectoryError> {
        self.change(Self::username_of(user)?, |u| {
            u.locked = false;
            u.unlocks += 1;
            Ok(())
        })
    }

    async fn health(&self) -> Result<(), DirectoryError> {
        self.lock().map(|_| ())
    }

    async fn groups(&self, user: &DirectoryUser) -> Result<Vec<String>, DirectoryError> {
        let state = self.lock()?;
        let u = state
            .users
            .get(&Self::username_of(user)?.to_lowercase())
            .ok_or(DirectoryError::UserNotFound)?;
        Ok(u.groups.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<F: std::future::Future>(f: F) -> F::Output {
        // The demo directory never awaits anything, so polling once finishes it.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the demo directory awaited"),
        }
    }

    fn dir() -> DemoDirectory {
        DemoDirectory::new(vec![
            DemoUser::new("anna", "Anna", "Eriksson").with_password("old password here")
        ])
    }

    #[test]
    fn finds_by_name_and_email_case_insensitively() {
        let d = dir();
        assert_eq!(
            block(d.find_user("ANNA")).unwrap().unwrap().username,
            "anna"
        );
        assert_eq!(
            block(d.find_user("Anna@Example.test")).unwrap().unwrap().id,
            "demo:anna"
        );
        assert!(block(d.find_user("bob")).unwrap().is_none());
    }

    #[test]
    fn reset_changes_the_password_once_and_is_counted() {
        let d = dir();
        let u = block(d.find_user("anna")).unwrap().unwrap();
        assert!(block(d.password_is(&u, "old password here")).unwrap());
        block(d.set_password(&u, "a new long passphrase")).unwrap();
        assert!(block(d.password_is(&u, "a new long passphrase")).unwrap());
        assert!(!block(d.password_is(&u, "old password here")).unwrap());
        assert_eq!(d.user("anna").unwrap().password_changes, 1);
        // Setting it again is refused as history, and not counted.
        assert_eq!(
            block(d.set_password(&u, "a new long passphrase")),
            Err(DirectoryError::PasswordRefused(PasswordRefusal::InHistory))
        );
        assert_eq!(
            block(d.set_password(&u, "short")),
            Err(DirectoryError::PasswordRefused(PasswordRefusal::TooShort))
        );
        assert_eq!(d.user("anna").unwrap().password_changes, 1);
    }

    #[test]
    fn the_demo_directory_can_make_every_change() {
        let c = dir().capabilities();
        assert!(c.reset_password && c.reset_mfa && c.unlock, "{c:?}");
    }

    #[test]
    fn unlock_and_mfa_reset_are_counted() {
        let d = dir();
        let u = block(d.find_user("anna")).unwrap().unwrap();
        d.lock_account("anna").unwrap();
        assert!(d.user("anna").unwrap().locked);
        block(d.unlock(&u)).unwrap();
        block(d.reset_mfa(&u, None)).unwrap();
        let after = d.user("anna").unwrap();
        assert!(!after.locked);
        assert_eq!(
            (after.unlocks, after.mfa_resets, after.mfa_factors),
            (1, 1, 0)
        );
    }

    #[test]
    fn a_forged_record_is_not_found() {
        let d = dir();
        let mut u = block(d.find_user("anna")).unwrap().unwrap();
        u.id = "ldap:uid=anna".into();
        assert_eq!(
            block(d.set_password(&u, "another passphrase")),
            Err(DirectoryError::UserNotFound)
        );
    }

    #[test]
    fn groups_come_from_the_file_and_an_old_file_without_them_loads() {
        let mut anna = DemoUser::new("anna", "Anna", "Eriksson");
        anna.groups = vec!["it-admins".into()];
        let d = DemoDirectory::new(vec![anna, DemoUser::new("bo", "Bo", "Lindqvist")]);
        let a = block(d.find_user("anna")).unwrap().unwrap();
        assert!(a.groups.is_empty() && !a.groups_complete, "{a:?}");
        assert_eq!(block(d.groups(&a)).unwrap(), vec!["it-admins".to_string()]);
        let a = block(d.with_groups(a));
        assert!(a.groups_complete);
        assert_eq!(a.member_of_any(&["IT-Admins"]), Some(true));
        let b = block(d.with_groups(block(d.find_user("bo")).unwrap().unwrap()));
        assert_eq!((b.groups.len(), b.groups_complete), (0, true));
        assert_eq!(b.member_of_any(&["it-admins"]), Some(false));
        let ghost = DirectoryUser::new("demo:ghost", "ghost");
        assert_eq!(block(d.groups(&ghost)), Err(DirectoryError::UserNotFound));
        let ghost = block(d.with_groups(ghost));
        assert_eq!(ghost.member_of_any(&["it-admins"]), None);

        // A file as written before groups existed.
        let old = r#"{"users": {"cai": {"username": "cai", "email": null, "given_name": "Cai",
            "surname": "Berg", "display_name": null, "birth_date": null, "locked": false,
            "mfa_factors": 1, "salt": "", "hash": "", "password_changes": 0,
            "mfa_resets": 0, "unlocks": 0}}}"#;
        let dir = std::env::temp_dir().join(format!("reclaim-demo-groups-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("directory.json");
        std::fs::write(&path, old).unwrap();
        let d = DemoDirectory::open(&path, vec![]).unwrap();
        assert_eq!(d.user("cai").unwrap().groups, Vec::<String>::new());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn persists_across_reopen() {
        let dir = std::env::temp_dir().join(format!("reclaim-demo-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("directory.json");
        let _ = std::fs::remove_file(&path);
        let seed =
            vec![DemoUser::new("anna", "Anna", "Eriksson").with_password("old password here")];
        let d = DemoDirectory::open(&path, seed.clone()).unwrap();
        let u = block(d.find_user("anna")).unwrap().unwrap();
        block(d.set_password(&u, "a new long passphrase")).unwrap();
        drop(d);
        let again = DemoDirectory::open(&path, seed).unwrap();
        assert!(block(again.password_is(&u, "a new long passphrase")).unwrap());
        assert_eq!(again.user("anna").unwrap().password_changes, 1);
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            DemoDirectory::open(&path, vec![]),
            Err(DirectoryError::Config(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
