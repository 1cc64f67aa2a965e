//! A cheap look at a generic YAML file's bytes before its full parse, as ripgrep
//! searches for a literal before it runs its matcher: most YAML files of a large
//! tree (settings, CI templates, data) name no image at all, and building their
//! span tree is most of a scan's time.
//!
//! The Kubernetes extractor reads only `image` keys (`volumes[].image.reference`
//! included; a Helm template's `image:` lines too). YAML spells a key's text either
//! as it is or, in a double-quoted scalar, with `\` escapes (`"\x69mage"`, a line
//! break escaped in the middle): a text without the bytes `image` and without a
//! backslash can hold no such key, so no reference. The gate stays closed: any other
//! text is parsed as before.
//!
//! Such a file is not parsed at all, so its syntax is not checked either: `pin` is
//! not a YAML linter, and a file that cannot hold an image reference cannot hide one
//! from the gate by being broken. Checking it on the parser's events alone (no tree)
//! cost more than half of the CPU time of a large tree's scan.

/// Whether `text` may hold a key the Kubernetes extractor reads (see the module's
/// comment); `false` means it certainly holds none.
pub(crate) fn may_hold_image_key(text: &str) -> bool {
    text.contains('\\') || text.contains("image")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_texts_without_image_and_backslash_are_let_through() {
        assert!(may_hold_image_key("containers:\n- image: a\n"));
        assert!(may_hold_image_key("x: {image: a}\n"));
        assert!(may_hold_image_key("\"\\x69mage\": a\n"));
        assert!(may_hold_image_key("? \"ima\\\n  ge\"\n: a\n"));
        assert!(!may_hold_image_key("name: a\nvalues: [1, 2]\n"));
        assert!(!may_hold_image_key("Image: a\nIMAGE: b\n"));
    }
}
