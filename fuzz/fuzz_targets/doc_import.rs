//! A document received whole: the sealed payload is decoded, its bytes are
//! checked against the decoding bounds, and only then handed to Automerge,
//! as the store's import path does. Nothing may panic or allocate past the
//! bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshdesk_model::authorship::Sealed;
use meshdesk_model::bounds;

fuzz_target!(|data: &[u8]| {
    let Ok(sealed) = Sealed::decode(data) else {
        return;
    };
    if bounds::check_document(&sealed.bytes).is_ok() {
        let _ = automerge::AutoCommit::load(&sealed.bytes);
    }
    let _ = bounds::check_sync_message(&sealed.bytes);
});
