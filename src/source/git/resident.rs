//! What a long history scan keeps resident that it no longer needs, given back as it goes.
//!
//! gix maps each pack file whole and reads objects straight from the mapping. A history scan
//! reads nearly the whole pack, in pack order, and every page it touched stays counted in its
//! resident memory to the end (git/git: 280 MiB of a 474 MiB pack). Those pages are read-only
//! views of the file: advising the kernel that they are not needed drops them from the process
//! (they stay in the page cache), and a later read of the same bytes maps them in again from the
//! file, unchanged. So the pack pages are released each time another `RELEASE_EVERY` bytes of
//! blobs were read, and at the end of each phase; the memory the phase's caches freed is given
//! back to the system then too (only then: trimming the allocator while caches churn would have
//! every freed page faulted in again moments later).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many bytes of objects are read between two releases of the pack pages: what the pages
/// behind the reader can add up to in the meantime, whatever the size of the pack.
const RELEASE_EVERY: u64 = 32 * 1024 * 1024;

/// The pack files of one repository, and when their pages are next released.
pub struct PackPages {
    /// The directory holding the pack files (`objects/pack`).
    dir: PathBuf,
    /// The count of bytes read at which the next release is due.
    next: AtomicU64,
}

impl PackPages {
    pub fn new(repo: &gix::Repository) -> PackPages {
        let dir = repo.objects.store_ref().path().join("pack");
        PackPages {
            // As the kernel names the mapped files: absolute, links resolved.
            dir: dir.canonicalize().unwrap_or(dir),
            next: AtomicU64::new(RELEASE_EVERY),
        }
    }

    /// Notes that `read` bytes were read so far in all; releases the pack pages each time that
    /// passes another `RELEASE_EVERY` bytes (one thread does it; the others carry on reading).
    pub fn after(&self, read: u64) {
        let due = self.next.load(Ordering::Relaxed);
        if read < due {
            return;
        }
        let claimed = self.next.compare_exchange(
            due,
            read + RELEASE_EVERY,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        if claimed.is_ok() {
            self.release_pages();
        }
    }

    /// Drops the pack files' pages from this process's resident memory; how many mappings.
    pub fn release_pages(&self) -> usize {
        release_mapped(&self.dir)
    }

    /// At the end of a phase: drops the pack files' pages from this process's resident memory,
    /// and gives the memory that the allocator holds free back to the system. Returns how many
    /// mappings it released.
    pub fn release(&self) -> usize {
        release_freed_memory();
        self.release_pages()
    }
}

/// The read-only mappings of `.pack` files in `dir`, released; how many.
#[cfg(target_os = "linux")]
fn release_mapped(dir: &std::path::Path) -> usize {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let mut released = 0;
    for (start, end) in maps.lines().filter_map(|line| pack_mapping(line, dir)) {
        // SAFETY: the range is a whole mapping of a pack file, read-only (never written, so
        // every page is the file's content). MADV_DONTNEED on such a mapping only unmaps its
        // pages from this process: the next read faults them in again from the file, with the
        // same bytes, so no reader, in this thread or another, can see a difference. Git never
        // rewrites a pack file in place.
        #[allow(unsafe_code)]
        let done =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if done == 0 {
            released += 1;
        }
    }
    released
}

#[cfg(not(target_os = "linux"))]
fn release_mapped(_dir: &std::path::Path) -> usize {
    0
}

/// The address range of a line of `/proc/self/maps` that maps a `.pack` file of `dir` without
/// write access: `start-end perms offset dev inode path`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn pack_mapping(line: &str, dir: &std::path::Path) -> Option<(usize, usize)> {
    let mut fields = line.splitn(6, ' ');
    let range = fields.next()?;
    let perms = fields.next()?;
    let path = fields.nth(3)?.trim_start();
    let path = std::path::Path::new(path);
    if perms.contains('w') || path.parent() != Some(dir) {
        return None;
    }
    if path.extension().is_none_or(|x| x != "pack") {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (end > start).then_some((start, end))
}

/// Returns the memory the allocator holds free (caches of finished phases) to the system.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's own heaps to the system.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_mappings_of_pack_files_in_the_directory_are_released() {
        let dir = std::path::Path::new("/r/.git/objects/pack");
        let line = |perms: &str, path: &str| {
            format!("7f0000000000-7f0000010000 {perms} 00000000 fd:00 1234      {path}")
        };
        let pack = "/r/.git/objects/pack/pack-1.pack";
        assert_eq!(
            pack_mapping(&line("r--p", pack), dir),
            Some((0x7f00_0000_0000, 0x7f00_0001_0000))
        );
        assert_eq!(pack_mapping(&line("rw-p", pack), dir), None);
        assert_eq!(
            pack_mapping(&line("r--p", "/r/.git/objects/pack/pack-1.idx"), dir),
            None
        );
        assert_eq!(
            pack_mapping(&line("r--p", "/elsewhere/pack-1.pack"), dir),
            None
        );
        assert_eq!(pack_mapping(&line("r--p", ""), dir), None);
        assert_eq!(
            pack_mapping("00400000-00452000 r-xp 00000000 08:02 173521", dir),
            None
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn released_pages_read_back_the_same() {
        let dir = tempfile::TempDir::new().unwrap();
        let repo = gix::init_bare(dir.path()).unwrap();
        let pack_dir = repo.objects.store_ref().path().join("pack");
        std::fs::create_dir_all(&pack_dir).unwrap();
        let file = pack_dir.join("pack-test.pack");
        let bytes: Vec<u8> = (0..1_000_000u32).map(|n| (n % 251) as u8).collect();
        std::fs::write(&file, &bytes).unwrap();
        let opened = std::fs::File::open(&file).unwrap();
        // SAFETY: the file is ours and not changed while mapped.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().map_copy_read_only(&opened) }.unwrap();
        assert_eq!(&map[..], &bytes[..]);
        let pages = PackPages::new(&repo);
        assert_eq!(pages.release(), 1);
        assert_eq!(&map[..], &bytes[..]);
    }
}
