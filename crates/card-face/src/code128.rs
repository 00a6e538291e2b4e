//! Code 128 (ISO/IEC 15417), enough for card numbers: code set C for an even run of digits
//! only, code set B otherwise; no set switching (a 9-character card number fits either way).

/// Bar and space widths in modules for symbol values 0..=105 (each adds up to 11); the stop
/// pattern is separate.
const PATTERNS: [&str; 106] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
    "114131", "311141", "411131", "211412", "211214", "211232",
];
const STOP: &str = "2331112";
const START_B: u8 = 104;
const START_C: u8 = 105;

/// A value Code 128 (sets B and C) cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not printable ASCII")]
pub struct Code128Error(pub char);

/// The symbol values: start, data, check.
pub fn symbols(data: &str) -> Result<Vec<u8>, Code128Error> {
    let bytes = data.as_bytes();
    let set_c = !bytes.is_empty()
        && bytes.chunks_exact(2).remainder().is_empty()
        && bytes.iter().all(u8::is_ascii_digit);
    let mut out = Vec::with_capacity(bytes.len() + 2);
    if set_c {
        out.push(START_C);
        out.extend(bytes.chunks(2).map(|p| (p[0] - b'0') * 10 + (p[1] - b'0')));
    } else {
        out.push(START_B);
        for ch in data.chars() {
            match u8::try_from(ch) {
                Ok(b @ 32..=127) => out.push(b - 32),
                _ => return Err(Code128Error(ch)),
            }
        }
    }
    let weighted: usize = out.iter().enumerate().map(|(i, &v)| i.max(1) * usize::from(v)).sum();
    out.push((weighted % 103) as u8);
    Ok(out)
}

/// The modules left to right, `true` for a bar, without quiet zones.
pub fn modules(data: &str) -> Result<Vec<bool>, Code128Error> {
    let mut out = Vec::new();
    let mut push = |pattern: &str| {
        for (i, w) in pattern.bytes().enumerate() {
            out.extend(std::iter::repeat_n(i % 2 == 0, usize::from(w - b'0')));
        }
    };
    for v in symbols(data)? {
        push(PATTERNS[usize::from(v)]);
    }
    push(STOP);
    Ok(out)
}

/// Reads modules back into symbol values (start .. check), for tests that scan a printed
/// barcode; `None` when a symbol is not in the table or the check fails.
pub fn decode(modules: &[bool]) -> Option<Vec<u8>> {
    let runs = |chunk: &[bool]| -> String {
        let mut s = String::new();
        let mut i = 0;
        while i < chunk.len() {
            let start = i;
            while i < chunk.len() && chunk[i] == chunk[start] {
                i += 1;
            }
            s.push(char::from(b'0' + (i - start) as u8));
        }
        s
    };
    let stop_at = modules.len().checked_sub(13)?;
    if stop_at % 11 != 0 || runs(&modules[stop_at..]) != STOP {
        return None;
    }
    let values: Option<Vec<u8>> = modules[..stop_at]
        .chunks(11)
        .map(|c| PATTERNS.iter().position(|p| *p == runs(c)).map(|v| v as u8))
        .collect();
    let values = values?;
    let (&check, body) = values.split_last()?;
    let weighted: usize = body.iter().enumerate().map(|(i, &v)| i.max(1) * usize::from(v)).sum();
    (weighted % 103 == usize::from(check)).then_some(values)
}

/// The text of decoded symbol values (set B or C).
pub fn text(values: &[u8]) -> Option<String> {
    let (&start, rest) = values.split_first()?;
    let data = &rest[..rest.len().checked_sub(1)?];
    match start {
        START_B => data.iter().map(|&v| char::from_u32(u32::from(v) + 32)).collect(),
        START_C => Some(data.iter().map(|v| format!("{v:02}")).collect()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (v, p) in PATTERNS.iter().enumerate() {
            assert_eq!(p.bytes().map(|b| u32::from(b - b'0')).sum::<u32>(), 11, "value {v}");
            assert!(PATTERNS.iter().filter(|q| *q == p).count() == 1, "value {v} twice");
        }
        assert_eq!(STOP.bytes().map(|b| u32::from(b - b'0')).sum::<u32>(), 13);
    }

    #[test]
    fn check_symbol() {
        // PJJ123C in set B: 104 + 48 + 2*42 + 3*42 + 4*17 + 5*18 + 6*19 + 7*35 = 879, mod 103 = 55.
        assert_eq!(symbols("PJJ123C"), Ok(vec![104, 48, 42, 42, 17, 18, 19, 35, 55]));
        // Set C for an even run of digits: 105 + 12 + 2*34 = 185, mod 103 = 82.
        assert_eq!(symbols("1234"), Ok(vec![105, 12, 34, 82]));
        assert_eq!(symbols("张"), Err(Code128Error('张')));
    }

    #[test]
    fn round_trip() {
        for s in ["X00000019", "PJJ123C", "1234", "A"] {
            let m = modules(s).expect("encodable");
            assert_eq!(m.len(), 11 * (symbols(s).expect("ok").len()) + 13);
            assert!(m[0] && m[m.len() - 1], "starts and ends with a bar");
            let values = decode(&m).expect("decodes");
            assert_eq!(text(&values).as_deref(), Some(s));
        }
        let mut m = modules("X00000019").expect("ok");
        m[20] = !m[20];
        assert_eq!(decode(&m), None);
    }
}
