//! Running the programs the agent drives (`ip`, `haproxy`): arguments are passed as a
//! vector, never through a shell, and every run is bounded in time.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::process::Command;

/// Longest run of one command; past it the child is killed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A command that could not run or exited with a failure.
#[derive(Debug, thiserror::Error)]
#[error("`{command}` failed: {detail}")]
pub struct CmdError {
    /// The command line, for logs and error details.
    pub command: String,
    /// What it printed on standard error (or standard output), or why it did not run.
    pub detail: String,
}

/// Builds a command line from its program and arguments.
pub(crate) struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
}

impl Cmd {
    pub(crate) fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// `ip netns exec <netns> <program>`: `program` run in the network namespace
    /// `netns`.
    pub(crate) fn in_netns(netns: &str, program: impl Into<OsString>) -> Self {
        Self::new("ip").args(["netns", "exec", netns]).arg(program)
    }

    pub(crate) fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable of the command (passed on by `ip netns exec`).
    pub(crate) fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// The command line as text, for logs and error details.
    pub(crate) fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs the command and returns its standard output; fails when it does not exit
    /// with 0.
    pub(crate) async fn run(&self) -> Result<String, CmdError> {
        let out = self.output().await?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(self.failed(&out))
        }
    }

    /// Runs the command and returns its whole output, whatever its exit status.
    pub(crate) async fn output(&self) -> Result<Output, CmdError> {
        let mut cmd = self.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        match tokio::time::timeout(COMMAND_TIMEOUT, cmd.output()).await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(self.error(format!("cannot run it: {e}"))),
            Err(_) => Err(self.error(format!("no answer within {COMMAND_TIMEOUT:?}"))),
        }
    }

    /// Runs the command with its standard output and error written to `log` (so that
    /// a daemon it leaves behind holds no pipe of ours), and waits for it to exit.
    /// On a failure the error carries the end of the log.
    pub(crate) async fn run_logged(&self, log: &Path) -> Result<(), CmdError> {
        let file = std::fs::File::create(log)
            .map_err(|e| self.error(format!("cannot create {}: {e}", log.display())))?;
        let err_file = file
            .try_clone()
            .map_err(|e| self.error(format!("cannot duplicate a descriptor: {e}")))?;
        let mut cmd = self.command();
        cmd.stdout(Stdio::from(file)).stderr(Stdio::from(err_file));
        let status = match tokio::time::timeout(COMMAND_TIMEOUT, async {
            cmd.spawn()?.wait().await
        })
        .await
        {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => return Err(self.error(format!("cannot run it: {e}"))),
            Err(_) => return Err(self.error(format!("no answer within {COMMAND_TIMEOUT:?}"))),
        };
        if status.success() {
            return Ok(());
        }
        let text = std::fs::read_to_string(log).unwrap_or_default();
        Err(self.error(format!("{status}: {}", tail(&text))))
    }

    fn failed(&self, out: &Output) -> CmdError {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let text = if stderr.trim().is_empty() {
            String::from_utf8_lossy(&out.stdout)
        } else {
            stderr
        };
        self.error(format!("{}: {}", out.status, tail(&text)))
    }

    fn error(&self, detail: String) -> CmdError {
        CmdError {
            command: self.display(),
            detail,
        }
    }
}

/// The last few kilobytes of a program's output, where its error is.
fn tail(text: &str) -> &str {
    const MAX: usize = 4000;
    let text = text.trim();
    if text.len() <= MAX {
        return text;
    }
    let mut start = text.len() - MAX;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
