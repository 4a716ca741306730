//! Plays `demo_events()` through a renderer, sped up, to look at the output by eye:
//! `cargo run -p backup-orchestrator-render --example demo [-- plain|bars|json|quiet [speedup]]`.

use std::io::IsTerminal;
use std::thread::sleep;
use std::time::Duration;

use backup_orchestrator_proto::Event;
use backup_orchestrator_render::{OutputMode, RenderOptions, Renderer, demo_events};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = match args.next().as_deref() {
        Some("plain") => OutputMode::Plain,
        Some("bars") => OutputMode::Bars,
        Some("json") => OutputMode::Json,
        Some("quiet") => OutputMode::Quiet,
        _ => OutputMode::choose(false, false, std::io::stderr().is_terminal()),
    };
    let speedup: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
        .max(1);
    let mut renderer = Renderer::new(RenderOptions {
        mode,
        verbose: false,
        host_label: Some("forge".to_owned()),
    });
    let mut clock = 0;
    for envelope in demo_events() {
        sleep(Duration::from_millis(
            (envelope.elapsed_ms - clock) / speedup,
        ));
        clock = envelope.elapsed_ms;
        renderer.event(&envelope)?;
        if let Event::RunFinished(finished) = &envelope.event {
            renderer.finish(&finished.summary)?;
        }
    }
    Ok(())
}
