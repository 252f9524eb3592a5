#![no_main]
//! Fuzz target: any sequence of lines through the traceback assembler, and
//! any assembled text through its parser.

use libfuzzer_sys::fuzz_target;
use logmux_parsers::traceback::{self, Action, Assembler};
use logmux_parsers::Record;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut asm = Assembler::new();
    for line in text.split('\n') {
        for _ in 0..3 {
            match asm.push(line) {
                Action::Flush => {
                    if let Some(event) = asm.take() {
                        let _ = traceback::parse(&event, &mut Record::default());
                    }
                }
                Action::Single | Action::Taken => break,
            }
        }
    }
    if let Some(event) = asm.flush() {
        let _ = traceback::parse(&event, &mut Record::default());
    }
});
