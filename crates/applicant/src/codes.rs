//! Code tables of the card and the account: sex (GB/T 2261.1), ethnicity (GB 3304-1991) and
//! nationality (ISO 3166-1 alpha-3). Tables are data, checked by tests, not scattered matches.

use crate::error::Explain;
use std::fmt;

/// Sex as coded in GB/T 2261.1; the card stores "1" or "2" (EF06 tag 0A).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// 0: not known.
    Unknown,
    /// 1: male.
    Male,
    /// 2: female.
    Female,
    /// 9: not stated.
    Unstated,
}

impl Sex {
    /// The GB/T 2261.1 code.
    pub fn code(self) -> char {
        match self {
            Sex::Unknown => '0',
            Sex::Male => '1',
            Sex::Female => '2',
            Sex::Unstated => '9',
        }
    }

    /// From the GB/T 2261.1 code.
    pub fn from_code(code: &str) -> Option<Sex> {
        match code {
            "0" => Some(Sex::Unknown),
            "1" => Some(Sex::Male),
            "2" => Some(Sex::Female),
            "9" => Some(Sex::Unstated),
            _ => None,
        }
    }

    /// From the sequence digit of a GB 11643 number: odd is male, even is female.
    pub(crate) fn from_sequence(digit: u8) -> Sex {
        if (digit - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// English word for messages.
    pub fn word(self) -> &'static str {
        match self {
            Sex::Unknown => "unknown",
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Unstated => "unstated",
        }
    }
}

/// The 56 ethnic groups of GB 3304-1991 with their codes, plus 97 (other, not identified) and
/// 98 (Chinese citizen of foreign origin).
pub const ETHNICITIES: [(u8, &str); 58] = [
    (1, "汉族"),
    (2, "蒙古族"),
    (3, "回族"),
    (4, "藏族"),
    (5, "维吾尔族"),
    (6, "苗族"),
    (7, "彝族"),
    (8, "壮族"),
    (9, "布依族"),
    (10, "朝鲜族"),
    (11, "满族"),
    (12, "侗族"),
    (13, "瑶族"),
    (14, "白族"),
    (15, "土家族"),
    (16, "哈尼族"),
    (17, "哈萨克族"),
    (18, "傣族"),
    (19, "黎族"),
    (20, "傈僳族"),
    (21, "佤族"),
    (22, "畲族"),
    (23, "高山族"),
    (24, "拉祜族"),
    (25, "水族"),
    (26, "东乡族"),
    (27, "纳西族"),
    (28, "景颇族"),
    (29, "柯尔克孜族"),
    (30, "土族"),
    (31, "达斡尔族"),
    (32, "仫佬族"),
    (33, "羌族"),
    (34, "布朗族"),
    (35, "撒拉族"),
    (36, "毛南族"),
    (37, "仡佬族"),
    (38, "锡伯族"),
    (39, "阿昌族"),
    (40, "普米族"),
    (41, "塔吉克族"),
    (42, "怒族"),
    (43, "乌孜别克族"),
    (44, "俄罗斯族"),
    (45, "鄂温克族"),
    (46, "德昂族"),
    (47, "保安族"),
    (48, "裕固族"),
    (49, "京族"),
    (50, "塔塔尔族"),
    (51, "独龙族"),
    (52, "鄂伦春族"),
    (53, "赫哲族"),
    (54, "门巴族"),
    (55, "珞巴族"),
    (56, "基诺族"),
    (97, "其他"),
    (98, "外国血统中国籍人士"),
];

/// An ethnicity code of GB 3304 (EF06 tag 0B, one BCD byte).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ethnicity(u8);

impl Ethnicity {
    /// From the two-digit code ("01" 汉族 .. "56" 基诺族, "97", "98"). The Chinese name is
    /// accepted too, since forms often carry it.
    pub fn parse(s: &str) -> Result<Ethnicity, CodeError> {
        let by_code = (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u8>().ok())
            .flatten()
            .filter(|n| ETHNICITIES.iter().any(|(c, _)| c == n));
        let by_name = || ETHNICITIES.iter().find(|(_, name)| *name == s).map(|(c, _)| *c);
        by_code.or_else(by_name).map(Ethnicity).ok_or_else(|| CodeError::Ethnicity(s.to_owned()))
    }

    /// The two-digit code.
    pub fn code(self) -> String {
        format!("{:02}", self.0)
    }

    /// The Chinese name of the group.
    pub fn name(self) -> &'static str {
        ETHNICITIES.iter().find(|(c, _)| *c == self.0).map_or("", |(_, n)| n)
    }

    /// One BCD byte, as the card stores it.
    pub fn to_bcd(self) -> u8 {
        ((self.0 / 10) << 4) | (self.0 % 10)
    }
}

impl fmt::Debug for Ethnicity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ethnicity({:02} {})", self.0, self.name())
    }
}

impl fmt::Display for Ethnicity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

/// ISO 3166-1 alpha-3 country codes (249), plus the ICAO document codes for stateless persons,
/// refugees and UN documents (XXA, XXB, XXC, XXX, UNO, UNA, UNK).
const ALPHA3: &str = "ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN \
    BES BFA BGD BGR BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN CCK CHE CHL CHN \
    CIV CMR COD COG COK COL COM CPV CRI CUB CUW CXR CYM CYP CZE DEU DJI DMA DNK DOM DZA ECU EGY ERI \
    ESH ESP EST ETH FIN FJI FLK FRA FRO FSM GAB GBR GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL \
    GTM GUF GUM GUY HKG HMD HND HRV HTI HUN IDN IMN IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN \
    KAZ KEN KGZ KHM KIR KNA KOR KWT LAO LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA \
    MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS MWI MYS MYT NAM NCL NER NFK NGA \
    NIC NIU NLD NOR NPL NRU NZL OMN PAK PAN PCN PER PHL PLW PNG POL PRI PRK PRT PRY PSE PYF QAT REU \
    ROU RUS RWA SAU SDN SEN SGP SGS SHN SJM SLB SLE SLV SMR SOM SPM SRB SSD STP SUR SVK SVN SWE SWZ \
    SXM SYC SYR TCA TCD TGO THA TJK TKL TKM TLS TON TTO TUN TUR TUV TWN TZA UGA UKR UMI URY USA UZB \
    VAT VCT VEN VGB VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE XXA XXB XXC XXX UNO UNA UNK";

/// A nationality as an ISO 3166-1 alpha-3 code; China is `CHN`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nationality([u8; 3]);

impl Nationality {
    /// China.
    pub const CHINA: Nationality = Nationality(*b"CHN");

    /// From an alpha-3 code in capitals.
    pub fn parse(s: &str) -> Result<Nationality, CodeError> {
        let ok =
            s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) && ALPHA3.split(' ').any(|c| c == s);
        if !ok {
            return Err(CodeError::Nationality(s.to_owned()));
        }
        let mut code = [0u8; 3];
        code.copy_from_slice(s.as_bytes());
        Ok(Nationality(code))
    }

    /// The three letters.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Nationality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nationality({})", self.as_str())
    }
}

impl fmt::Display for Nationality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code that is not in its table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// Not a GB/T 2261.1 sex code.
    #[error("'{0}' is not a sex code of GB/T 2261.1")]
    Sex(String),
    /// A sex code the card cannot carry.
    #[error("sex code '{0}' cannot be written to the card, which takes 1 (male) or 2 (female)")]
    SexNotForCard(char),
    /// Not a GB 3304 ethnicity.
    #[error("'{0}' is not an ethnicity code of GB 3304")]
    Ethnicity(String),
    /// Not an ISO 3166-1 alpha-3 code.
    #[error("'{0}' is not an ISO 3166-1 alpha-3 country code")]
    Nationality(String),
}

impl Explain for CodeError {
    fn rule(&self) -> &'static str {
        match self {
            CodeError::Sex(_) => "sex-code",
            CodeError::SexNotForCard(_) => "sex-card",
            CodeError::Ethnicity(_) => "ethnicity-code",
            CodeError::Nationality(_) => "nationality-code",
        }
    }
    fn hint(&self) -> String {
        match self {
            CodeError::Sex(_) | CodeError::SexNotForCard(_) => {
                "enter 1 for male or 2 for female, as on the identity document".into()
            }
            CodeError::Ethnicity(_) => "enter the two-digit code (01 汉族 .. 56 基诺族, 97 其他, 98 \
                 外国血统中国籍人士) or the name of the group as on the document"
                .into(),
            CodeError::Nationality(_) => "enter the three capital letters of the nationality from the \
                 document (CHN for China; the passport's machine-readable zone has them)"
                .into(),
        }
    }
}

impl Sex {
    /// Parses a GB/T 2261.1 code ("0", "1", "2", "9").
    pub fn parse(s: &str) -> Result<Sex, CodeError> {
        Sex::from_code(s).ok_or_else(|| CodeError::Sex(s.to_owned()))
    }

    /// The byte the card stores (EF06 tag 0A): only male and female can be written.
    pub fn card_code(self) -> Result<u8, CodeError> {
        match self {
            Sex::Male => Ok(b'1'),
            Sex::Female => Ok(b'2'),
            other => Err(CodeError::SexNotForCard(other.code())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethnicity_table_is_complete() {
        assert_eq!(ETHNICITIES.len(), 58);
        for (i, (code, _)) in ETHNICITIES.iter().take(56).enumerate() {
            assert_eq!(*code as usize, i + 1);
        }
        assert_eq!(Ethnicity::parse("01").expect("han").name(), "汉族");
        assert_eq!(Ethnicity::parse("维吾尔族").expect("by name").code(), "05");
        assert_eq!(Ethnicity::parse("56").expect("jino").to_bcd(), 0x56);
        assert_eq!(Ethnicity::parse("98").expect("98").to_bcd(), 0x98);
        for bad in ["00", "57", "1", "001", "96", "99", "汉"] {
            assert_eq!(Ethnicity::parse(bad).map(|_| ()), Err(CodeError::Ethnicity(bad.into())));
        }
    }

    #[test]
    fn nationality_codes() {
        assert_eq!(ALPHA3.split(' ').filter(|c| !c.is_empty()).count(), 249 + 7);
        assert_eq!(Nationality::parse("CHN"), Ok(Nationality::CHINA));
        assert!(Nationality::parse("DEU").is_ok());
        assert!(Nationality::parse("XXA").is_ok());
        for bad in ["chn", "CN", "ZZZ", "CHINA", ""] {
            assert_eq!(Nationality::parse(bad).expect_err(bad).rule(), "nationality-code");
        }
    }

    #[test]
    fn sex_codes() {
        assert_eq!(Sex::parse("1"), Ok(Sex::Male));
        assert_eq!(Sex::parse("2"), Ok(Sex::Female));
        assert_eq!(Sex::parse("9"), Ok(Sex::Unstated));
        assert_eq!(Sex::Female.card_code(), Ok(b'2'));
        assert_eq!(Sex::Unstated.card_code(), Err(CodeError::SexNotForCard('9')));
        assert!(Sex::parse("M").is_err());
    }
}
