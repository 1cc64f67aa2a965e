//! The settings file parser never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pin::config::Settings;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Settings::parse(std::path::Path::new("pin.toml"), text);
});
