//! A real Secret Service (gnome-keyring's daemon) on a D-Bus bus of its own, for the
//! device key's tests.
//!
//! The bus starts nothing on demand (but gcr's prompter, when a test asks for it), so a
//! test never reaches the desktop's own keyring, and no window appears on the desktop. A
//! process is pointed at it with `DBUS_SESSION_BUS_ADDRESS` ([`SecretService::address`]);
//! tests set that on child processes only, since changing a running test binary's
//! environment races other threads' reads of it.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use crate::{kill_and_wait, run, spawn_server, spawn_server_fed, wait_for, TempDir};

/// The login keyring's password in these tests.
const KEYRING_PASSWORD: &str = "reclaim-testkit";

/// A running D-Bus bus and gnome-keyring. Both killed on drop.
#[derive(Debug)]
pub struct SecretService {
    bus: Option<Child>,
    keyring: Option<Child>,
    address: String,
    dir: TempDir,
}

impl SecretService {
    /// A Secret Service whose default collection (`login`) exists and is unlocked, as on a
    /// desktop after its user signed in.
    pub fn start() -> Result<SecretService, String> {
        let mut service = SecretService::bus(None)?;
        service.start_keyring(true)?;
        Ok(service)
    }

    /// A Secret Service whose `login` collection exists but is locked: what an app meets
    /// on a desktop whose keyring was never unlocked. With `prompter_display`, gcr's
    /// prompter is started on that X display to ask for the password, and waits there for
    /// someone who never comes; without, there is no prompter and unlocking fails.
    pub fn start_locked(prompter_display: Option<&str>) -> Result<SecretService, String> {
        let mut service = SecretService::bus(prompter_display)?;
        service.start_keyring(true)?;
        service.stop_keyring();
        service.start_keyring(false)?;
        Ok(service)
    }

    /// The bus address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// How many items in the keystore carry all of `attributes` (locked or not).
    pub fn count_items(&self, attributes: &[(&str, &str)]) -> Result<usize, String> {
        if attributes
            .iter()
            .any(|(k, v)| k.contains([',', '\n']) || v.contains([',', '\n']))
        {
            return Err("dbus-send cannot pass a comma in a dictionary".into());
        }
        let dict: Vec<String> = attributes.iter().map(|(k, v)| format!("{k},{v}")).collect();
        let out = run(Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args([
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.SearchItems",
            ])
            .arg(format!("dict:string:string:{}", dict.join(","))))?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| {
                l.trim_start()
                    .starts_with("object path \"/org/freedesktop/secrets/")
            })
            .count())
    }

    /// Stores `secret` under `attributes` in the default collection, as another program
    /// (or an attacker with the user's session) could.
    pub fn store_item(&self, attributes: &[(&str, &str)], secret: &[u8]) -> Result<(), String> {
        use dbus::arg::{PropMap, RefArg, Variant};
        use std::collections::HashMap;
        let fail = |e: dbus::Error| format!("Secret Service: {e}");
        let mut channel = dbus::channel::Channel::open_private(&self.address).map_err(fail)?;
        channel.register().map_err(fail)?;
        let conn = dbus::blocking::Connection::from(channel);
        let timeout = Duration::from_secs(5);
        let service = conn.with_proxy(
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            timeout,
        );
        // A plain session: the secret travels unencrypted on this private bus.
        let (_, session): (Variant<Box<dyn RefArg>>, dbus::Path) = service
            .method_call(
                "org.freedesktop.Secret.Service",
                "OpenSession",
                ("plain", Variant(String::new())),
            )
            .map_err(fail)?;
        let attributes: HashMap<String, String> = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut properties = PropMap::new();
        properties.insert(
            "org.freedesktop.Secret.Item.Label".into(),
            Variant(Box::new("planted by a test".to_string())),
        );
        properties.insert(
            "org.freedesktop.Secret.Item.Attributes".into(),
            Variant(Box::new(attributes)),
        );
        let secret = (session, Vec::<u8>::new(), secret.to_vec(), "text/plain");
        let collection = conn.with_proxy(
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets/aliases/default",
            timeout,
        );
        let (_item, prompt): (dbus::Path, dbus::Path) = collection
            .method_call(
                "org.freedesktop.Secret.Collection",
                "CreateItem",
                (properties, secret, true),
            )
            .map_err(fail)?;
        if &*prompt != "/" {
            return Err("the keystore asked for a prompt (locked?)".into());
        }
        Ok(())
    }

    /// Freezes the keystore (SIGSTOP): it keeps its name on the bus and answers nothing,
    /// like a hung daemon.
    pub fn freeze(&self) -> Result<(), String> {
        let pid = self
            .keyring
            .as_ref()
            .map(|c| c.id())
            .ok_or("the keystore is not running")?;
        run(Command::new("kill").args(["-STOP", &pid.to_string()])).map(|_| ())
    }

    /// Stops the keystore and its bus, as when the desktop session ends.
    pub fn stop(&mut self) {
        self.stop_keyring();
        if let Some(mut bus) = self.bus.take() {
            kill_and_wait(&mut bus);
        }
    }

    /// A bus that starts nothing on demand but, given a display, gcr's prompter on it.
    fn bus(prompter_display: Option<&str>) -> Result<SecretService, String> {
        let dir = TempDir::new("secrets")?;
        let socket = dir.path().join("bus");
        let config = dir.path().join("bus.conf");
        let services = dir.path().join("services");
        std::fs::create_dir_all(&services).map_err(|e| e.to_string())?;
        let mut cmd = Command::new("dbus-daemon");
        if let Some(display) = prompter_display {
            std::fs::write(
                services.join("org.gnome.keyring.SystemPrompter.service"),
                "[D-BUS Service]\nName=org.gnome.keyring.SystemPrompter\nExec=/usr/libexec/gcr-prompter\n",
            )
            .map_err(|e| e.to_string())?;
            // Activated services inherit the bus's environment.
            cmd.env("DISPLAY", display);
        }
        std::fs::write(&config, bus_config(&socket, &services)).map_err(|e| e.to_string())?;
        cmd.arg(format!("--config-file={}", config.display()))
            .arg("--nofork");
        let bus = spawn_server(cmd, &dir.path().join("bus.log"))
            .map_err(|e| format!("dbus-daemon (apt install dbus): {e}"))?;
        let address = format!("unix:path={}", socket.display());
        let mut service = SecretService {
            bus: Some(bus),
            keyring: None,
            address,
            dir,
        };
        if !wait_for(Duration::from_secs(10), || {
            service.name_has_owner("org.freedesktop.DBus")
        }) {
            let log = service.log("bus.log");
            service.stop();
            return Err(format!("dbus-daemon did not answer: {log}"));
        }
        Ok(service)
    }

    /// Starts gnome-keyring's secrets component; with `unlock`, the login keyring is
    /// unlocked (and made, on first start) with the test password read from stdin.
    fn start_keyring(&mut self, unlock: bool) -> Result<(), String> {
        let home = self.dir.path().join("home");
        let runtime = self.dir.path().join("run");
        for d in [&home, &runtime] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
            set_private(d)?;
        }
        let password = self.dir.path().join("password");
        std::fs::write(&password, KEYRING_PASSWORD).map_err(|e| e.to_string())?;
        let mut cmd = Command::new("gnome-keyring-daemon");
        cmd.args(["--foreground", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("DISPLAY");
        if unlock {
            cmd.arg("--unlock");
        }
        let log = self.dir.path().join("keyring.log");
        let child = spawn_server_fed(cmd, &log, unlock.then_some(password.as_path()))
            .map_err(|e| format!("gnome-keyring-daemon (apt install gnome-keyring): {e}"))?;
        self.keyring = Some(child);
        if !wait_for(Duration::from_secs(10), || {
            self.name_has_owner("org.freedesktop.secrets")
        }) {
            let log = self.log("keyring.log");
            self.stop();
            return Err(format!("gnome-keyring-daemon did not answer: {log}"));
        }
        Ok(())
    }

    fn stop_keyring(&mut self) {
        if let Some(mut keyring) = self.keyring.take() {
            kill_and_wait(&mut keyring);
        }
        // Its name leaves the bus with the process; wait so a restart can claim it.
        wait_for(Duration::from_secs(5), || {
            !self.name_has_owner("org.freedesktop.secrets")
        });
    }

    fn name_has_owner(&self, name: &str) -> bool {
        Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args([
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
            ])
            .arg(format!("string:{name}"))
            .output()
            .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("true"))
            .unwrap_or(false)
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A session bus for one user that starts only what `services` holds.
fn bus_config(socket: &Path, services: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <servicedir>{}</servicedir>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        socket.display(),
        services.display()
    )
}

fn set_private(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("{}: {e}", dir.display()))
}
