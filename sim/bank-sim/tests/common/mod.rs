//! What the simulator's tests share: a simulator on loopback with two accounts, and requests
//! as a counter makes them.
#![allow(dead_code)]

use std::time::Duration;

use applicant::{CardNumber, IdType, ValidUntil};
use bank::{
    ActivationKey, ActivationRequest, DigestAlgorithm, FaceToFace, Holder, HttpBank, IdNumber, Pan, Photo,
    PhotoDigest, Transport,
};
use bank_sim::{Handle, SimAccount};

pub const ID: &str = "11010519491231002X";
pub const PAN: &str = "6212345302375609269";
pub const CARD: &str = "B00000019";
pub const FROZEN_ID: &str = "320102199003150025";
pub const FROZEN_PAN: &str = "6212260000000000018";

pub fn accounts() -> Vec<SimAccount> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("accounts.json");
    bank_sim::load_accounts(&path).expect("accounts.json")
}

/// A runtime with the simulator on it over plain HTTP, preloaded with `accounts.json`.
pub fn start() -> (tokio::runtime::Runtime, Handle) {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let h = rt.block_on(bank_sim::serve("127.0.0.1:0".parse().expect("addr"), accounts())).expect("serve");
    (rt, h)
}

pub fn client(h: &Handle) -> HttpBank {
    HttpBank::new(&h.url(), &Transport::PlainForSimulators, Duration::from_secs(5)).expect("client")
}

/// Zhang San activating card B00000019 at S-0101, face to face, photo taken 30 s ago.
pub fn request(id: &str) -> ActivationRequest {
    ActivationRequest {
        request_id: ActivationKey::new("S-0101", id).expect("key"),
        station: "S-0101".into(),
        operator: "op1".into(),
        bank_code: "ICBC".into(),
        card_number: CardNumber::parse(CARD).expect("card"),
        pan: Pan::parse(PAN).expect("pan"),
        holder: Holder {
            name: "张三".into(),
            id_type: IdType::ResidentId,
            id_number: IdNumber::parse(ID).expect("id"),
        },
        face_to_face: FaceToFace {
            holder_present: true,
            id_document_checked: true,
            id_valid_until: ValidUntil::LongTerm,
            photo: Some(Photo {
                digest: PhotoDigest::new(DigestAlgorithm::Sm3, &"3d".repeat(32)).expect("digest"),
                taken_at: bank::now_unix() - 30,
            }),
        },
    }
}

/// The frozen account's holder activating card X00000019.
pub fn frozen_request(id: &str) -> ActivationRequest {
    let mut r = request(id);
    r.card_number = CardNumber::parse("X00000019").expect("card");
    r.pan = Pan::parse(FROZEN_PAN).expect("pan");
    r.holder = Holder {
        name: "王𠮷".into(),
        id_type: IdType::ResidentId,
        id_number: IdNumber::parse(FROZEN_ID).expect("id"),
    };
    r
}
