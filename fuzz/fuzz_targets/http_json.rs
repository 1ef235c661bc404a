//! A request body sent to the gateway: parsed and checked as each handler
//! does, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    meshdesk_channels::http::fuzz_json_bodies(data);
});
