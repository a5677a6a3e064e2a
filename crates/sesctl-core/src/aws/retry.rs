//! How sesctl retries AWS calls, with the SDK's own machinery:
//!
//! - **Adaptive retry mode** by default: besides the standard mode's backoff, the SDK keeps a
//!   client-side token bucket per service, shared by every task of the run, that slows the sending
//!   rate when the service answers `Throttling` and raises it again (CUBIC) while calls succeed. A run
//!   of many concurrent calls then settles just under the account's rate limit instead of spending
//!   its attempts on refused calls. `AWS_RETRY_MODE` (or the profile's `retry_mode`) still chooses.
//! - **More attempts for throttling only** ([`ThrottlingRetries`]): unless an attempt count is
//!   configured, a call refused with a throttling error may be tried up to [`THROTTLING_ATTEMPTS`]
//!   times, and any other failure 3 times (the SDK's default). A throttled call was not carried out,
//!   so trying it again is safe even for writes. A configured count (`--max-attempts`,
//!   `AWS_MAX_ATTEMPTS`, the profile's `max_attempts`) is the limit for every failure, throttling
//!   included, and an operation that turns retries off keeps one attempt. Every attempt still has
//!   `--api-timeout`, and the SDK's backoff between attempts is bounded, so nothing waits forever.

use aws_config::retry::{RetryConfig, RetryMode};
use aws_config::SdkConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction, RetryReason};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::retry::ErrorKind as RetryErrorKind;
use aws_types::origin::Origin;
use aws_types::service_config::ServiceConfigKey;

/// Attempts a throttled call may take (the first included) when more than one attempt is allowed.
pub const THROTTLING_ATTEMPTS: u32 = 10;

/// The attempts a throttled call may take when other failures may take `attempts` and no attempt
/// count was configured.
pub fn throttling_attempts(attempts: u32) -> u32 {
    if attempts <= 1 {
        attempts
    } else {
        attempts.max(THROTTLING_ATTEMPTS)
    }
}

/// Where [`apply`] records that the attempt count was configured (the SDK's origin map of settings).
const ATTEMPTS_SETTING: &str = "sesctl_max_attempts";

/// Whether the environment or the profile sets `env` / `profile` (`AWS_RETRY_MODE` / `retry_mode`,
/// `AWS_MAX_ATTEMPTS` / `max_attempts`).
fn configured(config: &SdkConfig, env: &str, profile: &str) -> bool {
    let Ok(key) = ServiceConfigKey::builder()
        .service_id("iam")
        .env(env)
        .profile(profile)
        .build()
    else {
        return false;
    };
    config.service_config().and_then(|c| c.load_config(key)).is_some()
}

/// The retry configuration of a run: the one the SDK resolved from the environment and the profile
/// (attempts, mode, retry behaviour version), in adaptive mode unless a mode was configured, with
/// `max_attempts` (the `--max-attempts` flag) over the resolved attempts.
pub fn settings(config: &SdkConfig, max_attempts: Option<u32>) -> RetryConfig {
    let resolved = config
        .retry_config()
        .cloned()
        .unwrap_or_else(RetryConfig::standard);
    let mut retry = if configured(config, "AWS_RETRY_MODE", "retry_mode") {
        resolved
    } else {
        resolved.with_retry_mode(RetryMode::Adaptive)
    };
    if let Some(attempts) = max_attempts {
        retry = retry.with_max_attempts(attempts);
    }
    retry
}

/// `config` with the run's retry configuration ([`settings`]), noting whether the attempt count was
/// configured (then [`ThrottlingRetries`] leaves it as it is).
pub fn apply(config: SdkConfig, max_attempts: Option<u32>) -> SdkConfig {
    let retry = settings(&config, max_attempts);
    let explicit = max_attempts.is_some() || configured(&config, "AWS_MAX_ATTEMPTS", "max_attempts");
    let mut builder = config.to_builder().retry_config(retry);
    if explicit {
        builder.insert_origin(ATTEMPTS_SETTING, Origin::shared_config());
    }
    builder.build()
}

/// The attempts an operation was configured with, kept on its first attempt.
#[derive(Debug, Clone, Copy)]
struct ConfiguredAttempts(u32);

impl Storable for ConfiguredAttempts {
    type Storer = StoreReplace<Self>;
}

/// Gives throttled calls more attempts than other failures: after each attempt it classifies the
/// result with the client's own retry classifiers and sets the operation's attempt limit to
/// [`throttling_attempts`] after a throttling error, and back to the configured attempts after
/// anything else. The SDK's retry strategy reads that limit when it decides whether to try again.
/// With an attempt count configured it changes nothing.
#[derive(Debug, Default)]
pub struct ThrottlingRetries {
    active: bool,
}

impl ThrottlingRetries {
    /// For the clients of `config` (as [`apply`] left it).
    pub fn for_config(config: &SdkConfig) -> Self {
        ThrottlingRetries {
            active: !config.get_origin(ATTEMPTS_SETTING).is_client_config(),
        }
    }
}

impl Intercept for ThrottlingRetries {
    fn name(&self) -> &'static str {
        "ThrottlingRetries"
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !self.active {
            return Ok(());
        }
        let Some(current) = cfg.load::<RetryConfig>().cloned() else {
            return Ok(());
        };
        let configured = match cfg.load::<ConfiguredAttempts>() {
            Some(c) => c.0,
            None => {
                let c = current.max_attempts();
                cfg.interceptor_state().store_put(ConfiguredAttempts(c));
                c
            }
        };
        let ctx = context.inner();
        let mut action = RetryAction::NoActionIndicated;
        for classifier in runtime_components.retry_classifiers() {
            let next = classifier.classify_retry_v2(ctx, &action);
            if next == RetryAction::NoActionIndicated {
                continue;
            }
            action = next;
            if action == RetryAction::RetryForbidden {
                break;
            }
        }
        let throttled = matches!(
            action,
            RetryAction::RetryIndicated(RetryReason::RetryableError {
                kind: RetryErrorKind::ThrottlingError,
                ..
            })
        );
        let limit = if throttled {
            throttling_attempts(configured)
        } else {
            configured
        };
        if limit != current.max_attempts() {
            cfg.interceptor_state()
                .store_put(current.with_max_attempts(limit));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_gets_more_attempts_unless_retries_are_off() {
        assert_eq!(throttling_attempts(1), 1);
        assert_eq!(throttling_attempts(2), THROTTLING_ATTEMPTS);
        assert_eq!(throttling_attempts(3), THROTTLING_ATTEMPTS);
        assert_eq!(throttling_attempts(15), 15);
    }

    #[test]
    fn adaptive_unless_a_mode_is_configured_and_the_flag_sets_attempts() {
        let config = SdkConfig::builder()
            .retry_config(RetryConfig::standard().with_max_attempts(4))
            .build();
        let r = settings(&config, None);
        assert_eq!((r.mode(), r.max_attempts()), (RetryMode::Adaptive, 4));
        let r = settings(&config, Some(7));
        assert_eq!((r.mode(), r.max_attempts()), (RetryMode::Adaptive, 7));
        // A configured count turns the extra throttling attempts off.
        assert!(ThrottlingRetries::for_config(&apply(config.clone(), None)).active);
        assert!(!ThrottlingRetries::for_config(&apply(config, Some(3))).active);
    }
}
