//! The crate's AWS client builder against a real moto server: endpoint override, IAM's us-east-1
//! signing fallback, and error classification.

use sesctl::aws::{Aws, AwsOptions, ErrorKind};

use crate::support::{self, block_on, moto, prefix};

fn options(endpoint: &str) -> AwsOptions {
    AwsOptions {
        endpoint_url: Some(endpoint.to_string()),
        attempt_timeout: std::time::Duration::from_secs(10),
        max_attempts: Some(1),
        ..AwsOptions::default()
    }
}

#[test]
fn iam_reads_through_the_endpoint_url_with_no_region_configured() {
    support::library_env();
    let moto = moto();
    let name = prefix("iamread");
    // Created through the SDK directly, read through sesctl's client.
    block_on(support::iam(&moto.url).create_user().user_name(&name).send()).unwrap();
    let aws = block_on(Aws::load(&options(&moto.url)));
    assert_eq!(aws.region(), None, "the test environment sets no region");
    let user = block_on(aws.iam().get_user(&name))
        .unwrap()
        .expect("the user exists");
    assert_eq!(user.name, name);
    assert!(user.arn.ends_with(&format!(":user/{name}")), "{}", user.arn);
    assert!(block_on(aws.iam().get_user(&format!("{name}-missing")))
        .unwrap()
        .is_none());
}

#[test]
fn an_unreachable_endpoint_is_a_network_error_naming_the_action() {
    support::library_env();
    let port = support::free_port();
    let aws = block_on(Aws::load(&options(&format!("http://127.0.0.1:{port}"))));
    let err = block_on(aws.iam().get_user("anyone")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Network, "{err}");
    assert!(err.to_string().starts_with("iam:GetUser failed"), "{err}");
}

#[test]
fn injected_faults_are_classified() {
    support::library_env();
    let moto = moto();
    let proxy = support::FaultProxy::start(moto);
    proxy.set_rules(serde_json::json!([
        {"action": "GetUser", "fault": "throttle", "match": "throttled"},
        {"action": "GetUser", "fault": "error", "code": "AccessDenied", "status": 403, "match": "denied"},
    ]));
    let aws = block_on(Aws::load(&options(&proxy.url)));
    let err = block_on(aws.iam().get_user("throttled")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
    let err = block_on(aws.iam().get_user("denied")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccessDenied, "{err}");
    assert!(
        err.to_string().contains("needs permission for iam:GetUser"),
        "{err}"
    );
    let log = proxy.log();
    assert_eq!(log.len(), 2, "{log:?}");
}
