//! `GET info`: the amphora's host name and the versions of what it runs.

use std::path::Path;

use krater_agent_api::{AgentInfo, API_VERSION};

use crate::cmd::Cmd;
use crate::error::ApiResult;

/// Collects the answer of `GET info`; keepalived is optional.
pub(crate) async fn info(haproxy_cmd: &Path) -> ApiResult<AgentInfo> {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let haproxy = Cmd::new(haproxy_cmd).arg("-v").run().await?;
    let keepalived = match Cmd::new("keepalived").arg("--version").output().await {
        // keepalived prints its version on standard error.
        Ok(out) => version_after(&String::from_utf8_lossy(&out.stderr), "Keepalived v")
            .or_else(|| version_after(&String::from_utf8_lossy(&out.stdout), "Keepalived v")),
        Err(_) => None,
    };
    Ok(AgentInfo {
        hostname,
        haproxy_version: version_after(&haproxy, "version ").unwrap_or_default(),
        api_version: API_VERSION.to_owned(),
        keepalived_version: keepalived,
    })
}

/// The word after `marker` in `text`: `2.6.12-1+deb12u4` from `HAProxy version
/// 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/`.
fn version_after(text: &str, marker: &str) -> Option<String> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let word = rest.split_whitespace().next()?;
    Some(word.to_owned())
}

#[cfg(test)]
mod tests {
    use super::version_after;

    #[test]
    fn versions() {
        assert_eq!(
            version_after(
                "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/\n",
                "version "
            )
            .as_deref(),
            Some("2.6.12-1+deb12u4")
        );
        assert_eq!(
            version_after(
                "Keepalived v2.2.7 (01/16,2022)\n\nCopyright(C) ...",
                "Keepalived v"
            )
            .as_deref(),
            Some("2.2.7")
        );
        assert_eq!(version_after("nothing", "version "), None);
    }
}
