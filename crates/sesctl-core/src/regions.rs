//! The built-in table of regions that have an SES SMTP endpoint, and the checks `--region` goes through.
//!
//! Each entry names the source it was taken from and the date it was checked; docs/regions.md explains
//! every decision. A region outside the table is refused unless `--allow-unknown-region` is given (for
//! regions newer than the table), and even then its name must look like an AWS region.

use serde::Serialize;

/// Ports on which SES SMTP offers STARTTLS.
pub const STARTTLS_PORTS: [u16; 3] = [25, 587, 2587];
/// Ports on which SES SMTP offers TLS from the first byte ("TLS wrapper").
pub const TLS_PORTS: [u16; 2] = [465, 2465];
/// The port sesctl uses and stores by default.
pub const DEFAULT_PORT: u16 = 587;

const GENERAL_REFERENCE: &str = "https://docs.aws.amazon.com/general/latest/gr/ses.html";
/// The SES developer guide's SMTP credentials code example (its SMTP_REGIONS list).
const SMTP_CREDENTIALS_EXAMPLE: &str =
    "https://docs.aws.amazon.com/ses/latest/dg/ses_example_ses_Scenario_GenerateSmtpCredentials_section.html";
const CHECKED: &str = "2026-11-25";
/// The SMTP host lists that name ap-northeast-3's endpoint, taken from the General Reference's SMTP
/// table (docs/regions.md weighs them): nodemailer's pull request that added it cites that table.
const OSAKA_SOURCE: &str = "https://github.com/nodemailer/nodemailer/pull/1580";

/// One region of the table.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Region {
    pub region: &'static str,
    pub name: &'static str,
    pub smtp_host: &'static str,
    pub fips_smtp_host: Option<&'static str>,
    pub starttls_ports: [u16; 3],
    pub tls_ports: [u16; 2],
    pub source: &'static str,
    pub checked: &'static str,
}

macro_rules! region {
    ($code:literal, $name:literal) => {
        region!($code, $name, None)
    };
    ($code:literal, $name:literal, fips) => {
        region!(
            $code,
            $name,
            Some(concat!("email-smtp-fips.", $code, ".amazonaws.com"))
        )
    };
    ($code:literal, $name:literal, $fips:expr) => {
        region!($code, $name, $fips, GENERAL_REFERENCE)
    };
    ($code:literal, $name:literal, $fips:expr, $source:expr) => {
        Region {
            region: $code,
            name: $name,
            smtp_host: concat!("email-smtp.", $code, ".amazonaws.com"),
            fips_smtp_host: $fips,
            starttls_ports: STARTTLS_PORTS,
            tls_ports: TLS_PORTS,
            source: $source,
            checked: CHECKED,
        }
    };
}

/// Every region with an SES SMTP endpoint, as documented (see docs/regions.md).
pub static REGIONS: &[Region] = &[
    region!("us-east-1", "US East (N. Virginia)", fips),
    region!("us-east-2", "US East (Ohio)"),
    region!("us-west-1", "US West (N. California)"),
    region!("us-west-2", "US West (Oregon)", fips),
    region!("ap-south-1", "Asia Pacific (Mumbai)"),
    region!("ap-northeast-3", "Asia Pacific (Osaka)", None, OSAKA_SOURCE),
    region!("ap-northeast-1", "Asia Pacific (Tokyo)"),
    region!("ap-northeast-2", "Asia Pacific (Seoul)"),
    region!("ap-southeast-1", "Asia Pacific (Singapore)"),
    region!("ap-southeast-2", "Asia Pacific (Sydney)"),
    region!("ca-central-1", "Canada (Central)"),
    region!("eu-central-1", "Europe (Frankfurt)"),
    region!("eu-west-1", "Europe (Ireland)"),
    region!("eu-west-2", "Europe (London)"),
    region!("eu-west-3", "Europe (Paris)"),
    region!("eu-north-1", "Europe (Stockholm)"),
    region!("sa-east-1", "South America (Sao Paulo)"),
    region!("us-gov-west-1", "AWS GovCloud (US-West)", fips),
    region!(
        "us-gov-east-1",
        "AWS GovCloud (US-East)",
        None,
        SMTP_CREDENTIALS_EXAMPLE
    ),
];

/// Looks a region up in the table.
pub fn lookup(code: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.region == code)
}

/// The SMTP host of a region, whether or not it is in the table.
pub fn smtp_host(code: &str) -> String {
    match lookup(code) {
        Some(r) => r.smtp_host.to_string(),
        None => format!("email-smtp.{code}.amazonaws.com"),
    }
}

/// Whether a string has the shape of an AWS region name (`xx-name-N`, `us-gov-west-1`, ...).
pub fn looks_like_region(code: &str) -> bool {
    let parts: Vec<&str> = code.split('-').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return false;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.len() <= 2
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// Why a region was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionError {
    /// Not shaped like a region at all (a typo, a stray argument).
    Malformed(String),
    /// Shaped like a region but not in the table of regions with an SMTP endpoint.
    NoSmtpEndpoint(String),
}

impl std::fmt::Display for RegionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let valid: Vec<&str> = REGIONS.iter().map(|r| r.region).collect();
        match self {
            RegionError::Malformed(r) => write!(
                f,
                "'{r}' is not an AWS region name; regions with an SES SMTP endpoint: {}",
                valid.join(", ")
            ),
            RegionError::NoSmtpEndpoint(r) => write!(
                f,
                "region '{r}' has no SES SMTP endpoint in sesctl's table; valid regions: {} \
                 (use --allow-unknown-region for a region newer than the table)",
                valid.join(", ")
            ),
        }
    }
}

impl std::error::Error for RegionError {}

/// Checks a region given for an SMTP credential.
pub fn check(code: &str, allow_unknown: bool) -> Result<String, RegionError> {
    if lookup(code).is_some() {
        return Ok(code.to_string());
    }
    if !looks_like_region(code) {
        return Err(RegionError::Malformed(code.to_string()));
    }
    if allow_unknown {
        Ok(code.to_string())
    } else {
        Err(RegionError::NoSmtpEndpoint(code.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for r in REGIONS {
            assert!(seen.insert(r.region), "duplicate {}", r.region);
            assert!(looks_like_region(r.region), "{}", r.region);
            assert_eq!(r.smtp_host, format!("email-smtp.{}.amazonaws.com", r.region));
            if let Some(f) = r.fips_smtp_host {
                assert_eq!(f, format!("email-smtp-fips.{}.amazonaws.com", r.region));
            }
        }
    }

    #[test]
    fn documented_exclusions_are_refused() {
        for r in [
            "af-south-1",
            "ap-southeast-3",
            "eu-south-1",
            "il-central-1",
            "me-south-1",
        ] {
            assert_eq!(check(r, false), Err(RegionError::NoSmtpEndpoint(r.to_string())));
            assert_eq!(check(r, true), Ok(r.to_string()));
        }
    }

    #[test]
    fn fips_hosts_only_where_aws_documents_them() {
        let fips: Vec<&str> = REGIONS
            .iter()
            .filter(|r| r.fips_smtp_host.is_some())
            .map(|r| r.region)
            .collect();
        assert_eq!(fips, ["us-east-1", "us-west-2", "us-gov-west-1"]);
        let osaka = lookup("ap-northeast-3").expect("ap-northeast-3 is in the table");
        assert_eq!(osaka.smtp_host, "email-smtp.ap-northeast-3.amazonaws.com");
    }

    #[test]
    fn region_shapes() {
        assert!(looks_like_region("us-gov-west-1"));
        assert!(looks_like_region("mx-central-1"));
        for bad in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us_east_1",
            "us-east-1a",
            "us-east-1; rm",
            "-east-1",
        ] {
            assert!(!looks_like_region(bad), "{bad:?}");
            assert!(matches!(check(bad, true), Err(RegionError::Malformed(_))));
        }
    }
}
