//! Every enumerator and constant of the header has a videollm-sys constant
//! with the same value: names from the preprocessed header (enum bodies of
//! `cc -E`, macros of `cc -E -dM`), values from a C program compiled
//! against it. A value added to or changed in include/vllm/videollm.h
//! without updating the bindings fails here.
use std::collections::BTreeMap;
use std::process::Command;

use videollm::{sys, KvType};

mod common;

/// (name, value) of every constant videollm-sys declares for the header.
macro_rules! table {
    ($($n:ident),* $(,)?) => { vec![$((stringify!($n), sys::$n as i64)),*] };
}

fn sys_constants() -> BTreeMap<String, i64> {
    let t = table![
        VLLM_OK, VLLM_DONE, VLLM_ERR_INVALID_ARG, VLLM_ERR_IO, VLLM_ERR_FORMAT, VLLM_ERR_UNSUPPORTED, VLLM_ERR_NOMEM,
        VLLM_ERR_CONTEXT_FULL, VLLM_ERR_CANCELLED, VLLM_ERR_DECODE, VLLM_ERR_BUFFER_TOO_SMALL, VLLM_ERR_STATE,
        VLLM_ERR_INTERNAL, VLLM_LOG_ERROR, VLLM_LOG_WARN, VLLM_LOG_INFO, VLLM_LOG_DEBUG, VLLM_VISION_AUTO,
        VLLM_VISION_F32, VLLM_VISION_GGML, VLLM_VISION_BF16, VLLM_IMAGE_TOKENS_LIMIT, VLLM_TOKENIZE_ADD_SPECIAL, VLLM_TOKENIZE_PARSE_SPECIAL,
        VLLM_DETOKENIZE_SPECIAL, VLLM_KV_F32, VLLM_KV_F16, VLLM_KV_Q8_0, VLLM_KV_Q4_0, VLLM_STOP_NONE, VLLM_STOP_EOG,
        VLLM_STOP_MAX_TOKENS, VLLM_STOP_STRING, VLLM_STOP_CONTEXT_FULL, VLLM_STOP_CANCELLED, VLLM_PIXFMT_RGB24,
        VLLM_PIXFMT_RGBA, VLLM_PIXFMT_BGRA, VLLM_PIXFMT_NV12, VLLM_PIXFMT_YUV420P, VLLM_SOURCE_NONE,
        VLLM_SOURCE_CONNECTING, VLLM_SOURCE_READING, VLLM_SOURCE_RECONNECTING, VLLM_SOURCE_ENDED, VLLM_SOURCE_FAILED,
        VLLM_SOURCE_MESSAGE_MAX, VLLM_WATCH_FIRST, VLLM_WATCH_PERIOD, VLLM_WATCH_CHANGE,
    ];
    t.into_iter().map(|(n, v)| (n.to_string(), v)).collect()
}

/// Macros that are not values a caller passes (the version has its own test).
const NOT_CONSTANTS: &[&str] = &[
    "VLLM_API", "VLLM_VIDEOLLM_H", "VLLM_EXPERIMENTAL", "VLLM_VERSION_MAJOR", "VLLM_VERSION_MINOR",
    "VLLM_VERSION_PATCH", "VLLM_VERSION_NUMBER", "VLLM_VERSION_STRING",
];

fn run(cmd: &mut Command) -> Option<String> {
    match cmd.output() {
        Ok(o) if o.status.success() => Some(String::from_utf8(o.stdout).unwrap()),
        Ok(o) => panic!("{:?} failed: {}", cmd, String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            eprintln!("no C compiler ({:?}: {}): enum comparison skipped", cmd, e);
            None
        }
    }
}

/// Enumerator names per enum type, from the preprocessed header.
fn header_enums(pre: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut rest = pre;
    while let Some(at) = rest.find("enum ") {
        rest = &rest[at + 5..];
        let (open, close) = match (rest.find('{'), rest.find('}')) {
            (Some(o), Some(c)) if o < c && rest[..o].trim().chars().all(|ch| ch.is_alphanumeric() || ch == '_') => (o, c),
            _ => continue,
        };
        let names: Vec<String> = rest[open + 1..close]
            .split(',')
            .map(|item| item.split('=').next().unwrap().trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        let typedef = rest[close + 1..].split(';').next().unwrap().trim().to_string();
        out.insert(typedef, names);
        rest = &rest[close..];
    }
    out
}

#[test]
fn every_header_constant_is_in_sys() {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let root = common::root();
    let inc = root.join("include");
    let header = inc.join("vllm/videollm.h");
    let pre = match run(Command::new(&cc).args(["-E", "-P", "-DVLLM_EXPERIMENTAL", "-I"]).arg(&inc).arg(&header)) {
        Some(t) => t,
        None => return,
    };
    let enums = header_enums(&pre);
    assert!(enums.contains_key("vllm_kv_type") && enums.len() >= 5, "enums found: {:?}", enums.keys());
    let macros = run(Command::new(&cc).args(["-E", "-dM", "-DVLLM_EXPERIMENTAL", "-I"]).arg(&inc).arg(&header)).unwrap();
    let mut names: Vec<String> = enums.values().flatten().cloned().collect();
    for line in macros.lines() {
        let mut it = line.split_whitespace();
        if let (Some("#define"), Some(n)) = (it.next(), it.next()) {
            if n.starts_with("VLLM_") && !n.contains('(') && !NOT_CONSTANTS.contains(&n) {
                names.push(n.to_string());
            }
        }
    }
    // the values, as the C compiler evaluates them
    let dir = std::env::temp_dir().join(format!("videollm-enums-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut src = String::from("#define VLLM_EXPERIMENTAL\n#include <stdio.h>\n#include \"vllm/videollm.h\"\nint main(void)\n{\n");
    for n in &names {
        src.push_str(&format!("    printf(\"%s %lld\\n\", \"{}\", (long long)({}));\n", n, n));
    }
    src.push_str("    return 0;\n}\n");
    std::fs::write(dir.join("values.c"), src).unwrap();
    let exe = dir.join("values");
    run(Command::new(&cc).arg("-std=c11").arg("-I").arg(&inc).arg(dir.join("values.c")).arg("-o").arg(&exe)).unwrap();
    let out = run(&mut Command::new(&exe)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let header_values: BTreeMap<String, i64> = out
        .lines()
        .map(|l| {
            let mut it = l.split_whitespace();
            (it.next().unwrap().to_string(), it.next().unwrap().parse().unwrap())
        })
        .collect();
    assert_eq!(sys_constants(), header_values, "videollm-sys constants vs. the header");

    // the safe crate's KvType covers every vllm_kv_type value (the match has
    // no wildcard, so a new variant must be listed here too)
    let all = [KvType::F32, KvType::F16, KvType::Q8_0, KvType::Q4_0];
    for k in all {
        match k {
            KvType::F32 | KvType::F16 | KvType::Q8_0 | KvType::Q4_0 => {}
        }
    }
    assert_eq!(all.len(), enums["vllm_kv_type"].len(), "KvType variants vs. vllm_kv_type");
}
