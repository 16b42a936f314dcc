//! cd bindings/rust && cargo run --example ask -- MODEL.gguf [MMPROJ.gguf VIDEO] "question"
//! (the `videollm` crate's example; it links libvideollm as that crate does)
//! Streams the answer; with an mmproj and a video, asks about the video.
use std::io::Write;

use videollm::{GenerateParams, Model, ModelParams, SessionParams, VideoParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 && args.len() != 4 {
        eprintln!("usage: ask MODEL.gguf [MMPROJ.gguf VIDEO] QUESTION");
        std::process::exit(2);
    }
    let mut params = ModelParams::default();
    if args.len() == 4 {
        params.mmproj = Some(args[1].clone().into());
    }
    let model = Model::load(&args[0], &params)?;
    let mut session = model.session(&SessionParams::default())?;
    if args.len() == 4 {
        session.push_video(&args[2], &VideoParams { n_frames: 4, ..Default::default() })?;
    }
    let gen = GenerateParams { max_tokens: 64, ..Default::default() };
    let mut out = std::io::stdout();
    for token in session.tokens(args.last().unwrap(), &gen)? {
        out.write_all(&token?.piece)?;
        out.flush()?;
    }
    println!();
    Ok(())
}
