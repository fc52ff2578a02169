//! The open-file cache: files kept open between requests, least recently
//! used first out, each checked against the file system before it is
//! served again.
//!
//! A hit costs a hash lookup under one shard's lock, a reference count
//! and a `stat` of the path outside the lock; nothing is allocated. The
//! `stat` is compared with the identity the open file had when it was
//! opened (device, inode, length, modification time): a file replaced
//! (another inode), rewritten (another time or length) or deleted is
//! opened afresh, and the headers of a response always describe the very
//! descriptor its bytes come from.
//!
//! The lock is sharded by path: workers serving different files rarely
//! meet, and the lock is held for a lookup and a list update only, never
//! across a system call that touches the disk.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::paths::Root;

/// How long the absence of a precompressed sibling is remembered before
/// it is looked for again: a `.br` file added next to a cached file is
/// served within this time.
pub(super) const ABSENCE_TTL: Duration = Duration::from_secs(1);

/// Shards of the cache (fewer if the capacity is smaller).
const SHARDS: usize = 16;

/// What identifies a file's content as of a moment: if none of it
/// changed, neither did the bytes (short of a write that restores the
/// modification time, which no tool does by accident).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    /// Length in bytes.
    pub(crate) len: u64,
    /// Modification time: seconds since the epoch (0 before it).
    pub(crate) modified_secs: u64,
    /// Modification time: the nanoseconds within the second.
    pub(crate) modified_nanos: u32,
    /// Inode number (0 where the platform has none to give).
    pub(crate) inode: u64,
    /// Device number (0 where the platform has none to give).
    pub(crate) device: u64,
}

impl Identity {
    /// The identity `metadata` describes.
    pub(super) fn of(metadata: &Metadata) -> Identity {
        let modified = metadata
            .modified()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        #[cfg(unix)]
        let (inode, device) = {
            use std::os::unix::fs::MetadataExt;
            (metadata.ino(), metadata.dev())
        };
        #[cfg(not(unix))]
        let (inode, device) = (0, 0);
        Identity {
            len: metadata.len(),
            modified_secs: modified.as_secs(),
            modified_nanos: modified.subsec_nanos(),
            inode,
            device,
        }
    }
}

/// An open file and what it was when opened.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    /// The file, shared with the responses sending it.
    pub(super) file: Arc<File>,
    /// Its identity, from `fstat` of the open descriptor.
    pub(super) identity: Identity,
}

/// What a path leads to.
#[derive(Debug)]
pub(super) enum Opened {
    /// A regular file (or a link to one) inside the root.
    File(Entry),
    /// A directory inside the root.
    Dir,
    /// Nothing servable: no such file, one that cannot be read, or one
    /// that resolves outside the root or to a hidden name.
    Missing,
}

/// A cached value.
#[derive(Debug)]
enum Value {
    /// An open file, and when its path was last found to name it.
    Present(Entry, Instant),
    /// No file there when last looked, at this instant.
    Absent(Instant),
    /// Nothing known: a slot whose file went away, first to be reused.
    Forgotten,
}

/// The open-file cache; see the [module](self) documentation.
#[derive(Debug)]
pub(super) struct FileCache {
    /// The shards, each a bounded LRU map.
    shards: Box<[Mutex<Lru>]>,
    /// How long a file found unchanged is served without a `stat`
    /// (zero: every hit checks).
    pub(super) valid_for: Duration,
}

impl FileCache {
    /// A cache of at most `capacity` entries (0: none; every request
    /// opens its file).
    pub(super) fn new(capacity: usize) -> FileCache {
        let shards = SHARDS.min(capacity);
        let per_shard = capacity.checked_div(shards).unwrap_or(0);
        let extra = capacity.checked_rem(shards).unwrap_or(0);
        FileCache {
            shards: (0..shards)
                .map(|i| Mutex::new(Lru::new(per_shard + usize::from(i < extra))))
                .collect(),
            valid_for: Duration::ZERO,
        }
    }

    /// The file at `path`, cached under `key`: the cached one if the path
    /// still names it, otherwise opened (and checked to resolve inside
    /// `root`, without hidden names unless `hidden`) and cached. With
    /// `remember_absence`, a missing file is cached as such for
    /// [`ABSENCE_TTL`] (for siblings, looked for on every request).
    pub(super) fn open(
        &self,
        key: &str,
        path: &Path,
        root: &Root,
        hidden: bool,
        remember_absence: bool,
    ) -> Opened {
        // Copied out, so that the lock is not held across the `stat`.
        let cached = self
            .shard(key)
            .and_then(|shard| match lock(shard).get(key) {
                Some(Value::Present(entry, confirmed)) => Some(Some((entry.clone(), *confirmed))),
                Some(Value::Absent(since)) if since.elapsed() < ABSENCE_TTL => Some(None),
                _ => None,
            });
        match cached {
            Some(Some((entry, confirmed))) => {
                if !self.valid_for.is_zero() && confirmed.elapsed() < self.valid_for {
                    return Opened::File(entry);
                }
                match std::fs::metadata(path) {
                    Ok(now) if Identity::of(&now) == entry.identity => {
                        self.confirm(key, &entry);
                        return Opened::File(entry);
                    }
                    _ => {}
                }
            }
            Some(None) => return Opened::Missing,
            None => {}
        }
        let opened = open_uncached(path, root, hidden);
        if let Some(shard) = self.shard(key) {
            let mut shard = lock(shard);
            match &opened {
                Opened::File(entry) => {
                    shard.insert(key, Value::Present(entry.clone(), Instant::now()));
                }
                Opened::Missing if remember_absence => {
                    shard.insert(key, Value::Absent(Instant::now()));
                }
                _ => shard.remove(key),
            }
        }
        opened
    }

    /// `entry`, cached under `key`, was found unchanged now: it is served
    /// without a `stat` for [`valid_for`](Self::valid_for) more.
    fn confirm(&self, key: &str, entry: &Entry) {
        if self.valid_for.is_zero() {
            return;
        }
        if let Some(shard) = self.shard(key)
            && let Some(Value::Present(cached, confirmed)) = lock(shard).get_mut(key)
            && Arc::ptr_eq(&cached.file, &entry.file)
        {
            *confirmed = Instant::now();
        }
    }

    /// The shard of `key`; `None` for a cache of capacity 0.
    fn shard(&self, key: &str) -> Option<&Mutex<Lru>> {
        if self.shards.is_empty() {
            return None;
        }
        // FNV-1a: the shard only needs the bytes spread.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        self.shards.get(hash as usize % self.shards.len())
    }

    /// Files and absences cached now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).map.len()).sum()
    }
}

/// Locks a shard; a panic elsewhere while it was held leaves a map that
/// is still consistent (every update is a single step), so poisoning is
/// ignored.
fn lock(shard: &Mutex<Lru>) -> MutexGuard<'_, Lru> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Opens `path` for serving: a regular file or a directory, inside the
/// root.
fn open_uncached(path: &Path, root: &Root, hidden: bool) -> Opened {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Opened::Missing,
        // A directory cannot be opened as a file on some systems.
        Err(_) => {
            return match std::fs::metadata(path) {
                Ok(metadata) if metadata.is_dir() && root.confines(path, hidden) => Opened::Dir,
                _ => Opened::Missing,
            };
        }
    };
    let Ok(metadata) = file.metadata() else {
        return Opened::Missing;
    };
    if !root.confines(path, hidden) {
        return Opened::Missing;
    }
    if metadata.is_dir() {
        Opened::Dir
    } else if metadata.is_file() {
        Opened::File(Entry {
            identity: Identity::of(&metadata),
            file: Arc::new(file),
        })
    } else {
        // A FIFO, a device, a socket: nothing to send with a length.
        Opened::Missing
    }
}

/// "No slot": the end of the recency list.
const NIL: u32 = u32::MAX;

/// A slot of an [`Lru`]: an entry and its neighbours in recency order.
#[derive(Debug)]
struct Slot {
    /// Its key.
    key: Box<str>,
    /// Its value.
    value: Value,
    /// The slot used just before (towards the head), or [`NIL`].
    newer: u32,
    /// The slot used just after (towards the tail), or [`NIL`].
    older: u32,
}

/// A bounded map whose least recently used entry makes way for a new
/// one: the slots in a vector, linked in recency order, found through a
/// map from key to slot. Once full it allocates only for the key of a
/// new entry.
#[derive(Debug)]
struct Lru {
    /// Slot of each key.
    map: HashMap<Box<str>, u32>,
    /// The slots, at most `capacity` of them.
    slots: Vec<Slot>,
    /// The most recently used slot, or [`NIL`].
    newest: u32,
    /// The least recently used slot, or [`NIL`].
    oldest: u32,
    /// Most entries held.
    capacity: usize,
}

impl Lru {
    /// An empty map of `capacity` entries (at least one).
    fn new(capacity: usize) -> Lru {
        let capacity = capacity.clamp(1, NIL as usize - 1);
        Lru {
            map: HashMap::with_capacity(capacity),
            slots: Vec::with_capacity(capacity),
            newest: NIL,
            oldest: NIL,
            capacity,
        }
    }

    /// The value of `key`, made the most recently used.
    fn get(&mut self, key: &str) -> Option<&Value> {
        let slot = *self.map.get(key)?;
        self.touch(slot);
        Some(&self.slots[slot as usize].value)
    }

    /// The value of `key`, to change, most recently used now.
    fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let slot = *self.map.get(key)?;
        self.touch(slot);
        Some(&mut self.slots[slot as usize].value)
    }

    /// Sets `key` to `value`, most recently used; the least recently
    /// used entry makes way if the map is full.
    fn insert(&mut self, key: &str, value: Value) {
        if let Some(&slot) = self.map.get(key) {
            self.slots[slot as usize].value = value;
            self.touch(slot);
            return;
        }
        let slot = if self.slots.len() < self.capacity {
            self.slots.push(Slot {
                key: key.into(),
                value,
                newer: NIL,
                older: NIL,
            });
            (self.slots.len() - 1) as u32
        } else {
            let slot = self.oldest;
            self.unlink(slot);
            let evicted = &mut self.slots[slot as usize];
            self.map.remove(&evicted.key);
            evicted.key = key.into();
            evicted.value = value;
            slot
        };
        self.map.insert(key.into(), slot);
        self.link_newest(slot);
    }

    /// Forgets `key`'s value: its slot is the first reused.
    fn remove(&mut self, key: &str) {
        if let Some(&slot) = self.map.get(key) {
            self.slots[slot as usize].value = Value::Forgotten;
            self.unlink(slot);
            self.link_oldest(slot);
        }
    }

    /// Makes `slot` the most recently used.
    fn touch(&mut self, slot: u32) {
        if self.newest != slot {
            self.unlink(slot);
            self.link_newest(slot);
        }
    }

    /// Takes `slot` out of the recency list.
    fn unlink(&mut self, slot: u32) {
        let (newer, older) = {
            let node = &self.slots[slot as usize];
            (node.newer, node.older)
        };
        match newer {
            NIL => self.newest = older,
            newer => self.slots[newer as usize].older = older,
        }
        match older {
            NIL => self.oldest = newer,
            older => self.slots[older as usize].newer = newer,
        }
    }

    /// Puts an unlinked `slot` at the head of the recency list.
    fn link_newest(&mut self, slot: u32) {
        let node = &mut self.slots[slot as usize];
        node.newer = NIL;
        node.older = self.newest;
        match self.newest {
            NIL => self.oldest = slot,
            newest => self.slots[newest as usize].newer = slot,
        }
        self.newest = slot;
    }

    /// Puts an unlinked `slot` at the tail of the recency list.
    fn link_oldest(&mut self, slot: u32) {
        let node = &mut self.slots[slot as usize];
        node.older = NIL;
        node.newer = self.oldest;
        match self.oldest {
            NIL => self.newest = slot,
            oldest => self.slots[oldest as usize].older = slot,
        }
        self.oldest = slot;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A directory of the test's own, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("peregrine-cache-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn absent() -> Value {
        Value::Absent(Instant::now())
    }

    /// The keys from most to least recently used.
    fn order(lru: &Lru) -> Vec<String> {
        let mut keys = Vec::new();
        let mut slot = lru.newest;
        while slot != NIL {
            keys.push(lru.slots[slot as usize].key.to_string());
            slot = lru.slots[slot as usize].older;
        }
        keys
    }

    #[test]
    fn the_least_recently_used_entry_makes_way() {
        let mut lru = Lru::new(3);
        for key in ["a", "b", "c"] {
            lru.insert(key, absent());
        }
        assert_eq!(order(&lru), ["c", "b", "a"]);
        assert!(lru.get("a").is_some());
        assert_eq!(order(&lru), ["a", "c", "b"]);
        lru.insert("d", absent());
        assert_eq!(order(&lru), ["d", "a", "c"]);
        assert!(lru.get("b").is_none());
        lru.insert("c", absent());
        assert_eq!(order(&lru), ["c", "d", "a"]);
        lru.remove("d");
        assert_eq!(order(&lru), ["c", "a", "d"]);
        lru.insert("e", absent());
        assert_eq!(order(&lru), ["e", "c", "a"]);
        assert_eq!(lru.map.len(), 3);
        assert_eq!(lru.slots.len(), 3);
    }

    #[test]
    fn a_changed_or_deleted_file_is_opened_afresh() {
        let dir = TempDir::new("changed");
        let root = Root::new(&dir.0).unwrap();
        let path = root.as_str().to_owned() + "/f.txt";
        let path = Path::new(&path);
        std::fs::write(path, b"one").unwrap();
        let cache = FileCache::new(4);
        let Opened::File(first) = cache.open("f.txt", path, &root, false, false) else {
            panic!("not opened")
        };
        let Opened::File(again) = cache.open("f.txt", path, &root, false, false) else {
            panic!("not opened")
        };
        assert!(
            Arc::ptr_eq(&first.file, &again.file),
            "not served from the cache"
        );
        // Replaced by another file (another inode, another length).
        let new = dir.0.join("new.txt");
        std::fs::write(&new, b"second").unwrap();
        std::fs::rename(&new, path).unwrap();
        let Opened::File(replaced) = cache.open("f.txt", path, &root, false, false) else {
            panic!("not opened")
        };
        assert!(!Arc::ptr_eq(&first.file, &replaced.file));
        assert_eq!(replaced.identity.len, 6);
        std::fs::remove_file(path).unwrap();
        assert!(matches!(
            cache.open("f.txt", path, &root, false, false),
            Opened::Missing
        ));
        assert_eq!(cache.len(), 1, "the slot stays, forgotten");
    }

    #[test]
    fn a_file_found_unchanged_is_trusted_for_its_validity() {
        let dir = TempDir::new("valid");
        let root = Root::new(&dir.0).unwrap();
        let path = root.as_str().to_owned() + "/f.txt";
        let path = Path::new(&path);
        std::fs::write(path, b"one").unwrap();
        let mut cache = FileCache::new(4);
        cache.valid_for = Duration::from_secs(3600);
        let Opened::File(first) = cache.open("f.txt", path, &root, false, false) else {
            panic!("not opened")
        };
        // Replaced: within its validity the cached file is still served
        // (no `stat`), as nginx's `open_file_cache_valid` does.
        let new = dir.0.join("new.txt");
        std::fs::write(&new, b"second").unwrap();
        std::fs::rename(&new, path).unwrap();
        let Opened::File(again) = cache.open("f.txt", path, &root, false, false) else {
            panic!("not opened")
        };
        assert!(Arc::ptr_eq(&first.file, &again.file));
        // Once it has run out, the path is checked again.
        cache.valid_for = Duration::from_nanos(1);
        let Opened::File(replaced) = cache.open("f.txt", path, &root, false, false) else {
            panic!("not opened")
        };
        assert!(!Arc::ptr_eq(&first.file, &replaced.file));
        assert_eq!(replaced.identity.len, 6);
    }

    #[test]
    fn absences_are_remembered_only_when_asked() {
        let dir = TempDir::new("absent");
        let root = Root::new(&dir.0).unwrap();
        let path = root.as_str().to_owned() + "/f.txt.br";
        let path = Path::new(&path);
        let cache = FileCache::new(4);
        assert!(matches!(
            cache.open("f.txt.br", path, &root, false, false),
            Opened::Missing
        ));
        assert_eq!(cache.len(), 0);
        assert!(matches!(
            cache.open("f.txt.br", path, &root, false, true),
            Opened::Missing
        ));
        assert_eq!(cache.len(), 1);
        // Within the time an absence is remembered, a new file is not seen.
        std::fs::write(path, b"x").unwrap();
        assert!(matches!(
            cache.open("f.txt.br", path, &root, false, true),
            Opened::Missing
        ));
    }

    #[test]
    fn a_cache_of_capacity_zero_opens_every_time() {
        let dir = TempDir::new("zero");
        let root = Root::new(&dir.0).unwrap();
        let path = root.as_str().to_owned() + "/f.txt";
        let path = Path::new(&path);
        std::fs::write(path, b"x").unwrap();
        let cache = FileCache::new(0);
        let Opened::File(first) = cache.open("f.txt", path, &root, false, false) else {
            panic!()
        };
        let Opened::File(second) = cache.open("f.txt", path, &root, false, false) else {
            panic!()
        };
        assert!(!Arc::ptr_eq(&first.file, &second.file));
        assert!(matches!(
            cache.open("", Path::new(root.as_str()), &root, false, false),
            Opened::Dir
        ));
    }
}
