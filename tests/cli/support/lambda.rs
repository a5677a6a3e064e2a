//! The rotation function (`sesctl-rotation-lambda`, the real binary) under a Lambda Runtime API on
//! loopback (tests/support/lambda_runtime.py), and Secrets Manager's start of a rotation.
//!
//! moto's RotateSecret can invoke a function only through Docker, and without one it promotes an
//! empty version at once. The tests use a moto whose RotateSecret does only what Secrets Manager does
//! before the first step ([`super::Moto::rotating`], tests/support/moto_rotation.py): a version whose
//! id is the rotation's token, staged AWSPENDING, holding no value ([`start_rotation`]). They then
//! invoke the four steps through the runtime API as Secrets Manager would.

use std::path::PathBuf;
use std::process::{Child, Stdio};

use serde_json::{json, Value};

use super::{block_on, http, isolated, LoopbackService, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};

/// The function binary, built beside `sesctl` by scripts/test.sh (`cargo build --workspace --bins`):
/// `cargo test` alone builds it only as a test harness.
pub fn lambda_bin() -> PathBuf {
    let bin = PathBuf::from(super::sesctl_bin())
        .parent()
        .unwrap()
        .join("sesctl-rotation-lambda");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with scripts/test.sh (or `cargo build --workspace --bins` first)",
        bin.display()
    );
    bin
}

/// A running function: the runtime API server and the function process polling it. Its stdout and
/// stderr (the logs) are kept in files.
pub struct Function {
    runtime: LoopbackService,
    child: Child,
    logs: tempfile::TempDir,
}

impl Function {
    /// Starts the function against the AWS endpoint `aws_url` in `region`, with extra environment.
    pub fn start(aws_url: &str, region: &str, env: &[(&str, &str)]) -> Function {
        let runtime = LoopbackService::start("lambda_runtime.py", "-");
        let api = runtime.url.trim_start_matches("http://").to_string();
        let logs = tempfile::tempdir().unwrap();
        let mut cmd = isolated(lambda_bin());
        cmd.env("AWS_LAMBDA_RUNTIME_API", &api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "sesctl-rotation")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", region)
            .env("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
            .env("AWS_ENDPOINT_URL", aws_url)
            .env("AWS_MAX_ATTEMPTS", "2");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(logs.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(logs.path().join("stderr")).unwrap())
            .spawn()
            .expect("start the rotation function");
        Function { runtime, child, logs }
    }

    /// Invokes one step as Secrets Manager does; `Ok(response)` or `Err(the error the function posted)`.
    pub fn invoke(&self, step: &str, secret: &str, token: &str) -> Result<Value, Value> {
        let event = json!({"Step": step, "SecretId": secret, "ClientRequestToken": token});
        let (status, body) = http(
            "POST",
            &format!("{}/__test/invoke?timeout_ms=180000", self.runtime.url),
            &event.to_string(),
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        match v["status"].as_str() {
            Some("ok") => Ok(v["response"].clone()),
            Some("error") => Err(v["error"].clone()),
            other => panic!("the function did not answer {step}: {other:?} ({})", self.logs()),
        }
    }

    /// The four steps in order, stopping at the first error.
    pub fn rotate(&self, secret: &str, token: &str) -> Result<(), Value> {
        for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
            self.invoke(step, secret, token)?;
        }
        Ok(())
    }

    /// The runtime server's counters (first poll time, invocations).
    pub fn stats(&self) -> Value {
        let (_, body) = http("GET", &format!("{}/__test/stats", self.runtime.url), "").unwrap();
        serde_json::from_str(&body).unwrap()
    }

    /// Everything the function wrote (stdout, then stderr).
    pub fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.logs.path().join(f)).unwrap_or_default();
        format!("{}{}", read("stdout"), read("stderr"))
    }

    /// The JSON step lines on stdout.
    pub fn step_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.logs.path().join("stdout"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What Secrets Manager does when a rotation starts: a version with `token`, staged AWSPENDING,
/// with no value (RotateSecret of [`super::Moto::rotating`]; see the module doc).
pub fn start_rotation(aws_url: &str, region: &str, secret: &str) -> String {
    let token = uuid::Uuid::new_v4().to_string();
    block_on(
        super::secretsmanager(aws_url, region)
            .rotate_secret()
            .secret_id(secret)
            .client_request_token(&token)
            .send(),
    )
    .expect("moto starts the rotation");
    token
}
