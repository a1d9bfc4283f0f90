//! `--target` values and the configured release list, parsed into triples and planned into
//! targets once.

use anyhow::bail;

use super::{Settings, Target, Triple};
use crate::workspace::DistConfig;

/// The triples of `requested` (`--target` values: none → the host, `all` → the release list,
/// `host` → the host) as targets under the workspace's settings, sorted by triple.
pub fn resolve(
    requested: &[String],
    config: &DistConfig,
    host: &Triple,
) -> anyhow::Result<Vec<Target>> {
    let settings = Settings::from_config(config)?;
    Ok(resolve_triples(requested, config, host)?
        .iter()
        .map(|triple| Target::configured(triple, host, &settings))
        .collect())
}

/// `--target` values as triples, sorted and deduplicated (see [`resolve`]).
pub fn resolve_triples(
    requested: &[String],
    config: &DistConfig,
    host: &Triple,
) -> anyhow::Result<Vec<Triple>> {
    let mut triples = std::collections::BTreeSet::new();
    if requested.is_empty() {
        triples.insert(host.clone());
    }
    for text in requested {
        match text.as_str() {
            "all" => {
                if config.targets.is_empty() {
                    bail!(
                        "--target all: [workspace.metadata.xtask-dist] targets is empty; list \
                         the release targets there"
                    );
                }
                for listed in &config.targets {
                    triples.insert(parse_triple(
                        listed,
                        "[workspace.metadata.xtask-dist] targets",
                    )?);
                }
            }
            "host" => {
                triples.insert(host.clone());
            }
            other => {
                triples.insert(parse_triple(other, "--target")?);
            }
        }
    }
    Ok(triples.into_iter().collect())
}

fn parse_triple(text: &str, origin: &str) -> anyhow::Result<Triple> {
    if let Some((triple, suffix)) = text.split_once('.')
        && Triple::parse(triple).is_some()
    {
        bail!(
            "{text:?} in {origin} is not a target triple: the glibc version ({suffix}) is set once \
             for every glibc target by `glibc = \"{suffix}\"` in [workspace.metadata.xtask-dist]; \
             name the target as {triple}"
        );
    }
    Triple::parse(text).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown target {text:?} in {origin}: use a target triple of the form \
             <arch>-<vendor>-<os>[-<env>] (such as x86_64-unknown-linux-gnu), `host`, or `all` \
             (the release list)"
        )
    })
}
