#![no_main]
//! Fuzz target: any sequence of lines through the traceback assembler, each
//! in a burst, after a pause or unknown (picked from its length), and any
//! assembled text through its parser. Every non-empty line comes back out,
//! in order: in an event, or handed back on its own.

use libfuzzer_sys::fuzz_target;
use logmux_parsers::traceback::{self, Action, Assembler, Burst};
use logmux_parsers::Record;

fn emit(event: &str, out: &mut Vec<String>) {
    let _ = traceback::parse(event, &mut Record::default());
    out.extend(event.split('\n').map(str::to_string));
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut asm = Assembler::new();
    let mut out = Vec::new();
    for line in text.split('\n') {
        let burst = [Burst::Same, Burst::Paused, Burst::Unknown][line.len() % 3];
        let mut consumed = false;
        for _ in 0..3 {
            match asm.push_in(line, burst) {
                Action::Flush => {
                    if let Some(event) = asm.take() {
                        emit(&event, &mut out);
                    }
                }
                Action::Unjoin => {
                    if let Some(event) = asm.take() {
                        emit(&event, &mut out);
                    }
                    out.extend(asm.take_unjoined().split('\n').map(str::to_string));
                }
                Action::Single => {
                    out.push(line.to_string());
                    consumed = true;
                    break;
                }
                Action::Taken => {
                    consumed = true;
                    break;
                }
            }
        }
        if !consumed {
            // As the engine does after three offers.
            out.push(line.to_string());
        }
    }
    if let Some(event) = asm.flush() {
        emit(&event, &mut out);
    }
    // Held blank lines may be dropped; nothing else is lost or reordered.
    let want: Vec<&str> = text.split('\n').filter(|l| !l.trim().is_empty()).collect();
    let got: Vec<&str> = out.iter().map(String::as_str).filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(got, want);
});
