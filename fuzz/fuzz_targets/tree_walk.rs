//! The new-object walk over arbitrary object bytes: the input, stored as a tree or a commit
//! (first byte), is walked as a push tip. It must not panic, whatever the entries, modes,
//! names or ids; an object that cannot be read is an error, never a crash.
#![no_main]

use std::sync::OnceLock;

use gix::objs::Write as _;

use leakgate_hooks::{new_objects, Objects};
use libfuzzer_sys::fuzz_target;

fn repo() -> gix::Repository {
    static REPO: OnceLock<(tempfile::TempDir, gix::ThreadSafeRepository)> = OnceLock::new();
    let (_, repo) = REPO.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let repo = gix::init_bare(dir.path().join("fuzz.git")).expect("a bare repository");
        // One real blob and tree that fuzzed entries may name.
        repo.write_blob(b"content\n").expect("blob");
        (dir, repo.into_sync())
    });
    repo.to_thread_local()
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let repo = repo();
    let kind = if first & 1 == 0 { gix::objs::Kind::Tree } else { gix::objs::Kind::Commit };
    let Ok(id) = repo.objects.write_buf(kind, body) else { return };
    let objects = Objects::new(&repo, None).expect("no quarantine to open");
    let _ = new_objects(&objects, &[id], &[], None, true, &|| false, &mut |_| {});
});
