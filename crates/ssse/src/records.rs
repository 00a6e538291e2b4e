//! EF05 (issuer data) and EF06 (holder data): TLV records whose record number is the tag,
//! encoded exactly per the table of card-spec.md section 1.

use std::collections::BTreeMap;

use iso7816_tlv::simple::{Tag, Tlv};

use crate::format::{an, an_decode, cn, cn_decode, encoded_an};
use crate::FieldError;

/// The MOHRSS registered application provider id inside every card identification code.
pub const MOHRSS_RID: [u8; 5] = [0xD1, 0x56, 0x00, 0x00, 0x05];

/// Tags of EF05 in the order they are written.
pub const EF05_TAGS: [u8; 7] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07];
/// Tags of EF06 in the order they are written (4E, the name extension, after the name).
pub const EF06_TAGS: [u8; 7] = [0x08, 0x09, 0x4E, 0x0A, 0x0B, 0x0C, 0x0D];

/// The name-extension record: needed only for characters outside GBK.
pub const NAME_EXTENSION_TAG: u8 = 0x4E;

/// The 16-byte card identification code (卡识别码): region code (3 bytes BCD), the MOHRSS RID,
/// 8 vendor bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CardId(pub [u8; 16]);

impl CardId {
    /// Builds the code for a six-digit region and the vendor bytes (from the profile or the
    /// provincial service; often the card's `card8`).
    pub fn new(region: &str, vendor: [u8; 8]) -> Result<CardId, FieldError> {
        if region.len() != 6 {
            return Err(FieldError::new(
                "card_id.region",
                format!("{region:?} is not a six-digit region code"),
            ));
        }
        let mut id = [0u8; 16];
        id[..3].copy_from_slice(&cn("card_id.region", region, 3)?);
        id[3..8].copy_from_slice(&MOHRSS_RID);
        id[8..].copy_from_slice(&vendor);
        Ok(CardId(id))
    }

    /// The six-digit region code it starts with.
    pub fn region(&self) -> Result<String, FieldError> {
        let r = cn_decode("card_id.region", &self.0[..3])?;
        if r.len() != 6 {
            return Err(FieldError::new("card_id.region", format!("{r:?} is not six digits")));
        }
        Ok(r)
    }
}

impl std::fmt::Display for CardId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode_upper(self.0))
    }
}

/// EF05: what the issuer writes about the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerData {
    /// Tag 01, `b` 16.
    pub card_id: CardId,
    /// Tag 02, `an` 1 (card type, e.g. `1`).
    pub card_type: char,
    /// Tag 03, `an` 4: "1.00", "2.00" or "3.00".
    pub spec_version: String,
    /// Tag 04, `cn` 12: the initialising organisation's code, up to 24 digits.
    pub init_org: String,
    /// Tag 05, `cn` 4: YYYYMMDD.
    pub issue_date: String,
    /// Tag 06, `cn` 4: YYYYMMDD.
    pub expiry_date: String,
    /// Tag 07, `an` 9: card number with its check character.
    pub card_number: String,
}

/// EF06: the holder. `Debug` masks the number and the name (logs never hold them whole).
#[derive(Clone, PartialEq, Eq)]
pub struct HolderData {
    /// Tag 08, `an` 18: the social security number (the resident ID number).
    pub ssn: String,
    /// Tag 09, `an` 30: the name in GBK (at most 30 bytes, 00-padded on the card).
    pub name_gbk: Vec<u8>,
    /// Tag 4E, `an` 20: the name extension in GB 18030 for characters outside GBK; empty when
    /// the GBK name is the whole name.
    pub name_extension: Vec<u8>,
    /// Tag 0A, `an` 1: `1` male, `2` female.
    pub sex: char,
    /// Tag 0B, `cn` 1: GB 3304 two-digit ethnicity code.
    pub ethnicity: String,
    /// Tag 0C, `cn` 3: GB/T 2260 six-digit birthplace code.
    pub birthplace: String,
    /// Tag 0D, `cn` 4: YYYYMMDD.
    pub birth_date: String,
}

impl std::fmt::Debug for HolderData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = match self.ssn.get(..6).zip(self.ssn.get(self.ssn.len().saturating_sub(4)..)) {
            Some((head, tail)) if self.ssn.len() == 18 => format!("{head}********{tail}"),
            _ => "****".into(),
        };
        f.debug_struct("HolderData")
            .field("ssn", &masked)
            .field("name_gbk", &format_args!("{} bytes", self.name_gbk.len()))
            .field("name_extension", &format_args!("{} bytes", self.name_extension.len()))
            .field("sex", &self.sex)
            .finish_non_exhaustive()
    }
}

/// One record as it goes on the card: `tag len value`.
fn record(tag: u8, value: Vec<u8>) -> Vec<u8> {
    match Tag::try_from(tag).and_then(|t| Tlv::new(t, value)) {
        Ok(tlv) => tlv.to_vec(),
        // Tags come from the constant tables above: never 00 or FF, values under 255 bytes.
        Err(e) => unreachable!("SIMPLE-TLV record {tag:02X}: {e:?}"),
    }
}

fn date(field: &'static str, d: &str) -> Result<Vec<u8>, FieldError> {
    if d.len() != 8 {
        return Err(FieldError::new(field, format!("{d:?} is not YYYYMMDD")));
    }
    cn(field, d, 4)
}

fn one_char(field: &'static str, c: char) -> Result<Vec<u8>, FieldError> {
    an(field, &c.to_string(), 1, false)
}

impl IssuerData {
    /// The seven EF05 records, `(tag, tag len value)`, in writing order.
    pub fn records(&self) -> Result<Vec<(u8, Vec<u8>)>, FieldError> {
        if !["1.00", "2.00", "3.00"].contains(&self.spec_version.as_str()) {
            return Err(FieldError::new(
                "issuer.spec_version",
                format!("{:?}: 1.00, 2.00 or 3.00", self.spec_version),
            ));
        }
        Ok(vec![
            (0x01, record(0x01, self.card_id.0.to_vec())),
            (0x02, record(0x02, one_char("issuer.card_type", self.card_type)?)),
            (0x03, record(0x03, an("issuer.spec_version", &self.spec_version, 4, false)?)),
            (0x04, record(0x04, cn("issuer.init_org", &self.init_org, 12)?)),
            (0x05, record(0x05, date("issuer.issue_date", &self.issue_date)?)),
            (0x06, record(0x06, date("issuer.expiry_date", &self.expiry_date)?)),
            (0x07, record(0x07, an("issuer.card_number", &self.card_number, 9, false)?)),
        ])
    }

    /// Decodes EF05 from its records by number.
    pub fn from_records(records: &BTreeMap<u8, Vec<u8>>) -> Result<IssuerData, FieldError> {
        let card_id: [u8; 16] = value(records, 0x01, "EF05 card id")?
            .try_into()
            .map_err(|_| FieldError::new("EF05 card id", "not 16 bytes"))?;
        let card_type = an_decode("EF05 card type", value(records, 0x02, "EF05 card type")?)?;
        Ok(IssuerData {
            card_id: CardId(card_id),
            card_type: card_type.chars().next().unwrap_or(' '),
            spec_version: an_decode("EF05 version", value(records, 0x03, "EF05 version")?)?,
            init_org: cn_decode("EF05 init org", value(records, 0x04, "EF05 init org")?)?,
            issue_date: cn_decode("EF05 issue date", value(records, 0x05, "EF05 issue date")?)?,
            expiry_date: cn_decode("EF05 expiry", value(records, 0x06, "EF05 expiry")?)?,
            card_number: an_decode("EF05 card number", value(records, 0x07, "EF05 card number")?)?,
        })
    }
}

impl HolderData {
    /// The EF06 records, `(tag, tag len value)`, in writing order. The name extension is
    /// included when `with_extension` (the card has record 4E); without it a name that needs
    /// one is an error, never silently cut.
    pub fn records(&self, with_extension: bool) -> Result<Vec<(u8, Vec<u8>)>, FieldError> {
        if self.ethnicity.len() != 2 {
            return Err(FieldError::new(
                "holder.ethnicity",
                format!("{:?} is not a two-digit code", self.ethnicity),
            ));
        }
        if self.birthplace.len() != 6 {
            return Err(FieldError::new(
                "holder.birthplace",
                format!("{:?} is not a six-digit code", self.birthplace),
            ));
        }
        if !['1', '2'].contains(&self.sex) {
            return Err(FieldError::new("holder.sex", format!("{:?}: 1 male or 2 female", self.sex)));
        }
        let mut out = vec![
            (0x08, record(0x08, an("holder.ssn", &self.ssn, 18, false)?)),
            (0x09, record(0x09, encoded_an("holder.name", &self.name_gbk, 30, true)?)),
        ];
        if with_extension {
            out.push((
                0x4E,
                record(0x4E, encoded_an("holder.name_extension", &self.name_extension, 20, true)?),
            ));
        } else if !self.name_extension.is_empty() {
            return Err(FieldError::new(
                "holder.name_extension",
                "the name needs the extension record 4E and this card has none: use a card with EF06 record 4E",
            ));
        }
        out.extend([
            (0x0A, record(0x0A, one_char("holder.sex", self.sex)?)),
            (0x0B, record(0x0B, cn("holder.ethnicity", &self.ethnicity, 1)?)),
            (0x0C, record(0x0C, cn("holder.birthplace", &self.birthplace, 3)?)),
            (0x0D, record(0x0D, date("holder.birth_date", &self.birth_date)?)),
        ]);
        Ok(out)
    }

    /// Decodes EF06 from its records by number (4E may be absent).
    pub fn from_records(records: &BTreeMap<u8, Vec<u8>>) -> Result<HolderData, FieldError> {
        let trimmed = |b: &[u8]| b[..b.iter().rposition(|x| *x != 0).map_or(0, |i| i + 1)].to_vec();
        let sex = an_decode("EF06 sex", value(records, 0x0A, "EF06 sex")?)?;
        Ok(HolderData {
            ssn: an_decode("EF06 SSN", value(records, 0x08, "EF06 SSN")?)?,
            name_gbk: trimmed(value(records, 0x09, "EF06 name")?),
            name_extension: match records.get(&NAME_EXTENSION_TAG) {
                Some(_) => trimmed(value(records, NAME_EXTENSION_TAG, "EF06 name extension")?),
                None => Vec::new(),
            },
            sex: sex.chars().next().unwrap_or(' '),
            ethnicity: cn_decode("EF06 ethnicity", value(records, 0x0B, "EF06 ethnicity")?)?,
            birthplace: cn_decode("EF06 birthplace", value(records, 0x0C, "EF06 birthplace")?)?,
            birth_date: cn_decode("EF06 birth date", value(records, 0x0D, "EF06 birth date")?)?,
        })
    }
}

/// The value of record `tag`, checked to be `tag len value` with that tag.
fn value<'r>(
    records: &'r BTreeMap<u8, Vec<u8>>,
    tag: u8,
    field: &'static str,
) -> Result<&'r [u8], FieldError> {
    let raw =
        records.get(&tag).ok_or_else(|| FieldError::new(field, format!("record {tag:02X} is missing")))?;
    let (tlv, rest) = Tlv::parse(raw);
    let tlv = tlv.map_err(|e| FieldError::new(field, format!("record {tag:02X} is not TLV ({e:?})")))?;
    if Into::<u8>::into(tlv.tag()) != tag || !rest.is_empty() {
        return Err(FieldError::new(field, format!("record {tag:02X} holds {}", hex::encode_upper(raw))));
    }
    // Slice of the record itself: the value follows the tag and the one-byte length.
    Ok(&raw[raw.len() - tlv.length()..])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("hex")
    }

    /// The simulator profile's test holder (ssc-3g-sim.toml), byte for byte.
    pub(crate) fn zhang_san() -> (IssuerData, HolderData) {
        let issuer = IssuerData {
            card_id: CardId::new("110100", [0x00, 0xBF, 0x7C, 0x7A, 0x48, 0xFB, 0x49, 0x66]).expect("id"),
            card_type: '1',
            spec_version: "3.00".into(),
            init_org: "11010000000000000001".into(),
            issue_date: "20240101".into(),
            expiry_date: "20340101".into(),
            card_number: "X00000019".into(),
        };
        let holder = HolderData {
            ssn: "11010519491231002X".into(),
            name_gbk: h("D5C5C8FD"),
            name_extension: Vec::new(),
            sex: '2',
            ethnicity: "01".into(),
            birthplace: "110105".into(),
            birth_date: "19491231".into(),
        };
        (issuer, holder)
    }

    #[test]
    fn encodes_exactly_the_simulator_profiles_records() {
        let (issuer, holder) = zhang_san();
        let ef05: Vec<String> =
            issuer.records().expect("EF05").into_iter().map(|(_, r)| hex::encode_upper(r)).collect();
        assert_eq!(
            ef05,
            [
                "011011010 0D156000005 00BF7C7A48FB4966",
                "020131",
                "0304332E3030",
                "040C11010000000000000001FFFF",
                "050420240101",
                "060420340101",
                "0709583030303030303139",
            ]
            .map(|s| s.replace(' ', ""))
        );
        let ef06 = holder.records(true).expect("EF06");
        assert_eq!(ef06.iter().map(|(t, _)| *t).collect::<Vec<_>>(), EF06_TAGS);
        assert_eq!(ef06[0].1, h("0812 313130313035313934393132333130303258"));
        assert_eq!(ef06[1].1.len(), 32);
        assert_eq!(&ef06[1].1[..6], &h("091E D5C5C8FD")[..]);
        assert_eq!(ef06[2].1, [vec![0x4E, 0x14], vec![0; 20]].concat());
        assert_eq!(
            ef06[3..].iter().map(|(_, r)| hex::encode_upper(r)).collect::<Vec<_>>(),
            ["0A0132", "0B0101", "0C03110105", "0D0419491231"]
        );
    }

    #[test]
    fn round_trip_and_region() {
        let (issuer, holder) = zhang_san();
        let map = |recs: Vec<(u8, Vec<u8>)>| recs.into_iter().collect::<BTreeMap<_, _>>();
        assert_eq!(IssuerData::from_records(&map(issuer.records().expect("05"))), Ok(issuer.clone()));
        assert_eq!(HolderData::from_records(&map(holder.records(true).expect("06"))), Ok(holder.clone()));
        assert_eq!(HolderData::from_records(&map(holder.records(false).expect("06"))), Ok(holder));
        assert_eq!(issuer.card_id.region().as_deref(), Ok("110100"));
        assert_eq!(issuer.card_id.to_string(), "110100D15600000500BF7C7A48FB4966");
    }

    #[test]
    fn card_spec_example_card_id() {
        let id = CardId::new("639900", h("00BF7C7A48FB4966").try_into().expect("8")).expect("id");
        assert_eq!(id.to_string(), "639900D15600000500BF7C7A48FB4966");
    }

    #[test]
    fn bad_fields_are_named() {
        let (mut issuer, mut holder) = zhang_san();
        issuer.card_number = "X0000001".into();
        assert_eq!(issuer.records().expect_err("short").field, "issuer.card_number");
        issuer.card_number = "X00000019".into();
        issuer.issue_date = "2024011".into();
        assert_eq!(issuer.records().expect_err("date").field, "issuer.issue_date");
        holder.name_gbk = vec![0xB0; 31];
        assert_eq!(holder.records(true).expect_err("long").field, "holder.name");
        holder.name_gbk = h("D5C5");
        holder.name_extension = vec![0x95, 0x32, 0x82, 0x36];
        assert_eq!(holder.records(false).expect_err("no 4E").field, "holder.name_extension");
        assert!(holder.records(true).is_ok());
    }

    #[test]
    fn odd_card_records_are_errors_not_garbage() {
        let (issuer, _) = zhang_san();
        let mut recs: BTreeMap<u8, Vec<u8>> = issuer.records().expect("05").into_iter().collect();
        recs.insert(0x05, h("0504 2024 01AB"));
        assert_eq!(IssuerData::from_records(&recs).expect_err("bcd").field, "EF05 issue date");
        recs.insert(0x05, h("0604 20240101"));
        assert!(IssuerData::from_records(&recs).expect_err("tag").message.contains("record 05 holds"));
        recs.insert(0x05, h("0504 20240101"));
        recs.remove(&0x07);
        assert!(IssuerData::from_records(&recs).expect_err("missing").message.contains("missing"));
    }

    #[test]
    fn holder_debug_hides_the_number_and_name() {
        let (_, holder) = zhang_san();
        let d = format!("{holder:?}");
        assert!(d.contains("110105********002X") && !d.contains("11010519491231002X"), "{d}");
        assert!(!d.contains("D5C5") && !d.contains("213"), "{d}");
    }
}
