//! Reclaim's backend: the part that decides.
//!
//! The app's verdict is only a claim. The server turns it into a reset only after it has
//! checked the device's signature, the session's one-time nonce, the models the device
//! ran, the document's name and birth date against the directory record, and the evidence
//! itself, with the same engine; and the device's trust tier, which the server set and the
//! client cannot claim, decides through the policy table what all that is worth. It then
//! applies the reset through the directory connector exactly once, notifies the account's
//! addresses, and writes every step to a hash chain.
//!
//! Layout, in three layers that import only downwards (a test, `layers.rs`, holds them
//! to it, and to no cycle between top-level modules):
//!
//! - [`http`]: the router, request guards and extractors, the one mapping from a refusal
//!   ([`error::ApiError`]) to a response, and one thin handler module per resource.
//! - [`recovery`]: sessions and the hand-off, evidence, the decision, exactly-once
//!   resets, the password policy, the notices' "this wasn't me" link.
//! - [`store`]: SQLite/PostgreSQL, one schema, and every query of the crate, one module
//!   per model.
//!
//! Beside them, each with one job: [`policy`] (what the verified facts are worth, a pure
//! function), [`config`] (TOML + environment), [`crypto`] (keys, sealing, bearer
//! secrets), [`datakey`] (the key a database was sealed with, and no other), [`audit`] (the chain), [`limits`] (abuse limits), [`admission`] (places for
//! requests, uploads and judgements), [`models`] (the shipped models by digest), [`devices`] and
//! [`hardware`] (trust tiers), [`notify`] (notices by mail), [`siem`] (the audit chain
//! exported to a SIEM), [`metrics`], [`transport`]
//! (connections and timeouts), [`preflight`] (`reclaim serve --check`), [`error`] (the refusal every layer returns).

pub mod admin;
pub mod admission;
pub mod audit;
pub mod config;
pub mod crypto;
pub mod datakey;
pub mod devices;
pub mod error;
pub mod hardware;
pub mod http;
pub mod idv;
pub mod limits;
pub mod metrics;
pub mod models;
pub mod notify;
pub mod policy;
pub mod preflight;
pub mod recovery;
pub mod siem;
pub mod store;
pub mod transport;

#[cfg(test)]
mod layers;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reclaim_directory::{DemoDirectory, DemoUser, Directory};
use reclaim_protocol::BreachedPasswords;
use tokio::sync::Semaphore;

pub use config::Config;
use config::DirectoryConfig;
use crypto::Keys;
use store::Store;

/// Requests with evidence one instance admits at once.
pub const REVERIFY_QUEUE: usize = 4;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
    #[error(transparent)]
    DataKey(#[from] datakey::DataKeyError),
    #[error("directory: {0}")]
    Directory(#[from] reclaim_directory::DirectoryError),
    #[error("models: {0}")]
    Models(String),
    #[error("listen on {0}: {1}")]
    Listen(String, std::io::Error),
}

/// Everything a request handler needs; shared by all of them.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub keys: Keys,
    pub directory: Arc<dyn Directory>,
    pub engines: Option<Arc<reclaim_verify::Engines>>,
    pub breached: Option<BreachedPasswords>,
    pub allowed_models: HashSet<String>,
    pub metrics: metrics::Metrics,
    /// Re-verifications run one at a time per instance: each uses every core.
    pub reverify_slots: Arc<Semaphore>,
    /// Requests with evidence admitted at once (running or waiting for a slot); beyond it
    /// the answer is 503 at once, so queued uploads cannot pile up in memory.
    pub reverify_queue: Arc<Semaphore>,
    /// Who gets those places, and the request and upload places (admission.rs): fairly
    /// per address (unmanaged devices) or per device (managed, hardware), and per account.
    pub admission: admission::Admission,
    /// Where audit entries are exported (`[siem]`), set up at start.
    pub siem: siem::Sinks,
    /// The admin console's OpenID provider, found at its first sign-in.
    pub sign_in: admin::SignInProvider,
    /// The identity-verification provider (`[idv]`), when enabled.
    pub idv: Option<Arc<idv::Provider>>,
}

impl App {
    /// Opens the database, the keys, the directory and (when configured) the engine.
    pub async fn open(config: Config) -> Result<Arc<App>, StartError> {
        // Before connecting: a server on another machine is reached over verified TLS
        // unless the configuration says otherwise in so many words.
        let transport = store::tls::check(
            &config.database.url,
            config.database.allow_insecure_transport,
        )?;
        if let store::tls::Transport::Insecure { host } = &transport {
            tracing::warn!(
                code = "database_transport_insecure",
                host = %host,
                "PostgreSQL is reached without a checked certificate (database.allow_insecure_transport)"
            );
        }
        let store = Store::open(&config.database.url, config.database.max_connections).await?;
        // The key this database was sealed with, and no other (datakey.rs).
        let keys = datakey::open(&config, &store).await?;
        // Before anything appends: a new database's (or an upgraded one's) audit head
        // gets its MAC.
        audit::seal_head(&store, &keys).await?;
        // A SIEM sink that cannot work (an unreadable secret, a file that cannot be
        // opened) stops the start, rather than leaving the SIEM silently without events.
        let siem = siem::Sinks::open(&config.siem, |name| std::env::var(name).ok())?;
        let directory = open_directory(&config)?;
        let engines = if config.reverify {
            let models = config.models_dir.clone();
            let loaded = tokio::task::spawn_blocking(move || {
                reclaim_verify::Engines::load(models.as_deref())
            })
            .await
            .map_err(|e| StartError::Models(e.to_string()))?
            .map_err(|e| StartError::Models(e.to_string()))?;
            Some(Arc::new(loaded))
        } else {
            None
        };
        let breached = match &config.breached_passwords_dir {
            Some(dir) => Some(
                BreachedPasswords::new(dir)
                    .map_err(|e| config::ConfigError(format!("breached_passwords_dir: {e}")))?,
            ),
            None => None,
        };
        let allowed_models = if config.policy.allowed_models.is_empty() {
            models::shipped_model_digests()
                .map_err(StartError::Models)?
                .into_values()
                .collect()
        } else {
            config
                .policy
                .allowed_models
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect()
        };
        let reverify_slots = Arc::new(Semaphore::new(1));
        let reverify_queue = Arc::new(Semaphore::new(REVERIFY_QUEUE));
        let admission = admission::Admission::new(
            &config.server,
            reverify_queue.clone(),
            reverify_slots.clone(),
        );
        let config_idv = config.idv.clone();
        Ok(Arc::new(App {
            config,
            store,
            keys,
            directory,
            engines,
            breached,
            allowed_models,
            metrics: metrics::Metrics::default(),
            reverify_slots,
            reverify_queue,
            admission,
            siem,
            sign_in: admin::SignInProvider::default(),
            idv: idv::Provider::open(&config_idv)
                .map_err(|e| config::ConfigError(format!("idv: {e}")))?
                .map(Arc::new),
        }))
    }
}

/// The demo directory's accounts when its file does not exist yet: one user whose
/// record matches the project's sample ID, so `reclaim-lab demo` works out of the box.
pub fn demo_seed() -> Vec<DemoUser> {
    vec![DemoUser::new("avery.quinn", "Avery", "Quinn")
        .with_password("the old forgotten passphrase")]
}

pub(crate) fn open_directory(config: &Config) -> Result<Arc<dyn Directory>, StartError> {
    let record = open_connector(&config.directory)?;
    if config.connectors.is_empty() && config.actions.is_default() {
        return Ok(record);
    }
    let mut connectors = std::collections::BTreeMap::new();
    for (name, c) in &config.connectors {
        connectors.insert(name.clone(), open_connector(c)?);
    }
    let routed = reclaim_directory::RoutedDirectory::new(record, connectors, &config.actions)?;
    for (action, connector) in routed.describe() {
        tracing::info!(action, connector, "directory action routed");
    }
    Ok(Arc::new(routed))
}

fn open_connector(config: &DirectoryConfig) -> Result<Arc<dyn Directory>, StartError> {
    Ok(match config {
        DirectoryConfig::Demo { file } => Arc::new(DemoDirectory::open(file, demo_seed())?),
        DirectoryConfig::Ldap(l) => {
            Arc::new(reclaim_directory::LdapDirectory::new(l.as_ref().clone())?)
        }
        DirectoryConfig::Okta(o) => {
            Arc::new(reclaim_directory::OktaDirectory::new(o.as_ref().clone())?)
        }
        DirectoryConfig::Entra(e) => {
            Arc::new(reclaim_directory::EntraDirectory::new(e.as_ref().clone())?)
        }
        DirectoryConfig::Duo(d) => {
            Arc::new(reclaim_directory::DuoDirectory::new(d.as_ref().clone())?)
        }
    })
}

/// A server listening, with the handle to stop it.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The admin console's own listener, when `admin.listen` set one.
    pub console_addr: Option<SocketAddr>,
    pub app: Arc<App>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

/// Starts the HTTP server and the background worker that finishes pending resets.
pub async fn start(app: Arc<App>) -> Result<RunningServer, StartError> {
    let listener = tokio::net::TcpListener::bind(&app.config.listen)
        .await
        .map_err(|e| StartError::Listen(app.config.listen.clone(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Listen(app.config.listen.clone(), e))?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // The admin console on a listener of its own, for deployments that keep it off the
    // public side.
    let console = match (&app.config.admin.listen, app.config.admin.enabled()) {
        (Some(listen), true) => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| StartError::Listen(listen.clone(), e))?;
            let addr = listener
                .local_addr()
                .map_err(|e| StartError::Listen(listen.clone(), e))?;
            let (console_tx, console_rx) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(transport::serve(
                listener,
                http::console_router(app.clone()),
                app.config.server.clone(),
                app.config.trust_forwarded_for,
                console_rx,
            ));
            Some((addr, console_tx, task))
        }
        _ => None,
    };
    let console_addr = console.as_ref().map(|(addr, _, _)| *addr);
    let router = http::router(app.clone());
    let server_config = app.config.server.clone();
    let trust_forwarded_for = app.config.trust_forwarded_for;
    // The chain as found at start is anchored before any request or the worker can add
    // to it.
    let first = audit::emit_checkpoint(&app).await.map(|cp| cp.seq);
    let worker = tokio::spawn(background(app.clone()));
    let checkpoints = audit::spawn_checkpoints(app.clone(), first);
    let last_app = app.clone();
    let task = tokio::spawn(async move {
        // Timeouts and connection caps: transport.rs.
        transport::serve(listener, router, server_config, trust_forwarded_for, rx).await;
        if let Some((_, console_tx, console_task)) = console {
            let _ = console_tx.send(());
            let _ = console_task.await;
        }
        worker.abort();
        checkpoints.abort();
        // The last checkpoint, after the last request: it anchors everything this
        // instance wrote.
        audit::emit_checkpoint(&last_app).await;
    });
    Ok(RunningServer {
        addr,
        console_addr,
        app,
        shutdown: Some(tx),
        task,
    })
}

/// Finishes resets left pending (by a crash, a directory outage) and deletes evidence
/// whose review retention ran out. Runs at start and every few seconds; every instance
/// runs it, and leases in the database keep two from working on one reset.
async fn background(app: Arc<App>) {
    // Recovery notices go out from a task of their own, so a slow relay never holds up
    // the resets below; it is stopped with this worker (the handle aborts it on drop).
    let _notices = notify::spawn_sender(app.clone());
    // Audit entries go to the SIEM from a task per sink, for the same reason.
    let _siem = siem::spawn(app.clone());
    loop {
        if let Err(e) = recovery::resets::resume_pending(&app).await {
            tracing::warn!(code = e.code().as_str(), "resuming pending resets failed");
        }
        if let Err(e) = recovery::review::expire(&app).await {
            tracing::warn!(code = e.code().as_str(), "expiring review cases failed");
        }
        if let Err(e) = admin::expire(&app).await {
            tracing::warn!(code = e.code().as_str(), "expiring console sign-ins failed");
        }
        if let Err(e) = recovery::resets::forget_sign_in_codes(&app).await {
            tracing::warn!(
                code = e.code().as_str(),
                "erasing unclaimed sign-in codes failed"
            );
        }
        if let Err(e) = app.store.checkpoint().await {
            tracing::warn!(code = e.code().as_str(), "checkpoint failed");
        }
        limits::prune_in_background(&app.store).await;
        store::replay::prune_in_background(&app.store).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
