//! The pre-receive hook's standard input parser on arbitrary bytes: it must not panic, every
//! update it returns must be a well-formed line of the input, and what it shows of a ref name
//! must hold no control character.
#![no_main]

use leakgate_hooks::parse_updates;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for kind in [gix::hash::Kind::Sha1, gix::hash::Kind::Sha256] {
        match parse_updates(data, kind) {
            Ok(updates) => {
                for update in updates {
                    assert!(!update.name.is_empty());
                    assert!(!update.display_name().chars().any(char::is_control));
                    let line = [
                        update.old.to_string().as_bytes(),
                        b" ",
                        update.new.to_string().as_bytes(),
                        b" ",
                        &update.name,
                    ]
                    .concat();
                    assert!(data.windows(line.len()).any(|w| w.eq_ignore_ascii_case(&line)));
                }
            }
            Err(e) => assert!(!e.to_string().chars().any(char::is_control)),
        }
    }
});
