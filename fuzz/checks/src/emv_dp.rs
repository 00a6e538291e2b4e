//! The data-preparation file (`emv-cps-dp/1`, JSON from the data-preparation system): a
//! file that passes the checks writes and reads back the same; its DGIs split into STORE
//! DATA blocks that hold every byte once, none over the block size; errors are `Error::Dp`.

use emv_cps::{dgi_header, store_data_blocks, DpFile, Error};

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let dp = match DpFile::parse(text) {
        Ok(dp) => dp,
        Err(e) => {
            assert!(matches!(e, Error::Dp(_)), "not a DP error: {e:?}");
            return;
        }
    };
    assert_eq!(DpFile::parse(&dp.to_json()).as_ref(), Ok(&dp), "decode(encode(x)) == x");
    for app in &dp.applications {
        let aid = app.aid_bytes().expect("checked");
        assert!((5..=16).contains(&aid.len()));
        assert!(dp.application(&aid).is_some());
        let dgis = app.checked_dgis().expect("checked");
        let whole: Vec<u8> =
            dgis.iter().flat_map(|d| [dgi_header(d.dgi, d.value.len()), d.value.clone()].concat()).collect();
        for block in [6, 7, 16, 239, 255] {
            match store_data_blocks(&dgis, block) {
                Ok(blocks) => {
                    assert!(blocks.iter().all(|b| !b.data.is_empty() && b.data.len() <= block));
                    let joined: Vec<u8> = blocks.iter().flat_map(|b| b.data.clone()).collect();
                    assert_eq!(joined, whole, "every DGI byte once, in order");
                    assert!(blocks.last().is_some_and(|b| b.p1 & 0x80 != 0), "last block marked");
                    let _ = blocks[0].command();
                }
                Err(e) => assert!(matches!(e, Error::Dp(_))),
            }
        }
    }
}
