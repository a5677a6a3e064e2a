//! `sesctl setup` against real services on loopback. The group and policy names are fixed account-wide,
//! so every test here has a moto server of its own; a fault proxy in front of it logs which API calls
//! were made.

use crate::support::{self, block_on, changes, stderr_lines, FaultProxy, Moto, Sesctl};

const GROUP: &str = "AWSSESSendingGroupDoNotRename";
const POLICY: &str = "AmazonSesSendingAccess";
const POLICY_ARN: &str = "arn:aws:iam::123456789012:policy/AmazonSesSendingAccess";
const SEND_RAW: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}"#;
const SEND_ONLY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendEmail","Resource":"*"}]}"#;

struct Account {
    iam: aws_sdk_iam::Client,
    _moto: Moto,
    proxy: FaultProxy,
}

fn account() -> Account {
    let moto = Moto::dedicated();
    let proxy = FaultProxy::start(&moto);
    Account {
        iam: support::iam(&moto.url),
        _moto: moto,
        proxy,
    }
}

impl Account {
    fn setup(&self, args: &[&str]) -> support::Run {
        Sesctl::at(&self.proxy.url).arg_list(&["setup"], args).run()
    }

    fn group_exists(&self) -> bool {
        block_on(self.iam.get_group().group_name(GROUP).send()).is_ok()
    }

    fn attached(&self) -> Vec<String> {
        block_on(self.iam.list_attached_group_policies().group_name(GROUP).send())
            .map(|o| {
                o.attached_policies()
                    .iter()
                    .map(|p| p.policy_arn().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn inline(&self) -> Vec<String> {
        block_on(self.iam.list_group_policies().group_name(GROUP).send())
            .map(|o| o.policy_names().to_vec())
            .unwrap_or_default()
    }

    fn local_policies(&self) -> Vec<String> {
        block_on(
            self.iam
                .list_policies()
                .scope(aws_sdk_iam::types::PolicyScopeType::Local)
                .send(),
        )
        .unwrap()
        .policies()
        .iter()
        .map(|p| p.policy_name().unwrap_or_default().to_string())
        .collect()
    }

    fn policy_document(&self) -> String {
        let p = block_on(self.iam.get_policy().policy_arn(POLICY_ARN).send()).unwrap();
        let v = p.policy().unwrap().default_version_id().unwrap().to_string();
        let doc = block_on(
            self.iam
                .get_policy_version()
                .policy_arn(POLICY_ARN)
                .version_id(v)
                .send(),
        )
        .unwrap();
        let raw = doc.policy_version().unwrap().document().unwrap().to_string();
        percent_encoding::percent_decode_str(&raw)
            .decode_utf8_lossy()
            .into_owned()
    }
}

trait ArgList {
    fn arg_list(self, a: &[&str], b: &[&str]) -> Self;
}

impl ArgList for Sesctl {
    fn arg_list(self, a: &[&str], b: &[&str]) -> Self {
        self.args(a.iter().chain(b.iter()))
    }
}

#[test]
fn setup_creates_what_is_missing_and_a_second_run_changes_nothing() {
    let acct = account();
    let run = acct.setup(&["-o", "json"]);
    run.assert_ok();
    let report = run.json();
    assert_eq!(report["form"], "managed");
    assert_eq!(report["changes"].as_array().unwrap().len(), 3, "{report}");
    assert!(acct.group_exists());
    assert_eq!(acct.attached(), [POLICY_ARN]);
    let doc: serde_json::Value = serde_json::from_str(&acct.policy_document()).unwrap();
    assert_eq!(doc["Statement"][0]["Action"], "ses:SendRawEmail");
    assert_eq!(doc["Statement"][0]["Resource"], "*");
    let first = changes(&acct.proxy.actions());
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(sorted, ["AttachGroupPolicy", "CreateGroup", "CreatePolicy"]);
    assert_eq!(
        first.last().unwrap(),
        "AttachGroupPolicy",
        "attached last: {first:?}"
    );

    acct.proxy.reset();
    let run = acct.setup(&[]);
    run.assert_ok();
    assert!(run.stdout.contains("Nothing changed"), "{}", run.stdout);
    assert_eq!(changes(&acct.proxy.actions()), Vec::<String>::new());
    assert_eq!(acct.attached(), [POLICY_ARN]);
    assert_eq!(acct.local_policies(), [POLICY]);
}

#[test]
fn the_consoles_inline_group_policy_counts_as_done_and_nothing_is_added_beside_it() {
    let acct = account();
    block_on(acct.iam.create_group().group_name(GROUP).send()).unwrap();
    block_on(
        acct.iam
            .put_group_policy()
            .group_name(GROUP)
            .policy_name(POLICY)
            .policy_document(SEND_RAW)
            .send(),
    )
    .unwrap();
    let run = acct.setup(&["-o", "json"]);
    run.assert_ok();
    assert_eq!(run.json()["form"], "inline");
    assert_eq!(run.json()["changes"], serde_json::json!([]));
    assert_eq!(changes(&acct.proxy.actions()), Vec::<String>::new());
    assert!(acct.attached().is_empty(), "{:?}", acct.attached());
    assert!(acct.local_policies().is_empty(), "{:?}", acct.local_policies());
    assert_eq!(acct.inline(), [POLICY]);
    // The dry run says so too.
    let run = acct.setup(&["--dry-run"]);
    run.assert_ok();
    assert!(run.stdout.contains("nothing to change"), "{}", run.stdout);
    assert!(run.stdout.contains("inline policy"), "{}", run.stdout);
}

#[test]
fn a_managed_policy_of_that_name_without_send_raw_email_is_an_error_naming_it() {
    let acct = account();
    block_on(
        acct.iam
            .create_policy()
            .policy_name(POLICY)
            .policy_document(SEND_ONLY)
            .send(),
    )
    .unwrap();
    let run = acct.setup(&[]);
    run.assert_code(1);
    assert!(run.stderr.contains(POLICY_ARN), "{}", run.stderr);
    assert!(run.stderr.contains("ses:SendRawEmail"), "{}", run.stderr);
    assert_eq!(stderr_lines(&run).len(), 1, "{}", run.stderr);
    assert_eq!(changes(&acct.proxy.actions()), Vec::<String>::new());
    assert!(!acct.group_exists());
}

#[test]
fn an_inline_group_policy_of_that_name_without_send_raw_email_is_an_error_naming_it() {
    let acct = account();
    block_on(acct.iam.create_group().group_name(GROUP).send()).unwrap();
    block_on(
        acct.iam
            .put_group_policy()
            .group_name(GROUP)
            .policy_name(POLICY)
            .policy_document(SEND_ONLY)
            .send(),
    )
    .unwrap();
    let run = acct.setup(&[]);
    run.assert_code(1);
    assert!(run.stderr.contains(POLICY), "{}", run.stderr);
    assert!(run.stderr.contains(GROUP), "{}", run.stderr);
    assert!(run.stderr.contains("ses:SendRawEmail"), "{}", run.stderr);
    assert_eq!(changes(&acct.proxy.actions()), Vec::<String>::new());
    assert!(acct.attached().is_empty());
    assert!(acct.local_policies().is_empty());
}

#[test]
fn only_the_missing_attachment_is_made_when_group_and_policy_exist() {
    let acct = account();
    block_on(acct.iam.create_group().group_name(GROUP).send()).unwrap();
    block_on(
        acct.iam
            .create_policy()
            .policy_name(POLICY)
            .policy_document(SEND_RAW)
            .send(),
    )
    .unwrap();
    acct.setup(&[]).assert_ok();
    assert_eq!(changes(&acct.proxy.actions()), ["AttachGroupPolicy"]);
    assert_eq!(acct.attached(), [POLICY_ARN]);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let acct = account();
    let run = acct.setup(&["--dry-run"]);
    run.assert_ok();
    for expected in [
        "iam:CreatePolicy",
        "iam:CreateGroup",
        "iam:AttachGroupPolicy",
        GROUP,
        POLICY_ARN,
    ] {
        assert!(run.stdout.contains(expected), "{expected}: {}", run.stdout);
    }
    assert_eq!(changes(&acct.proxy.actions()), Vec::<String>::new());
    assert!(!acct.group_exists());
    assert!(acct.local_policies().is_empty());
    let run = acct.setup(&["--dry-run", "-o", "json"]);
    run.assert_ok();
    assert_eq!(run.json()["calls"].as_array().unwrap().len(), 3);
}
