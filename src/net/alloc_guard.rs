//! A global allocator that turns impossible allocations into lazy ones.
//!
//! Why this exists: kafka-protocol 0.18 sizes `Vec::with_capacity` straight from array counts on
//! the wire, so a 14-byte Metadata request claiming 2^31 topics asks for ~150 GB before reading a
//! single element. The system allocator refuses, and a refused allocation aborts the process —
//! it cannot be caught. Carrying a patched copy of the crate is not allowed, so instead every
//! allocation of `LAZY_THRESHOLD_BYTES` or more is served by an anonymous `mmap` with
//! `MAP_NORESERVE`: the kernel hands out address space without committing memory, the decoder
//! runs out of input bytes after touching at most as many pages as the frame justifies, returns
//! an error, and the mapping is unmapped. Legitimate allocations that large do not occur in the
//! broker (frames are capped by `socket.request.max.bytes`, 100 MiB by default), so nothing
//! real takes this path.
//!
//! The connection layer additionally decodes inside `catch_unwind`, and the hostile-frame tests
//! prove the 14-byte frame above and random frames are answered with a closed connection.

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations at least this large are reserved lazily instead of committed.
pub const LAZY_THRESHOLD_BYTES: usize = 1 << 30;

/// The broker's global allocator: the system allocator, plus lazy reservation for huge requests.
pub struct GuardedAllocator;

const PAGE_BYTES: usize = 4096;

fn is_lazy(layout: &Layout) -> bool {
    layout.size() >= LAZY_THRESHOLD_BYTES
}

unsafe fn map_lazily(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping touches no existing memory.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        ptr.cast()
    }
}

unsafe impl GlobalAlloc for GuardedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_lazy(&layout) && layout.align() <= PAGE_BYTES {
            // SAFETY: size is non-zero (it is at least the threshold).
            unsafe { map_lazily(layout.size()) }
        } else {
            // SAFETY: forwarded contract.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_lazy(&layout) && layout.align() <= PAGE_BYTES {
            // Anonymous mappings are zero-filled.
            // SAFETY: as in `alloc`.
            unsafe { map_lazily(layout.size()) }
        } else {
            // SAFETY: forwarded contract.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_lazy(&layout) && layout.align() <= PAGE_BYTES {
            // SAFETY: `ptr` came from `map_lazily` with exactly this size.
            unsafe {
                libc::munmap(ptr.cast(), layout.size());
            }
        } else {
            // SAFETY: forwarded contract.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        if !is_lazy(&layout) && !is_lazy(&new_layout) {
            // SAFETY: forwarded contract.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: the new block is fresh; we copy the overlap and free the old one.
        unsafe {
            let new_ptr = self.alloc(new_layout);
            if !new_ptr.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new_ptr
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_reservation_succeeds_without_committing() {
        let a = GuardedAllocator;
        let layout = Layout::from_size_align(150 << 30, 8).unwrap();
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null(), "150 GiB lazy reservation must succeed");
            // Touch the first and a far page: only these become resident.
            *p = 7;
            *p.add(100 << 30) = 9;
            assert_eq!(*p, 7);
            a.dealloc(p, layout);
        }
    }

    #[test]
    fn small_realloc_into_lazy_keeps_contents() {
        let a = GuardedAllocator;
        let layout = Layout::from_size_align(64, 8).unwrap();
        unsafe {
            let p = a.alloc(layout);
            for i in 0..64 {
                *p.add(i) = i as u8;
            }
            let q = a.realloc(p, layout, LAZY_THRESHOLD_BYTES + 1);
            assert!(!q.is_null());
            for i in 0..64 {
                assert_eq!(*q.add(i), i as u8);
            }
            a.dealloc(
                q,
                Layout::from_size_align(LAZY_THRESHOLD_BYTES + 1, 8).unwrap(),
            );
        }
    }
}
