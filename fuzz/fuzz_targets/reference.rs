//! The reference parser never panics, and what it accepts prints back as it was read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pin::reference::ImageRef;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(image) = ImageRef::parse(text) {
        assert_eq!(image.to_string(), text);
        let _ = image.repository();
    }
});
