//! A peer's frame: any bytes decode to a frame or an error, never a panic,
//! and what decodes encodes again to a frame that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshdesk_sync::protocol::Frame;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::decode(data)
        && let Ok(again) = frame.encode()
    {
        assert_eq!(Frame::decode(&again).ok(), Some(frame));
    }
});
