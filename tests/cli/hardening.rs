//! Paths that used to lose a credential or misreport what they left (hardening, second pass), each
//! through the binary against moto and the fault proxy.

use serde_json::json;

use crate::support::{self, block_on, prefix, FaultProxy, Moto, Sesctl};

const REGION: &str = "eu-west-1";

fn access_keys(url: &str, user: &str) -> Vec<(String, String)> {
    let out = block_on(support::iam(url).list_access_keys().user_name(user).send()).unwrap();
    out.access_key_metadata()
        .iter()
        .map(|k| {
            (
                k.access_key_id().unwrap_or_default().to_string(),
                k.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

/// A user with a credential in a secret, made by `sesctl create-user`.
fn user_with_secret(moto: &Moto, test: &str) -> (String, String) {
    let p = prefix(test);
    let (user, secret) = (format!("{p}-user"), format!("smtp/{p}"));
    Sesctl::at(&moto.url)
        .args(["create-user", &user, "--region", REGION, "--secret-name", &secret])
        .run()
        .assert_ok();
    (user, secret)
}

#[test]
fn a_rollback_that_cannot_delete_an_unstored_key_says_its_secret_was_never_stored() {
    let moto = Moto::dedicated();
    let (user, secret) = user_with_secret(&moto, "orphanreport");
    let before: Vec<String> = access_keys(&moto.url, &user)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([
        {"action": "PutSecretValue", "fault": "error"},
        {"action": "DeleteAccessKey", "fault": "error"}
    ]));
    let run = Sesctl::at(&proxy.url)
        .args(["rotate", &user, "--secret-name", &secret, "--region", REGION])
        .run();
    run.assert_code(1);
    let orphan = access_keys(&moto.url, &user)
        .into_iter()
        .map(|(k, _)| k)
        .find(|k| !before.contains(k))
        .expect("the undeletable new key is still there");
    assert!(!run.stderr.contains("nothing is lost"), "{}", run.stderr);
    assert!(
        run.stderr.contains("its secret was never stored"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "aws iam delete-access-key --user-name {user} --access-key-id {orphan}"
        )),
        "names the one command that cleans it: {}",
        run.stderr
    );
    // That command does clean it, and a rotation then runs.
    block_on(
        support::iam(&moto.url)
            .delete_access_key()
            .user_name(&user)
            .access_key_id(&orphan)
            .send(),
    )
    .unwrap();
    Sesctl::at(&moto.url)
        .args(["rotate", &user, "--secret-name", &secret, "--region", REGION])
        .run()
        .assert_ok();
}
