//! The span tree against hand-counted offsets.

use super::*;

#[test]
fn char_offsets_are_bytes_of_multibyte_text() {
    let text = "\u{feff}é: ü\r\n";
    let offsets = CharOffsets::new(text);
    assert_eq!(offsets.byte(0), 0);
    assert_eq!(offsets.byte(1), 3); // after the BOM
    assert_eq!(offsets.byte(2), 5); // after é
    assert_eq!(offsets.byte(4), 7);
    assert_eq!(offsets.byte(99), text.len());
    let ascii = CharOffsets::new("abc");
    assert_eq!(ascii.byte(2), 2);
    assert_eq!(ascii.byte(9), 3);
}

#[test]
fn closing_quote_honours_escapes() {
    assert_eq!(closing_quote("'it''s' x", 0), Some(6));
    assert_eq!(closing_quote("''''", 0), Some(3));
    assert_eq!(closing_quote(r#""a\"b" # "c""#, 0), Some(5));
    assert_eq!(closing_quote(r#""a\\" x""#, 0), Some(4));
    assert_eq!(closing_quote("\"é\\é\" ", 0), Some(6));
    assert_eq!(closing_quote("'open", 0), None);
    assert_eq!(closing_quote("\"open\\\"", 0), None);
    assert_eq!(closing_quote("x", 0), None);
}

fn scalar_after(text: &str, key: &str) -> (Yaml, NodeId) {
    let yaml = parse(text).unwrap();
    let root = yaml.documents[0];
    let id = yaml.get(root, key).unwrap();
    (yaml, id)
}

#[test]
fn scalar_spans_skip_properties_and_quotes() {
    let text = "\u{feff}ключ: x\na: &x !!str \"py:3\" # \"c\"\nb: 'it''s'\nc: \"a\\u0041\"\nd: plain  # c\n";
    for (key, expected) in [
        ("a", Some("py:3")),
        ("b", None),
        ("c", None),
        ("d", Some("plain")),
    ] {
        let (yaml, id) = scalar_after(text, key);
        let scalar = yaml.scalar(id).unwrap();
        assert_eq!(scalar.text.map(|s| s.of(text)), expected, "{key}");
    }
    let (yaml, id) = scalar_after(text, "b");
    assert_eq!(yaml.scalar(id).unwrap().token.of(text), "'it''s'");
}

#[test]
fn literal_block_maps_lines_back_to_the_file() {
    let text = "k: &a |-\r\n\r\n    FROM x\r\n      RUN é\r\nz: 1\n";
    let (yaml, id) = scalar_after(text, "k");
    let scalar = yaml.scalar(id).unwrap();
    assert_eq!(scalar.value, "\nFROM x\n  RUN é");
    let map = content_map(text, scalar).unwrap();
    let from = scalar.value.find("x").unwrap();
    let span = map.to_file(Span::new(from, from + 1)).unwrap();
    assert_eq!(span.of(text), "x");
    let run = scalar.value.find("RUN").unwrap();
    let span = map
        .to_file(Span::new(run - 2, run + "RUN é".len()))
        .unwrap();
    assert_eq!(span.of(text), "  RUN é");
    // Without a header on the marker's line.
    let text = "k: |\n\n  FROM y\n";
    let (yaml, id) = scalar_after(text, "k");
    let scalar = yaml.scalar(id).unwrap();
    let map = content_map(text, scalar).unwrap();
    let at = scalar.value.find('y').unwrap();
    assert_eq!(map.to_file(Span::new(at, at + 1)).unwrap().of(text), "y");
}

#[test]
fn folded_blocks_have_no_map() {
    let text = "k: >\n  FROM a\n  RUN b\n";
    let (yaml, id) = scalar_after(text, "k");
    assert!(content_map(text, yaml.scalar(id).unwrap()).is_none());
}

#[test]
fn merge_keys_and_aliases() {
    let text = "base: &b {image: x, build: .}\nweb:\n  <<: *b\n  image: y\nother: *b\n";
    let yaml = parse(text).unwrap();
    let root = yaml.documents[0];
    let web = yaml.get(root, "web").unwrap();
    let image = yaml.get(web, "image").unwrap();
    assert_eq!(yaml.scalar(image).unwrap().value, "y");
    assert!(yaml.get(web, "build").is_some());
    let other = yaml.get(root, "other").unwrap();
    assert_eq!(
        yaml.scalar(yaml.get(other, "image").unwrap())
            .unwrap()
            .value,
        "x"
    );
}

#[test]
fn errors_name_the_line() {
    let err = parse("a: b\nc: [d\ne: f\n").unwrap_err();
    assert_eq!(err.position.line, 3);
    let err = parse("é: \"x\n").unwrap_err();
    assert_eq!(err.position.line, 1);
}
