//! `sesctl delete-user` against real services on loopback, state read back through the raw SDK.

use serde_json::json;

use crate::support::fixtures::{self, user_exists};
use crate::support::{self, block_on, moto, prefix, FaultProxy, Sesctl};

const GROUP: &str = "AWSSESSendingGroupDoNotRename";
const SEND: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}"#;
const SSH_KEY: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDZ3DZ9iR4TjA2Xz3WO0mJ3cT0mWc3jS9m1i0gDEVgW8Xf2eY5t2lH0QeQ2m9T0F5P1bYlCqU4t5k8H3g4mF1l7W6ZyT2o0Vb6p8nY6pX9c1c1qAq1R1o1aQ9bqKjVw0G8Gv3jWw9Vq8I2nQkO8Nn1c8sN9YwQ5o5Kx3wF6Zb5QyQ4aQq0S6v7Yw8c9d0e1f2g3h4i5j6k7l8m9n0o1p2q3r4s5t6u7v8w9x0y1z2A3B4C5D6E7F8G9H0I1J2K3L4M5N6O7P8Q9R0S1T2U3V4W5X6Y7Z8a9b0c1d2e3f4g5h6i7j8k9l0m1n2o3p4q5r6s7t8u9v0w1x2y3z4 test@example";

fn group_member(iam: &aws_sdk_iam::Client, name: &str) {
    block_on(async {
        let _ = iam.create_group().group_name(GROUP).send().await;
        iam.create_user().user_name(name).send().await.unwrap();
        iam.add_user_to_group()
            .group_name(GROUP)
            .user_name(name)
            .send()
            .await
            .unwrap();
        iam.create_access_key().user_name(name).send().await.unwrap();
    });
}

#[test]
fn removes_everything_that_blocks_deletion_then_the_user() {
    let moto = moto();
    let iam = support::iam(&moto.url);
    let name = prefix("delall");
    group_member(&iam, &name);
    let mfa_serial = block_on(async {
        iam.create_access_key().user_name(&name).send().await.unwrap();
        iam.put_user_policy()
            .user_name(&name)
            .policy_name("AmazonSesSendingAccess")
            .policy_document(SEND)
            .send()
            .await
            .unwrap();
        let arn = iam
            .create_policy()
            .policy_name(format!("{name}-p"))
            .policy_document(SEND)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap()
            .arn
            .unwrap();
        iam.attach_user_policy()
            .user_name(&name)
            .policy_arn(&arn)
            .send()
            .await
            .unwrap();
        iam.create_login_profile()
            .user_name(&name)
            .password("Correct-Horse-9")
            .send()
            .await
            .unwrap();
        iam.upload_ssh_public_key()
            .user_name(&name)
            .ssh_public_key_body(SSH_KEY)
            .send()
            .await
            .unwrap();
        let serial = iam
            .create_virtual_mfa_device()
            .virtual_mfa_device_name(&name)
            .send()
            .await
            .unwrap()
            .virtual_mfa_device
            .unwrap()
            .serial_number;
        iam.enable_mfa_device()
            .user_name(&name)
            .serial_number(&serial)
            .authentication_code1("123456")
            .authentication_code2("654321")
            .send()
            .await
            .unwrap();
        serial
    });

    let run = Sesctl::at(&moto.url)
        .args(["delete-user", &name, "--yes", "-o", "json"])
        .run();
    run.assert_ok();
    let v = run.json();
    assert_eq!(v["deleted"], true);
    let actions: Vec<&str> = v["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "iam:DeleteAccessKey",
            "iam:DeleteAccessKey",
            "iam:DeleteLoginProfile",
            "iam:DeleteSSHPublicKey",
            "iam:DeactivateMFADevice",
            "iam:DeleteVirtualMFADevice",
            "iam:DeleteUserPolicy",
            "iam:DetachUserPolicy",
            "iam:RemoveUserFromGroup",
            "iam:DeleteUser",
        ]
    );
    assert!(!user_exists(&moto.url, &name));
    let devices = block_on(iam.list_virtual_mfa_devices().send()).unwrap();
    assert!(
        devices
            .virtual_mfa_devices()
            .iter()
            .all(|d| d.serial_number() != mfa_serial),
        "the virtual MFA device is gone too"
    );
    // moto cannot list service-specific credentials; the run says so rather than hiding it.
    assert!(
        v["notes"][0]
            .as_str()
            .unwrap()
            .contains("service-specific credentials could not be listed"),
        "{v}"
    );
}

#[test]
fn refuses_a_user_that_is_not_an_smtp_user_unless_forced() {
    let moto = moto();
    let iam = support::iam(&moto.url);
    let name = prefix("delplain");
    block_on(async {
        iam.create_user().user_name(&name).send().await.unwrap();
        iam.create_access_key().user_name(&name).send().await.unwrap();
    });
    let run = Sesctl::at(&moto.url).args(["delete-user", &name, "--yes"]).run();
    run.assert_code(2);
    assert!(
        run.stderr.contains("not an SMTP user") && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    assert!(user_exists(&moto.url, &name));

    Sesctl::at(&moto.url)
        .args(["delete-user", &name, "--yes", "--force"])
        .run()
        .assert_ok();
    assert!(!user_exists(&moto.url, &name));
}

#[test]
fn a_user_granted_sending_by_an_attached_policy_counts_as_smtp_user() {
    let moto = moto();
    let iam = support::iam(&moto.url);
    let name = prefix("delattached");
    block_on(async {
        iam.create_user().user_name(&name).send().await.unwrap();
        let arn = iam
            .create_policy()
            .policy_name(format!("{name}-send"))
            .policy_document(SEND)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap()
            .arn
            .unwrap();
        iam.attach_user_policy()
            .user_name(&name)
            .policy_arn(arn)
            .send()
            .await
            .unwrap();
    });
    let run = Sesctl::at(&moto.url)
        .args(["delete-user", &name, "--dry-run"])
        .run();
    run.assert_ok();
    assert!(
        run.stdout.contains("is an SMTP user (attached policy"),
        "{}",
        run.stdout
    );
}

#[test]
fn needs_confirmation_and_dry_run_changes_nothing() {
    let moto = moto();
    let iam = support::iam(&moto.url);
    let name = prefix("delconfirm");
    group_member(&iam, &name);

    let run = Sesctl::at(&moto.url).args(["delete-user", &name]).run();
    run.assert_code(2);
    assert!(run.stderr.contains("pass --yes"), "{}", run.stderr);

    let run = Sesctl::at(&moto.url)
        .args(["delete-user", &name, "--dry-run"])
        .run();
    run.assert_ok();
    assert!(run.stdout.contains("iam:DeleteAccessKey"), "{}", run.stdout);
    assert!(run.stdout.contains("iam:RemoveUserFromGroup"), "{}", run.stdout);
    assert!(run.stdout.contains("iam:DeleteUser"), "{}", run.stdout);
    assert!(user_exists(&moto.url, &name));
    let keys = block_on(iam.list_access_keys().user_name(&name).send()).unwrap();
    assert_eq!(keys.access_key_metadata().len(), 1);
}

#[test]
fn missing_user_and_bad_name() {
    let moto = moto();
    let run = Sesctl::at(&moto.url)
        .args(["delete-user", &prefix("nobody"), "--yes"])
        .run();
    run.assert_code(1);
    assert!(
        run.stderr.contains("there is no IAM user named"),
        "{}",
        run.stderr
    );
    Sesctl::at(&moto.url)
        .args(["delete-user", "bad name!", "--yes"])
        .run()
        .assert_code(2);
}

/// A secret in sesctl's format naming `user`, with a made-up key and password.
fn secret_for(user: &str) -> String {
    fixtures::credential_json(user, "AKIAEXAMPLE", "not-a-real-password", "us-east-1").to_string()
}

#[test]
fn schedules_the_secret_for_deletion_with_the_recovery_window() {
    let moto = moto();
    let iam = support::iam(&moto.url);
    let sm = support::secretsmanager(&moto.url, "us-east-1");
    let name = prefix("delsecret");
    group_member(&iam, &name);
    let secret = format!("smtp/{name}");
    block_on(
        sm.create_secret()
            .name(&secret)
            .secret_string(secret_for(&name))
            .send(),
    )
    .unwrap();

    let run = Sesctl::at(&moto.url)
        .args(["delete-user", &name, "--yes", "--region", "us-east-1"])
        .args(["--secret-name", &secret, "--recovery-window-days", "7"])
        .run();
    run.assert_ok();
    assert!(!run.all_output().contains("not-a-real-password"));
    assert!(!user_exists(&moto.url, &name));
    let d = block_on(sm.describe_secret().secret_id(&secret).send()).unwrap();
    let deleted = d.deleted_date().expect("scheduled for deletion");
    let days = (deleted.secs() - chrono::Utc::now().timestamp()) as f64 / 86400.0;
    assert!((6.9..7.1).contains(&days), "recovery window {days} days");
}

#[test]
fn refuses_a_secret_that_belongs_to_another_user_before_any_change() {
    let moto = moto();
    let iam = support::iam(&moto.url);
    let sm = support::secretsmanager(&moto.url, "us-east-1");
    let name = prefix("delwrongsecret");
    group_member(&iam, &name);
    let secret = format!("smtp/{name}");
    block_on(
        sm.create_secret()
            .name(&secret)
            .secret_string(secret_for("someone-else"))
            .send(),
    )
    .unwrap();
    let run = Sesctl::at(&moto.url)
        .args([
            "delete-user",
            &name,
            "--yes",
            "--region",
            "us-east-1",
            "--secret-name",
            &secret,
        ])
        .run();
    run.assert_code(2);
    assert!(run.stderr.contains("someone-else"), "{}", run.stderr);
    assert!(user_exists(&moto.url, &name));
    let d = block_on(sm.describe_secret().secret_id(&secret).send()).unwrap();
    assert!(d.deleted_date().is_none());

    let run = Sesctl::at(&moto.url)
        .args(["delete-user", &name, "--yes", "--region", "us-east-1"])
        .args(["--secret-name", &format!("{secret}-missing")])
        .run();
    run.assert_code(1);
    assert!(run.stderr.contains("there is no secret"), "{}", run.stderr);
    assert!(user_exists(&moto.url, &name));
}

#[test]
fn a_failure_half_way_says_what_was_done_and_a_rerun_finishes() {
    let moto = moto();
    let iam = support::iam(&moto.url);
    let name = prefix("delfail");
    group_member(&iam, &name);
    let proxy = FaultProxy::start(moto);
    proxy.set_rules(json!([
        {"action": "DeleteUser", "fault": "error", "status": 409, "code": "DeleteConflict",
         "message": "Cannot delete entity, must delete MFA device first."},
    ]));
    let run = Sesctl::at(&proxy.url).args(["delete-user", &name, "--yes"]).run();
    run.assert_code(1);
    assert!(
        run.stderr.contains("stopped at iam:DeleteUser") && run.stderr.contains("run the same command again"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("DeleteConflict"), "{}", run.stderr);
    assert!(user_exists(&moto.url, &name));
    let keys = block_on(iam.list_access_keys().user_name(&name).send()).unwrap();
    assert!(keys.access_key_metadata().is_empty(), "the key went first");

    // The membership is gone too, so it is no longer recognisably an SMTP user: --force to finish.
    proxy.set_rules(json!([]));
    Sesctl::at(&proxy.url)
        .args(["delete-user", &name, "--yes", "--force"])
        .run()
        .assert_ok();
    assert!(!user_exists(&moto.url, &name));
}
