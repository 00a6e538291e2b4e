//! The TOML shape of a profile, as serde reads it. Everything a person can get wrong (hex,
//! FIDs, paths, access conditions) stays a string here so that validation can name the field
//! that is wrong; closed vocabularies are enums and serde names the bad word.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{
    Algorithm, ApplicationKind, CardLifeCycle, FileLifeCycle, IsdDiversification, IsdScheme, KeyUsage,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProfile {
    pub id: String,
    pub description: String,
    pub vendor: String,
    pub card_os: String,
    pub generation: String,
    pub spec_version: String,
    pub atr: String,
    #[serde(default)]
    pub card_lifecycle: Option<CardLifeCycle>,
    pub capabilities: RawCapabilities,
    #[serde(default)]
    pub application: Vec<RawApplication>,
    pub file: Vec<RawFile>,
    #[serde(default)]
    pub key: Vec<RawKey>,
    #[serde(default)]
    pub pin: Vec<RawPin>,
    #[serde(default)]
    pub isd: Option<RawIsd>,
    #[serde(default)]
    pub sim: Option<RawSim>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIsd {
    pub scheme: IsdScheme,
    pub i: String,
    #[serde(default)]
    pub scp_id: Option<String>,
    pub key_version: String,
    pub diversification: IsdDiversification,
    #[serde(default)]
    pub master_kcv: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCapabilities {
    pub extended_length: bool,
    pub max_command_data: usize,
    pub max_response_data: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApplication {
    pub name: String,
    pub aid: String,
    pub kind: ApplicationKind,
    #[serde(default)]
    pub df: Option<String>,
    #[serde(default)]
    pub diversification_levels: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawFileType {
    Mf,
    Df,
    Ef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawStructure {
    Transparent,
    LinearFixed,
    LinearVariable,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub fid: String,
    #[serde(rename = "type")]
    pub file_type: RawFileType,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub df_name: Option<String>,
    #[serde(default)]
    pub structure: Option<RawStructure>,
    #[serde(default)]
    pub size: Option<usize>,
    #[serde(default)]
    pub records: Option<usize>,
    #[serde(default)]
    pub record_size: Option<usize>,
    #[serde(default)]
    pub sfi: Option<u8>,
    #[serde(default)]
    pub read: Option<String>,
    #[serde(default)]
    pub update: Option<String>,
    #[serde(default)]
    pub admin: Option<String>,
    #[serde(default)]
    pub lifecycle: Option<FileLifeCycle>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPsamKey {
    pub usage: String,
    pub id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKey {
    pub df: String,
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub usage: KeyUsage,
    #[serde(default)]
    pub usage_code: Option<String>,
    pub algorithm: Algorithm,
    pub tries: u8,
    #[serde(default)]
    pub psam_key: Option<RawPsamKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPin {
    pub df: String,
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub tries: u8,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSim {
    #[serde(default)]
    pub key: Vec<RawSimSecret>,
    #[serde(default)]
    pub pin: Vec<RawSimSecret>,
    #[serde(default)]
    pub file: Vec<RawSimFile>,
    #[serde(default)]
    pub derive: Option<RawSimDerive>,
    #[serde(default)]
    pub isd_master: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSimDerive {
    pub psam: String,
    pub region: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSimSecret {
    pub df: String,
    pub id: String,
    #[serde(default)]
    pub usage_code: Option<String>,
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSimFile {
    pub path: String,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub records: Option<BTreeMap<String, String>>,
}
