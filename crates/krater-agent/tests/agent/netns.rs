//! Test hosts: network namespaces this test makes and always removes, a member HTTP
//! server and an HTTP client that live inside one, and a reaper for the HAProxy
//! masters a test leaves behind.
//!
//! The server and the client run on threads of the test process that moved into the
//! namespace (`setns` affects only the calling thread), so no traffic ever leaves the
//! namespaces of the test.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::process::{kill_process, Pid, Signal};
use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};

/// A namespace `kt-<random>-<tag>`, deleted on drop (also when the test panics).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Self {
        let random = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("kt-{}-{tag}", &random[..8]);
        run("ip", &["netns", "add", &name]);
        let ns = Self { name };
        ns.ip(&["link", "set", "dev", "lo", "up"]);
        ns
    }

    /// `ip -n <ns> <args>`, which must succeed.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        run("ip", &all)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Runs a command that must succeed; returns its standard output.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Moves the calling thread into the namespace `ns`.
fn enter(ns: &str) -> io::Result<()> {
    let file = File::open(format!("/run/netns/{ns}"))?;
    move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))?;
    Ok(())
}

/// An HTTP server in a namespace that answers every request with its name; a path
/// starting with `/slow` is answered after 1.5 s. Stops on drop.
pub struct Member {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Member {
    pub fn start(ns: &Netns, addr: SocketAddr, name: &'static str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let ns_name = ns.name.clone();
        let thread_stop = stop.clone();
        let thread = std::thread::spawn(move || {
            let listener = enter(&ns_name)
                .and_then(|()| TcpListener::bind(addr))
                .and_then(|l| l.set_nonblocking(true).map(|()| l));
            let listener = match listener {
                Ok(l) => {
                    let _ = ready_tx.send(Ok(()));
                    l
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            while !thread_stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        std::thread::spawn(move || {
                            let _ = answer(stream, name);
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => break,
                }
            }
        });
        ready_rx
            .recv()
            .expect("member thread")
            .unwrap_or_else(|e| panic!("member {name} on {addr}: {e}"));
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(mut stream: TcpStream, name: &str) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&request);
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    if path.starts_with("/slow") {
        std::thread::sleep(Duration::from_millis(1500));
    }
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
        name.len()
    )
}

/// `GET <path>` to `addr` from inside `ns`; the whole answer (status line, headers,
/// body), or why there was none.
pub fn http_get(ns: &str, addr: SocketAddr, path: &str) -> io::Result<String> {
    let ns = ns.to_owned();
    let path = path.to_owned();
    std::thread::spawn(move || {
        enter(&ns)?;
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    })
    .join()
    .map_err(|_| io::Error::other("client thread panicked"))?
}

/// The body of a `200 OK` answer, or a description of what came instead.
pub fn body_of(answer: &io::Result<String>) -> Result<String, String> {
    match answer {
        Ok(text) if text.starts_with("HTTP/1.1 200") => text
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .ok_or_else(|| format!("no body in {text:?}")),
        Ok(text) => Err(format!("unexpected answer {text:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Kills, on drop, every HAProxy whose pid is in `<dir>/*/haproxy.pid`, and its
/// workers.
pub struct Reaper {
    pub dir: PathBuf,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if let Some(pid) = haproxy_pid(&entry.path().join("haproxy.pid")) {
                kill_tree(pid);
            }
        }
    }
}

/// The pid in a pid file when it is a live HAProxy.
pub fn haproxy_pid(pid_file: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let (comm, state, _) = stat(pid)?;
    (comm == "haproxy" && state != 'Z').then_some(pid)
}

/// `(comm, state, ppid)` of a process.
fn stat(pid: i32) -> Option<(String, char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let mut rest = text[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((text[open + 1..close].to_owned(), state, ppid))
}

/// SIGKILL to `pid` and to its children.
fn kill_tree(pid: i32) {
    let mut pids = vec![pid];
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            let Some(child) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if stat(child).is_some_and(|(_, _, ppid)| ppid == pid) {
                pids.push(child);
            }
        }
    }
    for p in pids {
        if let Some(p) = Pid::from_raw(p) {
            let _ = kill_process(p, Signal::KILL);
        }
    }
}
