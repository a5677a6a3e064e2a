//! The AWS CLI's conventions that the SDK's loader does not follow by itself, resolved before any AWS
//! call:
//!
//! - an explicit profile (`--profile`, else `AWS_PROFILE`) wins over keys in the environment, and a
//!   profile that does not exist is an error naming it ("The config profile (x) could not be found");
//! - `AWS_CA_BUNDLE`, else the profile's `ca_bundle`, is the trust store for AWS calls;
//! - the config file's `[services]` section applies to every service sesctl calls (the SDK reads
//!   Secrets Manager's entry under a key no other tool writes), and `--endpoint-url` wins over all;
//! - the credential chain runs once per command: a `credential_process` helper (which may prompt for
//!   MFA) is not asked again by each client or by the up-front credentials check.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::profile::ProfileSet;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::os_shim_internal::{Env, Fs};

use super::AwsOptions;
use crate::validate::InvalidInput;

/// The services sesctl calls, with their names in `AWS_ENDPOINT_URL_<SERVICE>` and in the config
/// file's `[services]` section (the AWS SDKs' shared table; `secrets-manager` is what the Rust SDK
/// itself looks for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Iam,
    Sts,
    SecretsManager,
}

impl Service {
    fn env_suffix(self) -> &'static str {
        match self {
            Service::Iam => "IAM",
            Service::Sts => "STS",
            Service::SecretsManager => "SECRETS_MANAGER",
        }
    }

    fn config_keys(self) -> &'static [&'static str] {
        match self {
            Service::Iam => &["iam"],
            Service::Sts => &["sts"],
            Service::SecretsManager => &["secrets_manager", "secrets-manager"],
        }
    }
}

/// What named the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileSource {
    /// The front end's own setting ([`AwsOptions::profile`], the `flag` of [`checked_profiles`]).
    Setting,
    /// `AWS_PROFILE`.
    Environment,
}

impl fmt::Display for ProfileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProfileSource::Setting => "the profile setting",
            ProfileSource::Environment => "AWS_PROFILE",
        })
    }
}

/// What is wrong with a CA bundle.
#[derive(Debug)]
pub enum CaBundleProblem {
    /// The file could not be read (the source).
    Unreadable(std::io::Error),
    /// The file is not PEM (the source).
    NotPem(std::io::Error),
    /// The file holds no certificate a trust store accepts.
    NoCertificate,
}

/// A setting of how to reach AWS that cannot be used, found before any AWS call. All of them are bad
/// input: a front end asks for it to be fixed rather than going on without it.
#[derive(Debug)]
pub enum ConventionsError {
    /// The profile files could not be read, and a profile is named.
    ProfileUnreadable {
        profile: String,
        named_by: ProfileSource,
        error: String,
    },
    /// The named profile is in neither profile file.
    ProfileNotFound {
        profile: String,
        named_by: ProfileSource,
        config_file: String,
        credentials_file: String,
    },
    /// A CA bundle that cannot be used; `setting` is `AWS_CA_BUNDLE` or the profile's `ca_bundle`.
    CaBundle {
        setting: &'static str,
        path: String,
        problem: CaBundleProblem,
    },
    /// An endpoint URL in the config file that is not one; `setting` says where it is.
    EndpointUrl { setting: String, error: InvalidInput },
}

impl fmt::Display for ConventionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConventionsError::ProfileUnreadable {
                profile,
                named_by,
                error,
            } => write!(
                f,
                "the config profile ({profile}) given by {named_by} could not be read: {error}"
            ),
            ConventionsError::ProfileNotFound {
                profile,
                named_by,
                config_file,
                credentials_file,
            } => write!(
                f,
                "the config profile ({profile}) could not be found: {named_by} names it, but neither \
                 {config_file} ([profile {profile}]) nor {credentials_file} ([{profile}]) has it"
            ),
            ConventionsError::CaBundle {
                setting,
                path,
                problem,
            } => match problem {
                CaBundleProblem::Unreadable(_) => write!(f, "{setting} {path}: could not read it"),
                CaBundleProblem::NotPem(_) => write!(f, "{setting} {path}: not a PEM certificate bundle"),
                CaBundleProblem::NoCertificate => write!(
                    f,
                    "{setting} {path}: no usable PEM certificate (-----BEGIN CERTIFICATE-----) found in it"
                ),
            },
            ConventionsError::EndpointUrl { setting, error } => write!(f, "{setting} {error}"),
        }
    }
}

impl std::error::Error for ConventionsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConventionsError::CaBundle {
                problem: CaBundleProblem::Unreadable(e) | CaBundleProblem::NotPem(e),
                ..
            } => Some(e),
            // The URL's own words are in the message; the parser's error, if any, comes next.
            ConventionsError::EndpointUrl { error, .. } => std::error::Error::source(error),
            _ => None,
        }
    }
}

/// What the conventions decided for one command.
#[derive(Debug, Clone, Default)]
pub struct Conventions {
    /// The profile named by `--profile` or `AWS_PROFILE`: its credentials win over the environment's.
    pub explicit_profile: Option<String>,
    /// Whether it was `--profile` (the environment's keys are then not used at all, as the AWS CLI
    /// does) rather than `AWS_PROFILE` (they are used when the profile itself has no credentials).
    from_flag: bool,
    /// The certificates of `AWS_CA_BUNDLE` / the profile's `ca_bundle` (PEM), with where they came from.
    ca_bundle: Option<(String, Vec<u8>)>,
    iam: Option<String>,
    sts: Option<String>,
    secrets_manager: Option<String>,
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where the config and credentials files are read from, for messages.
fn profile_file_paths() -> (String, String) {
    let home = |rest: &str| format!("~/.aws/{rest}");
    (
        env_var("AWS_CONFIG_FILE").unwrap_or_else(|| home("config")),
        env_var("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|| home("credentials")),
    )
}

impl Conventions {
    /// Resolves the conventions from the options, the environment and the profile files. An unknown
    /// profile, an unreadable CA bundle or an endpoint in the config file that is not a URL is a
    /// [`ConventionsError`].
    pub async fn resolve(options: &AwsOptions) -> Result<Conventions, ConventionsError> {
        let (explicit, profiles) = checked_profiles(options.profile.as_deref()).await?;
        let ca_bundle = match (
            env_var("AWS_CA_BUNDLE"),
            profile_value(profiles.as_ref(), "ca_bundle"),
        ) {
            (Some(path), _) => Some(read_ca_bundle(&path, "AWS_CA_BUNDLE")?),
            (None, Some(path)) => Some(read_ca_bundle(path, "the profile's ca_bundle")?),
            (None, None) => None,
        };
        let endpoint = |service| endpoint_for(service, options, profiles.as_ref());
        Ok(Conventions {
            from_flag: options.profile.is_some(),
            explicit_profile: explicit,
            ca_bundle,
            iam: endpoint(Service::Iam)?,
            sts: endpoint(Service::Sts)?,
            secrets_manager: endpoint(Service::SecretsManager)?,
        })
    }

    /// The endpoint URL for `service`, when anything configures one.
    pub fn endpoint(&self, service: Service) -> Option<&str> {
        match service {
            Service::Iam => self.iam.as_deref(),
            Service::Sts => self.sts.as_deref(),
            Service::SecretsManager => self.secrets_manager.as_deref(),
        }
    }

    /// The HTTP client trusting only the CA bundle, when one is configured.
    pub fn http_client(&self) -> Option<SharedHttpClient> {
        let (source, pem) = self.ca_bundle.as_ref()?;
        tracing::debug!("AWS calls trust the certificates of {source} only");
        Some(https_client(pem.clone()))
    }

    /// The loaded configuration with the credentials this command uses: the explicit profile's chain
    /// (without the environment's keys) or the SDK's default chain, either resolved at most once per
    /// expiry.
    pub fn finish(&self, config: aws_config::SdkConfig) -> aws_config::SdkConfig {
        let provider = match &self.explicit_profile {
            Some(name) => {
                if env_var("AWS_ACCESS_KEY_ID").is_some() {
                    tracing::info!(
                        "profile {name} is named: its credentials come before AWS_ACCESS_KEY_ID in the \
                         environment"
                    );
                }
                Some(SharedCredentialsProvider::new(profile_chain(
                    name,
                    !self.from_flag,
                    &config,
                )))
            }
            None => config.credentials_provider(),
        };
        match provider {
            Some(p) => config
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(ResolveOnce::new(p)))
                .build(),
            None => config,
        }
    }
}

/// The profile named by `--profile` (`flag`), else by `AWS_PROFILE`, and the profile files with it
/// selected. A named profile that is in neither file is an error naming it and the files.
pub async fn checked_profiles(
    flag: Option<&str>,
) -> Result<(Option<String>, Option<ProfileSet>), ConventionsError> {
    let (explicit, from) = match (flag, env_var("AWS_PROFILE")) {
        (Some(p), _) => (Some(p.to_string()), ProfileSource::Setting),
        (None, Some(p)) => (Some(p), ProfileSource::Environment),
        (None, None) => (None, ProfileSource::Setting),
    };
    let profiles = match (load_profiles(explicit.as_deref()).await, &explicit) {
        (Ok(p), _) => Some(p),
        (Err(error), Some(name)) => {
            return Err(ConventionsError::ProfileUnreadable {
                profile: name.clone(),
                named_by: from,
                error,
            })
        }
        (Err(e), None) => {
            tracing::debug!("the AWS config files could not be read: {e}");
            None
        }
    };
    if let Some(name) = &explicit {
        if profiles.as_ref().and_then(|p| p.get_profile(name)).is_none() {
            let (config_file, credentials_file) = profile_file_paths();
            return Err(ConventionsError::ProfileNotFound {
                profile: name.clone(),
                named_by: from,
                config_file,
                credentials_file,
            });
        }
    }
    Ok((explicit, profiles))
}

/// A setting of the selected profile (`--profile`, else `AWS_PROFILE`, else `default`), when the
/// files can be read and have it; no error for a missing profile (see [`checked_profiles`]).
pub async fn profile_setting(flag: Option<&str>, key: &str) -> Option<String> {
    let name = flag.map(str::to_string).or_else(|| env_var("AWS_PROFILE"));
    let profiles = load_profiles(name.as_deref()).await.ok()?;
    profile_value(Some(&profiles), key).map(str::to_string)
}

async fn load_profiles(explicit: Option<&str>) -> Result<ProfileSet, String> {
    #[allow(deprecated)]
    let files = aws_config::profile::profile_file::ProfileFiles::default();
    aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        &files,
        explicit.map(|p| Cow::Owned(p.to_string())),
    )
    .await
    .map_err(|e| e.to_string())
}

fn profile_value<'a>(profiles: Option<&'a ProfileSet>, key: &str) -> Option<&'a str> {
    profiles?.get(key).filter(|v| !v.trim().is_empty())
}

/// The AWS SDKs' order: `--endpoint-url`; `AWS_ENDPOINT_URL_<SERVICE>`; `AWS_ENDPOINT_URL`; the
/// profile's `services` section; the profile's `endpoint_url`. All but the first are skipped with
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` (or the profile's `ignore_configured_endpoint_urls`).
fn endpoint_for(
    service: Service,
    options: &AwsOptions,
    profiles: Option<&ProfileSet>,
) -> Result<Option<String>, ConventionsError> {
    if let Some(url) = &options.endpoint_url {
        return Ok(Some(url.clone()));
    }
    let ignored = env_var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .or_else(|| profile_value(profiles, "ignore_configured_endpoint_urls").map(str::to_string))
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if ignored {
        return Ok(None);
    }
    let service_env = format!("AWS_ENDPOINT_URL_{}", service.env_suffix());
    if let Some(url) = env_var(&service_env).or_else(|| env_var("AWS_ENDPOINT_URL")) {
        return Ok(Some(url));
    }
    let checked = |setting: String, url: &str| {
        crate::validate::endpoint_url(url).map_err(|error| ConventionsError::EndpointUrl { setting, error })
    };
    if let Some((key, url)) = services_entry(service, profiles) {
        checked(format!("the config file's [services] {key} endpoint_url"), &url)?;
        return Ok(Some(url));
    }
    if let Some(url) = profile_value(profiles, "endpoint_url") {
        checked("the profile's endpoint_url".to_string(), url)?;
        return Ok(Some(url.to_string()));
    }
    Ok(None)
}

fn services_entry(service: Service, profiles: Option<&ProfileSet>) -> Option<(String, String)> {
    use aws_runtime::env_config::property::PropertiesKey;
    let profiles = profiles?;
    let section = profiles.get("services")?;
    service.config_keys().iter().find_map(|key| {
        let property = PropertiesKey::builder()
            .section_key("services")
            .section_name(section)
            .property_name(*key)
            .sub_property_name("endpoint_url")
            .build()
            .ok()?;
        let url = profiles.other_sections().get(&property)?;
        Some((format!("{section} {key}"), url.to_string()))
    })
}

/// Reads a CA bundle: the certificates in it that a trust store accepts, as PEM. A bundle that cannot
/// be read or holds no usable certificate is an error naming `source`.
fn read_ca_bundle(path: &str, source: &'static str) -> Result<(String, Vec<u8>), ConventionsError> {
    let bad = |problem| ConventionsError::CaBundle {
        setting: source,
        path: path.to_string(),
        problem,
    };
    let expanded = match (path.strip_prefix("~/"), env_var("HOME")) {
        (Some(rest), Some(home)) => format!("{home}/{rest}"),
        _ => path.to_string(),
    };
    let bytes = std::fs::read(&expanded).map_err(|e| bad(CaBundleProblem::Unreadable(e)))?;
    let mut usable = Vec::new();
    for cert in rustls_pemfile::certs(&mut bytes.as_slice()) {
        let cert = cert.map_err(|e| bad(CaBundleProblem::NotPem(e)))?;
        if rustls::RootCertStore::empty().add(cert.clone()).is_ok() {
            usable.push(cert);
        }
    }
    if usable.is_empty() {
        return Err(bad(CaBundleProblem::NoCertificate));
    }
    use base64::Engine as _;
    let mut pem = String::new();
    for cert in usable {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    Ok((format!("{source} {path}"), pem.into_bytes()))
}

/// The SDK's default HTTPS client (rustls, the environment's proxy settings), trusting `pem` only.
fn https_client(pem: Vec<u8>) -> SharedHttpClient {
    use aws_smithy_http_client::{proxy::ProxyConfig, tls, Builder, ConnectorBuilder};
    let context = tls::TlsContext::builder()
        .with_trust_store(tls::TrustStore::empty().with_pem_certificate(pem))
        .build()
        .unwrap_or_default();
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut builder = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
            .tls_context(context.clone());
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.build()
    })
}

/// The default chain with the named profile first: then (for `AWS_PROFILE` only) the environment's
/// keys, then web identity, the container and instance metadata. For `--profile` the environment's
/// keys are left out, as the AWS CLI leaves them out.
fn profile_chain(name: &str, with_env: bool, config: &aws_config::SdkConfig) -> CredentialsProviderChain {
    use aws_config::{ecs, environment, imds, profile, web_identity_token};
    let mut conf = ProviderConfig::without_region().with_region(config.region().cloned());
    if let Some(http) = config.http_client() {
        conf = conf.with_http_client(http);
    }
    let mut chain = CredentialsProviderChain::first_try(
        "Profile",
        profile::ProfileFileCredentialsProvider::builder()
            .configure(&conf)
            .profile_name(name)
            .build(),
    );
    if with_env {
        chain = chain.or_else(
            "Environment",
            environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    chain
        .or_else(
            "WebIdentityToken",
            web_identity_token::WebIdentityTokenCredentialsProvider::builder()
                .configure(&conf)
                .build(),
        )
        .or_else(
            "EcsContainer",
            ecs::EcsCredentialsProvider::builder().configure(&conf).build(),
        )
        .or_else(
            "Ec2InstanceMetadata",
            imds::credentials::ImdsCredentialsProvider::builder()
                .configure(&conf)
                .build(),
        )
}

/// A credentials provider that asks its inner chain once and hands out the answer until it is about to
/// expire. Every client of one command shares it, and so does the up-front credentials check, so a
/// `credential_process` helper runs once, not once per asker.
#[derive(Debug)]
pub struct ResolveOnce {
    inner: SharedCredentialsProvider,
    last: tokio::sync::Mutex<Option<Credentials>>,
}

/// Credentials this close to their expiry are fetched again.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

impl ResolveOnce {
    pub fn new(inner: SharedCredentialsProvider) -> ResolveOnce {
        ResolveOnce {
            inner,
            last: tokio::sync::Mutex::new(None),
        }
    }

    async fn credentials(&self) -> aws_credential_types::provider::Result {
        let mut last = self.last.lock().await;
        if let Some(creds) = last.as_ref() {
            let fresh = creds
                .expiry()
                .is_none_or(|at| at > SystemTime::now() + REFRESH_BEFORE_EXPIRY);
            if fresh {
                return Ok(creds.clone());
            }
        }
        let creds = self.inner.provide_credentials().await?;
        *last = Some(creds.clone());
        Ok(creds)
    }
}

impl ProvideCredentials for ResolveOnce {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[derive(Debug)]
    struct Counting(Arc<AtomicUsize>, Option<SystemTime>);

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.0.fetch_add(1, Ordering::SeqCst);
            future::ProvideCredentials::ready(Ok(Credentials::new("AKIDEXAMPLE", "s", None, self.1, "t")))
        }
    }

    #[tokio::test]
    async fn asks_the_chain_once_until_the_credentials_near_expiry() {
        let n = Arc::new(AtomicUsize::new(0));
        let once = ResolveOnce::new(SharedCredentialsProvider::new(Counting(n.clone(), None)));
        for _ in 0..3 {
            once.provide_credentials().await.unwrap();
        }
        assert_eq!(n.load(Ordering::SeqCst), 1);

        let soon = Some(SystemTime::now() + Duration::from_secs(10));
        let n = Arc::new(AtomicUsize::new(0));
        let once = ResolveOnce::new(SharedCredentialsProvider::new(Counting(n.clone(), soon)));
        once.provide_credentials().await.unwrap();
        once.provide_credentials().await.unwrap();
        assert_eq!(
            n.load(Ordering::SeqCst),
            2,
            "near-expiry credentials are fetched again"
        );
    }
    #[test]
    fn errors_name_no_front_end_setting() {
        let e = ConventionsError::ProfileNotFound {
            profile: "ops".into(),
            named_by: ProfileSource::Setting,
            config_file: "~/.aws/config".into(),
            credentials_file: "~/.aws/credentials".into(),
        };
        assert_eq!(
            e.to_string(),
            "the config profile (ops) could not be found: the profile setting names it, but neither \
             ~/.aws/config ([profile ops]) nor ~/.aws/credentials ([ops]) has it"
        );
        let e = ConventionsError::CaBundle {
            setting: "AWS_CA_BUNDLE",
            path: "/x.pem".into(),
            problem: CaBundleProblem::Unreadable(std::io::Error::other("gone")),
        };
        assert_eq!(e.to_string(), "AWS_CA_BUNDLE /x.pem: could not read it");
        assert_eq!(
            std::error::Error::source(&e).map(|c| c.to_string()),
            Some("gone".into())
        );
    }
}
