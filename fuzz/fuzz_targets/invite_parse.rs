//! An invite code pasted by a user: any text parses or is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshdesk_sync::invite::InviteCode;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(code) = InviteCode::parse(text)
    {
        assert!(InviteCode::parse(&code.encode()).is_ok());
    }
});
