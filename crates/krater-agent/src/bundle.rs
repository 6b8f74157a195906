//! The bundle in force: checked whole, swapped in atomically, and only what changed
//! reloaded.
//!
//! In the state directory:
//!
//! | path | what |
//! |---|---|
//! | `bundles/<version>/` | a bundle as applied: `bundle.json`, `<lb>/haproxy.cfg`, `keepalived.conf`, `nat.nft`, `certificates/<name>` |
//! | `bundle` | a symbolic link to the bundle in force, `bundles/<version>`; its target names the version |
//!
//! A new bundle is written into a staging directory under `bundles/` and checked there
//! (HAProxy with `haproxy -c`, keepalived with `keepalived -t` and the UDP listeners'
//! ruleset with `nft -c` in the load-balancing namespace, certificates parsed as PEM). A refused
//! one is removed and the bundle in force stays as it was. An accepted one is renamed
//! to `bundles/<version>`, and the `bundle` link replaced by a rename: each HAProxy
//! reads its file through the link, so every part switches at once. Then only what
//! changed is reloaded: a HAProxy whose configuration is new is started, one whose
//! configuration changed is reloaded, one no longer in the bundle is stopped; the
//! UDP listeners go to the agent's `nat` service when they changed. When a start or reload fails, the
//! previous bundle is put back the same way. keepalived is started when the bundle
//! brings its configuration, reloaded when that changed, and stopped first when the
//! bundle no longer has it, so the VIP leaves before HAProxy does.

use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use krater_agent_api::{layout, AmphoraBundle};

use crate::cmd::Cmd;
use crate::error::{ApiError, ApiResult};
use crate::haproxy::{create_dir as private_dir, file_error, Haproxy};
use crate::keepalived::Keepalived;
use crate::nat::Nat;
use crate::routes::Agent;

/// The directory of the applied bundles.
const BUNDLES: &str = "bundles";
/// The whole bundle, in a bundle's directory.
pub(crate) const BUNDLE_JSON: &str = "bundle.json";
/// The UDP listeners' ruleset with every member up, as checked.
const NAT_RULESET: &str = "nat.nft";
const CERTIFICATES: &str = "certificates";

/// The version of the bundle in force in `state_dir`, if any: the name its link
/// points to.
pub(crate) fn current_version(state_dir: &Path) -> Option<String> {
    let target = std::fs::read_link(state_dir.join(layout::BUNDLE)).ok()?;
    target.file_name()?.to_str().map(str::to_owned)
}

/// What became of a bundle.
pub(crate) enum Outcome {
    /// It is in force (it was already, or it is now).
    Applied { version: String },
    /// A part was refused; the bundle in force did not change.
    Refused { reason: String },
}

/// Applies bundles in the state directory of the agent's HAProxy runner.
pub(crate) struct Bundles<'a> {
    pub(crate) haproxy: &'a Haproxy,
    pub(crate) keepalived: &'a Keepalived,
    pub(crate) nat: &'a Nat,
    pub(crate) state_dir: &'a Path,
}

impl<'a> Bundles<'a> {
    pub(crate) fn new(agent: &'a Agent) -> Self {
        Self {
            haproxy: &agent.haproxy,
            keepalived: &agent.keepalived,
            nat: &agent.nat,
            state_dir: &agent.haproxy.state_dir,
        }
    }

    /// The version of the bundle in force, if any.
    pub(crate) fn version(&self) -> Option<String> {
        current_version(self.state_dir)
    }

    /// The bundle in force, if any.
    pub(crate) fn current(&self) -> ApiResult<Option<(String, AmphoraBundle)>> {
        let Some(version) = current_version(self.state_dir) else {
            return Ok(None);
        };
        let path = self.bundle_dir(&version).join(BUNDLE_JSON);
        let text = std::fs::read(&path).map_err(|e| file_error(&path, e))?;
        let bundle = serde_json::from_slice(&text)
            .map_err(|e| ApiError::internal("Error reading the bundle in force", e.to_string()))?;
        Ok(Some((version, bundle)))
    }

    /// Checks `bundle` and puts it in force; see the module.
    pub(crate) async fn apply(&self, bundle: &AmphoraBundle) -> ApiResult<Outcome> {
        let version = bundle.version();
        let current = self.current()?;
        if current.as_ref().is_some_and(|(v, _)| *v == version) {
            return Ok(Outcome::Applied { version });
        }
        let bundles = self.state_dir.join(BUNDLES);
        private_dir(&bundles)?;
        let staging = tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(&bundles)
            .map_err(|e| file_error(&bundles, e))?;
        write_bundle(staging.path(), bundle)?;
        if let Some(reason) = self.refusal(staging.path(), bundle).await? {
            return Ok(Outcome::Refused { reason });
        }
        let dir = self.bundle_dir(&version);
        // A bundle left by an agent stopped before the link was replaced.
        remove_dir(&dir)?;
        std::fs::rename(staging.path(), &dir).map_err(|e| file_error(&dir, e))?;
        self.link(&version)?;

        let empty = AmphoraBundle::default();
        let previous = current.as_ref().map_or(&empty, |(_, b)| b);
        if let Err(err) = self.converge(previous, bundle).await {
            tracing::error!(
                version,
                "the new bundle did not start; putting the previous one back"
            );
            self.put_back(current.as_ref(), bundle).await;
            return Err(err);
        }
        self.prune(&version);
        tracing::info!(version, "bundle applied");
        Ok(Outcome::Applied { version })
    }

    fn bundle_dir(&self, version: &str) -> PathBuf {
        self.state_dir.join(BUNDLES).join(version)
    }

    /// Why the bundle written in `dir` is refused, if it is.
    async fn refusal(&self, dir: &Path, bundle: &AmphoraBundle) -> ApiResult<Option<String>> {
        for lb_id in bundle.haproxy.keys() {
            let config = dir.join(lb_id).join(layout::HAPROXY_CONFIG);
            if let Some(output) = self.haproxy.check(lb_id, &config).await? {
                return Ok(Some(format!(
                    "haproxy configuration of load balancer {lb_id}: {output}"
                )));
            }
        }
        if bundle.keepalived.is_some() {
            let check = Cmd::in_netns(&self.haproxy.lb_netns, "keepalived")
                .args(["-t", "-f"])
                .arg(dir.join(layout::KEEPALIVED_CONFIG));
            if let Some(output) = refused(check).await? {
                return Ok(Some(format!("keepalived configuration: {output}")));
            }
        }
        if !bundle.nat_listeners.is_empty() {
            let check = Cmd::in_netns(&self.haproxy.lb_netns, "nft")
                .args(["-c", "-f"])
                .arg(dir.join(NAT_RULESET));
            if let Some(output) = refused(check).await? {
                return Ok(Some(format!(
                    "nftables ruleset of the UDP listeners: {output}"
                )));
            }
        }
        for (name, pem) in &bundle.certificates {
            if let Err(reason) = check_pem(pem) {
                return Ok(Some(format!("certificate {name}: {reason}")));
            }
        }
        Ok(None)
    }

    /// Points the `bundle` link at `bundles/<version>`, by a rename.
    fn link(&self, version: &str) -> ApiResult<()> {
        let link = self.state_dir.join(layout::BUNDLE);
        let new = self.state_dir.join(".bundle.new");
        remove_file(&new)?;
        std::os::unix::fs::symlink(Path::new(BUNDLES).join(version), &new)
            .map_err(|e| file_error(&new, e))?;
        std::fs::rename(&new, &link).map_err(|e| file_error(&link, e))
    }

    /// Makes what runs follow the change from `old` to `new` (the link points to
    /// `new` already): only what changed is touched.
    async fn converge(&self, old: &AmphoraBundle, new: &AmphoraBundle) -> ApiResult<()> {
        if old.keepalived.is_some() && new.keepalived.is_none() {
            let done = self.keepalived.stop().await?;
            tracing::info!("{done}");
        }
        for (lb_id, config) in &new.haproxy {
            match old.haproxy.get(lb_id) {
                Some(before) if before == config => {}
                Some(_) => {
                    let done = self.haproxy.reload(lb_id).await?;
                    tracing::info!(lb_id, "{done}");
                }
                None => {
                    let done = self.haproxy.start(lb_id).await?;
                    tracing::info!(lb_id, "{done}");
                }
            }
        }
        if new.nat_listeners != old.nat_listeners {
            self.nat.set(&new.nat_listeners).await?;
        }
        match (&old.keepalived, &new.keepalived) {
            (None, Some(_)) => tracing::info!("{}", self.keepalived.start().await?),
            (Some(before), Some(config)) if before != config => {
                tracing::info!("{}", self.keepalived.reload().await?)
            }
            _ => {}
        }
        for lb_id in old
            .haproxy
            .keys()
            .filter(|id| !new.haproxy.contains_key(*id))
        {
            self.haproxy.remove(lb_id).await?;
            tracing::info!(lb_id, "haproxy stopped: no longer in the bundle");
        }
        Ok(())
    }

    /// After `failed` did not start: the link back to `previous` (or none), and what
    /// runs back to it. Best effort: what fails is logged.
    async fn put_back(&self, previous: Option<&(String, AmphoraBundle)>, failed: &AmphoraBundle) {
        let relinked = match previous {
            Some((version, _)) => self.link(version),
            None => remove_file(&self.state_dir.join(layout::BUNDLE)),
        };
        if let Err(err) = relinked {
            tracing::error!(error = ?err, "cannot put the previous bundle back");
            return;
        }
        let empty = AmphoraBundle::default();
        let old = previous.map_or(&empty, |(_, b)| b);
        if let Err(err) = self.converge(failed, old).await {
            tracing::error!(error = ?err, "the previous bundle did not start again");
        }
    }

    /// Removes every bundle directory but the one in force.
    fn prune(&self, keep: &str) {
        let Ok(entries) = std::fs::read_dir(self.state_dir.join(BUNDLES)) else {
            return;
        };
        for entry in entries.flatten().filter(|e| e.file_name() != keep) {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove an old bundle");
            }
        }
    }
}

/// Writes the parts of `bundle` into `dir`, root's only.
fn write_bundle(dir: &Path, bundle: &AmphoraBundle) -> ApiResult<()> {
    let json = serde_json::to_vec(bundle).expect("a bundle is plain JSON");
    write_private(&dir.join(BUNDLE_JSON), &json)?;
    for (lb_id, config) in &bundle.haproxy {
        let lb_dir = dir.join(lb_id);
        private_dir(&lb_dir)?;
        write_private(&lb_dir.join(layout::HAPROXY_CONFIG), config.as_bytes())?;
    }
    if let Some(config) = &bundle.keepalived {
        write_private(&dir.join(layout::KEEPALIVED_CONFIG), config.as_bytes())?;
    }
    if !bundle.nat_listeners.is_empty() {
        // The ruleset with every member up: what `nft -c` checks.
        let ruleset = krater_render::render_nftables(&bundle.nat_listeners, &|_, _| true);
        let both = format!("{}\n{}", ruleset.filter, ruleset.nat);
        write_private(&dir.join(NAT_RULESET), both.as_bytes())?;
    }
    if !bundle.certificates.is_empty() {
        let certs = dir.join(CERTIFICATES);
        private_dir(&certs)?;
        for (name, pem) in &bundle.certificates {
            write_private(&certs.join(name), pem.as_bytes())?;
        }
    }
    Ok(())
}

/// Runs a check; `None` when it passes, else what it printed.
async fn refused(check: Cmd) -> ApiResult<Option<String>> {
    let out = check.output().await?;
    if out.status.success() {
        return Ok(None);
    }
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(Some(output))
}

/// A certificate file holds PEM sections (certificates, keys) and nothing else.
fn check_pem(pem: &str) -> Result<(), String> {
    use rustls::pki_types::pem::{PemObject, SectionKind};
    let mut sections = 0;
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem.as_bytes()) {
        section.map_err(|e| format!("not PEM: {e}"))?;
        sections += 1;
    }
    if sections == 0 {
        return Err("no PEM section".to_owned());
    }
    Ok(())
}

pub(crate) fn write_private(path: &Path, contents: &[u8]) -> ApiResult<()> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(contents))
        .map_err(|e| file_error(path, e))
}

pub(crate) fn remove_file(path: &Path) -> ApiResult<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(file_error(path, e)),
        _ => Ok(()),
    }
}

fn remove_dir(path: &Path) -> ApiResult<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(file_error(path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_must_be_pem() {
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(check_pem(cert), Ok(()));
        assert!(check_pem("not a certificate").is_err());
        assert!(check_pem("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n").is_err());
    }

    #[test]
    fn the_version_in_force_is_the_links_target() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(current_version(dir.path()), None);
        std::os::unix::fs::symlink("bundles/abc", dir.path().join(layout::BUNDLE)).expect("link");
        assert_eq!(current_version(dir.path()).as_deref(), Some("abc"));
    }
}
