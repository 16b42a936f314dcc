//! Shared helpers of the integration tests: fixture paths and the C CLI.
//! VIDEOLLM_TEST_DATA (default: the repository's tests/data), VIDEOLLM_CLI
//! (default: $VIDEOLLM_LIB_DIR/examples/videollm).
#![allow(dead_code)]
use std::path::PathBuf;
use std::process::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

pub fn data() -> PathBuf {
    std::env::var_os("VIDEOLLM_TEST_DATA").map(PathBuf::from).unwrap_or_else(|| root().join("tests/data"))
}

pub fn text_model() -> PathBuf {
    data().join("tiny-smolvlm2/models/tiny-smolvlm2-main-text-F32.gguf")
}

pub fn mmproj() -> PathBuf {
    data().join("tiny-smolvlm2/models/tiny-smolvlm2-main-mmproj-F32.gguf")
}

pub fn video() -> PathBuf {
    data().join("media/test-3.mp4")
}

/// The `videollm` CLI, or None (the comparison tests then say so and pass
/// nothing: they return early with a message).
pub fn cli() -> Option<PathBuf> {
    let p = match std::env::var_os("VIDEOLLM_CLI") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("VIDEOLLM_LIB_DIR")?).join("examples/videollm"),
    };
    if p.is_file() {
        Some(p)
    } else {
        None
    }
}

/// (text bytes, ids) of `videollm ask --print-ids`.
pub fn cli_ask(cli: &PathBuf, prompt: &str, n: i32, seed: u64, temp: f32, raw: bool, extra: &[&str]) -> (Vec<u8>, Vec<i32>) {
    let mut cmd = Command::new(cli);
    cmd.arg("ask").arg("-m").arg(text_model()).args(["-p", prompt, "-t", "1", "--print-ids"]);
    cmd.arg("-n").arg(n.to_string()).arg("--seed").arg(seed.to_string()).arg("--temp").arg(temp.to_string());
    if raw {
        cmd.arg("--raw");
    }
    cmd.args(extra);
    let out = cmd.output().expect("run videollm");
    assert!(out.status.success(), "videollm ask failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut s = out.stdout;
    assert_eq!(s.pop(), Some(b'\n'));
    let cut = s.iter().rposition(|&b| b == b'\n').expect("ids line");
    let ids = String::from_utf8(s[cut + 1..].to_vec()).unwrap().split_whitespace().map(|x| x.parse().unwrap()).collect();
    s.truncate(cut);
    (s, ids)
}

/// The integer array `"key": [..]` of a small JSON file (no JSON crate).
pub fn json_ints(text: &str, key: &str) -> Vec<i32> {
    let at = text.find(&format!("\"{}\"", key)).expect("key");
    let open = at + text[at..].find('[').unwrap();
    let close = open + text[open..].find(']').unwrap();
    text[open + 1..close].split(',').map(|x| x.trim().parse().unwrap()).collect()
}

pub fn json_str(text: &str, key: &str) -> String {
    let at = text.find(&format!("\"{}\"", key)).expect("key");
    let rest = &text[at + key.len() + 2..];
    let open = rest.find('"').unwrap();
    let close = open + 1 + rest[open + 1..].find('"').unwrap();
    rest[open + 1..close].to_string()
}
