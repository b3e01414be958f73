//! A broker's copy of the cluster metadata, fed by `WatchMetadata`.
//!
//! Readers take an `Arc` of the current image (no lock held while they use it); an
//! update builds the next image and swaps it in, copying only if a reader still holds
//! the old one.

use std::sync::Arc;

use brook_protocol::rpc::MetadataUpdate;
use brook_protocol::rpc::metadata::MetadataImage;
use parking_lot::RwLock;
use tokio::sync::watch;

#[derive(Clone)]
pub struct MetadataCache {
    inner: Arc<Inner>,
}

struct Inner {
    image: RwLock<Arc<MetadataImage>>,
    version: watch::Sender<u64>,
}

impl Default for MetadataCache {
    fn default() -> Self {
        MetadataCache {
            inner: Arc::new(Inner {
                image: RwLock::new(Arc::new(MetadataImage::default())),
                version: watch::Sender::new(0),
            }),
        }
    }
}

impl MetadataCache {
    pub fn image(&self) -> Arc<MetadataImage> {
        Arc::clone(&self.inner.image.read())
    }

    pub fn version(&self) -> u64 {
        *self.inner.version.borrow()
    }

    /// Wakes on every new version.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.version.subscribe()
    }

    pub fn apply(&self, update: MetadataUpdate) {
        self.update_image(|current| match update {
            MetadataUpdate::Snapshot(image) => {
                *current = Arc::new(image);
                true
            }
            MetadataUpdate::Records(records) => {
                if records.is_empty() {
                    return false;
                }
                let image = Arc::make_mut(current);
                for record in &records {
                    image.apply(record);
                }
                true
            }
        });
    }

    /// Takes `image` as the current one unless it is older (a second cache that follows
    /// this one a step behind: the broker's served view, published once its partitions
    /// reflect the image).
    pub fn publish(&self, image: Arc<MetadataImage>) {
        self.update_image(|current| {
            if image.version < current.version {
                return false;
            }
            *current = image;
            true
        });
    }

    /// Runs `change` on the image under the lock; when it changed it, announces the new
    /// version (after the lock is released, so woken readers never wait on it).
    fn update_image(&self, change: impl FnOnce(&mut Arc<MetadataImage>) -> bool) {
        let version = {
            let mut current = self.inner.image.write();
            if !change(&mut current) {
                return;
            }
            current.version
        };
        self.inner.version.send_replace(version);
    }

    /// Waits until the cache has applied `version` (or later).
    pub async fn wait_for_version(&self, version: u64) {
        let mut versions = self.subscribe();
        let _ = versions.wait_for(|v| *v >= version).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(version: u64) -> Arc<MetadataImage> {
        Arc::new(MetadataImage {
            version,
            ..MetadataImage::default()
        })
    }

    #[test]
    fn a_published_image_replaces_an_older_one_only() {
        let served = MetadataCache::default();
        served.publish(image(3));
        assert_eq!((served.version(), served.image().version), (3, 3));
        served.publish(image(2));
        assert_eq!(served.image().version, 3, "an older image is ignored");
        served.publish(image(5));
        assert_eq!((served.version(), served.image().version), (5, 5));
    }
}
