//! Test support shared by every integration test: real services on loopback (a moto server, the
//! fault-injecting proxy), a runner for the built `sesctl` binary, and SDK clients to read AWS state
//! back independently of the code under test.
//!
//! Services are started through `tests/support/guard.py`, which stops them when this test process
//! ends (its stdin pipe closes), so no run leaves a server behind.

#![allow(dead_code)]

pub mod enforcing;
pub mod fixtures;
pub mod lambda;
pub mod legacy;
pub mod matrix;
pub mod pins;
pub mod smtp;
pub mod state;

pub use fixtures::{access_keys, v4_password};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const TEST_ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
pub const TEST_SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn support_script(name: &str) -> PathBuf {
    repo_root().join("tests/support").join(name)
}

pub fn python() -> String {
    std::env::var("SESCTL_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// A free loopback port (the OS picks it; a tiny race remains, covered by start-up retries).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A process started through the guard; killed when dropped, and in any case when the test process
/// ends.
pub struct Guarded {
    child: Child,
    _stdin: Option<ChildStdin>,
}

impl Guarded {
    pub fn start(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Guarded {
        let mut cmd = Command::new(python());
        cmd.arg(support_script("guard.py")).arg(program).args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {program}: {e}"));
        let stdin = child.stdin.take();
        Guarded { child, _stdin: stdin }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // Closing stdin makes the guard stop its service; then reap it.
        self._stdin.take();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.0 request on loopback; returns (status, body).
pub fn http(method: &str, url: &str, body: &str) -> std::io::Result<(u16, String)> {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(hostport)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

fn wait_until_answers(url: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok((status, _)) = http("GET", url, "") {
            if status > 0 {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not answer at {url} within 60 s (is `pip install 'moto[server]'` done?)");
}

/// A moto server on a loopback port.
pub struct Moto {
    pub url: String,
    _process: Option<Guarded>,
}

impl Moto {
    /// A moto server of its own, for tests that need an account nobody else touches (audits that
    /// count users, `--all` runs). Stopped when dropped.
    pub fn dedicated() -> Moto {
        Self::start_with(&[])
    }

    /// A moto server with extra environment (e.g. INITIAL_NO_AUTH_ACTION_COUNT for IAM enforcement).
    pub fn start_with(envs: &[(&str, &str)]) -> Moto {
        Self::launch(&["-m", "moto.server"], envs)
    }

    /// A moto server whose RotateSecret, called without a function, starts a rotation as Secrets
    /// Manager does and stops there (tests/support/moto_rotation.py), for the rotation function's tests.
    pub fn rotating() -> Moto {
        let script = support_script("moto_rotation.py");
        Self::launch(&[script.to_str().unwrap()], &[])
    }

    fn launch(program: &[&str], envs: &[(&str, &str)]) -> Moto {
        let port = free_port().to_string();
        let mut args = program.to_vec();
        args.extend(["-H", "127.0.0.1", "-p", &port]);
        let process = Guarded::start(&python(), &args, envs);
        let url = format!("http://127.0.0.1:{port}");
        wait_until_answers(&format!("{url}/moto-api/"), "moto_server");
        Moto {
            url,
            _process: Some(process),
        }
    }

    /// Clears every resource in this server (only for dedicated servers: the shared one is used by
    /// tests in parallel, which keep apart by name prefix instead).
    pub fn reset(&self) {
        let (status, _) = http("POST", &format!("{}/moto-api/reset", self.url), "").unwrap();
        assert_eq!(status, 200, "moto reset");
    }
}

/// The moto server shared by the tests of this run; each test keeps to its own name prefix.
/// `SESCTL_TEST_MOTO_URL` points the shared tests at a server started by hand (to read its log).
pub fn moto() -> &'static Moto {
    static SHARED: OnceLock<Moto> = OnceLock::new();
    SHARED.get_or_init(|| match std::env::var("SESCTL_TEST_MOTO_URL") {
        Ok(url) if !url.is_empty() => Moto { url, _process: None },
        _ => Moto::dedicated(),
    })
}

/// A unique name prefix for one test, so tests run in parallel against one server.
pub fn prefix(test: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let clean: String = test
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(20)
        .collect();
    format!("t{}{}-{clean}", std::process::id() % 100_000, n)
}

/// A Python service of tests/support on loopback, in front of an upstream URL: it prints its port
/// on its first stdout line and stops when its stdin closes; it is also killed when dropped. The
/// fault proxy and the signature shim are such services.
pub struct LoopbackService {
    pub url: String,
    child: Child,
    _stdin: ChildStdin,
}

impl LoopbackService {
    pub fn start(script: &str, upstream: &str) -> LoopbackService {
        Self::start_with(script, upstream, &[], "http")
    }

    /// A service with more arguments, whose URL has `scheme`.
    pub fn start_with(script: &str, upstream: &str, args: &[&str], scheme: &str) -> LoopbackService {
        let mut child = Command::new(python())
            .arg(support_script(script))
            .args(["--upstream", upstream])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {script}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{script} prints its port first, got {line:?}"));
        LoopbackService {
            url: format!("{scheme}://127.0.0.1:{port}"),
            child,
            _stdin: stdin,
        }
    }
}

impl Drop for LoopbackService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fault-injecting proxy (tests/support/fault_proxy.py) in front of a moto server.
pub struct FaultProxy {
    pub url: String,
    _service: LoopbackService,
}

impl FaultProxy {
    pub fn start(upstream: &Moto) -> FaultProxy {
        let service = LoopbackService::start("fault_proxy.py", &upstream.url);
        FaultProxy {
            url: service.url.clone(),
            _service: service,
        }
    }

    /// Replaces the rules (a JSON list; see fault_proxy.py).
    pub fn set_rules(&self, rules: serde_json::Value) {
        let (status, _) = http("POST", &format!("{}/__proxy/rules", self.url), &rules.to_string()).unwrap();
        assert_eq!(status, 200);
    }

    /// The proxy's log entries as it keeps them (action, fault, and what the fault did).
    pub fn log_entries(&self) -> Vec<serde_json::Value> {
        let (_, body) = http("GET", &format!("{}/__proxy/log", self.url), "").unwrap();
        serde_json::from_str(&body).unwrap()
    }

    /// The actions seen so far, in order, with the fault applied to each (if any).
    pub fn log(&self) -> Vec<(String, Option<String>)> {
        let (_, body) = http("GET", &format!("{}/__proxy/log", self.url), "").unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap_or_default().to_string(),
                    e["fault"].as_str().map(str::to_string),
                )
            })
            .collect()
    }

    pub fn actions(&self) -> Vec<String> {
        self.log().into_iter().map(|(a, _)| a).collect()
    }

    /// Waits until the proxy has seen (and, with a `delay` or `hang` rule, is holding) a request for
    /// `action`.
    #[track_caller]
    pub fn wait_for(&self, action: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.actions().iter().any(|a| a == action) {
            assert!(
                Instant::now() < deadline,
                "the run never reached {action}: {:?}",
                self.actions()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn reset(&self) {
        http("POST", &format!("{}/__proxy/reset", self.url), "").unwrap();
    }
}

/// The result of one `sesctl` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Waits for a started `sesctl` (see [`Sesctl::spawn`]) to end.
    pub fn wait(child: Child) -> Run {
        let out = child.wait_with_output().expect("wait for sesctl");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code {} (wanted {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_code(0)
    }

    /// stdout and stderr together, for searching for leaked secrets.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// IAM calls that change something.
pub fn changes(actions: &[String]) -> Vec<String> {
    actions
        .iter()
        .filter(|a| {
            [
                "Create", "Attach", "Put", "Add", "Delete", "Remove", "Detach", "Tag", "Update",
            ]
            .iter()
            .any(|p| a.starts_with(p))
        })
        .cloned()
        .collect()
}

/// stderr without the warnings the test environment itself causes (it points AWS_CONFIG_FILE and
/// AWS_SHARED_CREDENTIALS_FILE at files that do not exist, and the SDK says so).
pub fn stderr_lines(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| !l.contains("config file overridden via environment variable not found"))
        .collect()
}

/// A `sesctl` invocation with a clean environment: no AWS config files, no profile, no IMDS, test
/// credentials, and (when given) an endpoint.
pub struct Sesctl {
    cmd: Command,
    stdin: Vec<u8>,
}

pub fn sesctl_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sesctl")
}

pub fn home_dir() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        // Empty AWS config and credentials files: present (so the SDK does not warn about missing
        // files) and holding no profile (so nothing from the machine leaks into a test).
        std::fs::write(dir.path().join("no-config"), "").unwrap();
        std::fs::write(dir.path().join("no-credentials"), "").unwrap();
        dir
    })
    .path()
}

/// `program` with a clean environment: PATH alone from this process, a home of the tests' own with
/// empty AWS config and credentials files, no IMDS.
pub fn isolated(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home_dir())
        .env("AWS_CONFIG_FILE", home_dir().join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home_dir().join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

impl Sesctl {
    /// sesctl with no AWS endpoint (offline commands).
    pub fn offline() -> Sesctl {
        let mut cmd = isolated(sesctl_bin());
        cmd.env("NO_COLOR", "1");
        Sesctl {
            cmd,
            stdin: Vec::new(),
        }
    }

    /// sesctl against an endpoint (moto or a proxy in front of it) with the test credentials.
    pub fn at(endpoint: &str) -> Sesctl {
        let mut s = Sesctl::offline();
        s.cmd
            .env("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_MAX_ATTEMPTS", "2")
            .env("AWS_RETRY_MODE", "standard");
        s
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn stdin(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.stdin = bytes.as_ref().to_vec();
        self
    }

    /// Starts the process without waiting (for kill tests).
    pub fn spawn(mut self) -> Child {
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("spawn sesctl");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&self.stdin).unwrap();
        drop(stdin);
        child
    }

    /// Runs the process with its stdout going to `out` (a full device, a closed file); stdout in the
    /// result is empty.
    pub fn run_with_stdout(mut self, out: std::fs::File) -> Run {
        self.cmd.stdin(Stdio::null()).stdout(out).stderr(Stdio::piped());
        let out = self.cmd.output().expect("run sesctl");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts the process with its stdin left open (so a read or prompt waits).
    pub fn spawn_open_stdin(mut self) -> Child {
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.cmd.spawn().expect("spawn sesctl")
    }

    pub fn run(self) -> Run {
        Run::wait(self.spawn())
    }
}

/// A tokio runtime for the SDK clients the tests use to read state back.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let rt = RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    });
    rt.block_on(f)
}

fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    sdk_config_in(endpoint, "us-east-1", None)
}

/// The SDK configuration with the test credentials against `endpoint` in `region`; `max_attempts`,
/// when given, replaces the SDK's default retries.
pub fn sdk_config_in(endpoint: &str, region: &str, max_attempts: Option<u32>) -> aws_config::SdkConfig {
    let creds = aws_credential_types::Credentials::new(
        TEST_ACCESS_KEY_ID,
        TEST_SECRET_ACCESS_KEY,
        None,
        None,
        "tests",
    );
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(creds);
    if let Some(n) = max_attempts {
        loader = loader.retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(n));
    }
    block_on(loader.load())
}

/// Sets the test credentials in this process's environment, for tests that call the library's own
/// AWS loader (which reads the standard chain). Every test sets the same values, so order is moot.
pub fn library_env() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY);
        std::env::set_var("AWS_CONFIG_FILE", home_dir().join("no-config"));
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", home_dir().join("no-credentials"));
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::remove_var("AWS_PROFILE");
        std::env::remove_var("AWS_REGION");
        std::env::remove_var("AWS_DEFAULT_REGION");
    });
}

/// An IAM client straight from the SDK, for reading state back.
pub fn iam(endpoint: &str) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&sdk_config(endpoint))
}

/// A Secrets Manager client straight from the SDK, in `region`.
pub fn secretsmanager(endpoint: &str, region: &str) -> aws_sdk_secretsmanager::Client {
    let conf = aws_sdk_secretsmanager::config::Builder::from(&sdk_config(endpoint))
        .region(aws_config::Region::new(region.to_string()))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(conf)
}

/// Fills the account behind `endpoint` with `users` users, every `smtp_every`-th an SMTP user
/// (tests/support/seed_account.py); returns what it made: {"smtp": {user: kind}, "plain": [...],
/// "keys": {user: [key ids]}}.
pub fn seed_account(endpoint: &str, prefix: &str, users: usize, smtp_every: usize) -> serde_json::Value {
    let out = Command::new(python())
        .arg(support_script("seed_account.py"))
        .args(["--endpoint", endpoint, "--prefix", prefix])
        .args([
            "--users",
            &users.to_string(),
            "--smtp-every",
            &smtp_every.to_string(),
        ])
        .output()
        .expect("run seed_account.py");
    assert!(
        out.status.success(),
        "seeding failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("seed_account.py prints JSON")
}

/// Sends `signo` to a spawned sesctl (kill(2)).
pub fn signal(child: &std::process::Child, signo: i32) {
    // SAFETY: kill(2) on a child process we own; no memory is involved.
    let rc = unsafe { libc::kill(child.id() as i32, signo) };
    assert_eq!(rc, 0, "kill");
}
