//! `sesctl regions`: the built-in table of regions with an SES SMTP endpoint.

use std::fmt;

use serde::Serialize;

use super::Context;
use crate::error::Outcome;
use crate::output::table;
use crate::regions::{Region, REGIONS};

#[derive(Serialize)]
#[serde(transparent)]
struct RegionTable(&'static [Region]);

impl fmt::Display for RegionTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<Vec<String>> = self
            .0
            .iter()
            .map(|r| {
                vec![
                    r.region.to_string(),
                    r.name.to_string(),
                    r.smtp_host.to_string(),
                    r.fips_smtp_host.unwrap_or("-").to_string(),
                ]
            })
            .collect();
        f.write_str(&table(&["REGION", "NAME", "SMTP HOST", "FIPS SMTP HOST"], &rows))?;
        writeln!(
            f,
            "\nPorts: 587, 2587 and 25 with STARTTLS; 465 and 2465 with implicit TLS."
        )
    }
}

pub fn exec(ctx: &Context) -> anyhow::Result<Outcome> {
    ctx.printer.result(&RegionTable(REGIONS))?;
    Ok(Outcome::Done)
}
