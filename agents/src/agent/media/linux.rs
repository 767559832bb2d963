//! Removable media on Linux, from sysfs and udev's `/dev/disk` links: a block device is removable when
//! `/sys/block/X/removable` is 1 or a `/dev/disk/by-id/usb-*` link points at it. Its serial comes from the USB
//! device's `serial` attribute (an ancestor of `/sys/block/X/device`), else from the by-id link's name; its label
//! from `/dev/disk/by-label`; its mount points from `/proc/mounts`. Only mounted media are reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hall_protocol::payload::RemovableMedium;

/// Where the system exposes what [`scan`] reads; tests point it at a temporary tree.
pub struct Roots {
    pub sys_block: PathBuf,
    pub by_id: PathBuf,
    pub by_label: PathBuf,
    pub mounts: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            sys_block: "/sys/block".into(),
            by_id: "/dev/disk/by-id".into(),
            by_label: "/dev/disk/by-label".into(),
            mounts: "/proc/mounts".into(),
        }
    }
}

pub fn mounted_removable_media() -> Vec<RemovableMedium> {
    scan(&Roots::default())
}

/// One medium per mounted removable block device (or partition of one).
pub fn scan(roots: &Roots) -> Vec<RemovableMedium> {
    let mounts = std::fs::read_to_string(&roots.mounts).unwrap_or_default();
    let mounts = parse_mounts(&mounts);
    // Block device name → serial from its by-id name (USB devices only).
    let mut usb: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (name, target) in links(&roots.by_id) {
        if let Some(rest) = name.strip_prefix("usb-") {
            let disk = disk_of(&roots.sys_block, &target);
            let serial = serial_from_by_id(rest);
            let entry = usb.entry(disk).or_default();
            if entry.is_none() {
                *entry = serial;
            }
        }
    }
    let labels: BTreeMap<String, String> = links(&roots.by_label)
        .into_iter()
        .map(|(label, target)| (target, unescape_udev(&label)))
        .collect();
    let Ok(entries) = std::fs::read_dir(&roots.sys_block) else {
        return Vec::new();
    };
    let mut media = Vec::new();
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            !["loop", "ram", "zram", "dm-", "md", "nbd"]
                .iter()
                .any(|p| n.starts_with(p))
        })
        .collect();
    names.sort();
    for disk in names {
        let dir = roots.sys_block.join(&disk);
        let removable =
            std::fs::read_to_string(dir.join("removable")).is_ok_and(|s| s.trim() == "1");
        if !removable && !usb.contains_key(&disk) {
            continue;
        }
        let serial = sysfs_serial(&dir)
            .or_else(|| usb.get(&disk).cloned().flatten())
            .unwrap_or_else(|| format!("unknown:{disk}"));
        // The disk itself and each of its partitions, as /dev names.
        let mut parts = vec![disk.clone()];
        if let Ok(children) = std::fs::read_dir(&dir) {
            for c in children.filter_map(|e| e.ok()) {
                if c.path().join("partition").exists() {
                    parts.push(c.file_name().to_string_lossy().into_owned());
                }
            }
        }
        parts.sort();
        for part in parts {
            let dev = format!("/dev/{part}");
            for (_, mount) in mounts.iter().filter(|(d, _)| *d == dev) {
                media.push(RemovableMedium {
                    serial: serial.clone(),
                    label: labels.get(&part).cloned(),
                    mount: Some(mount.clone()),
                });
            }
        }
    }
    media
}

/// `(device, mount point)` of every `/dev/…` line of `/proc/mounts`, with the kernel's octal escapes undone.
fn parse_mounts(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let dev = unescape_octal(fields.next()?);
            let mount = unescape_octal(fields.next()?);
            if !dev.starts_with("/dev/") {
                return None;
            }
            // A mount by a udev link (/dev/disk/by-uuid/…) names the device it points at.
            let dev = std::fs::canonicalize(&dev)
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
                .filter(|p| p.starts_with("/dev/"))
                .unwrap_or(dev);
            Some((dev, mount))
        })
        .collect()
}

fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(v) = s
                .get(i + 1..i + 4)
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// udev escapes spaces and other bytes in link names as `\xNN`.
fn unescape_udev(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && bytes.get(i + 1) == Some(&b'x')
            && let Some(v) = s
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `Kingston_DataTraveler_3.0_60A44C3F-0:0-part1` → `60A44C3F`: the last `_` field before the `-LUN` suffix.
fn serial_from_by_id(rest: &str) -> Option<String> {
    let rest = rest.split("-part").next().unwrap_or(rest);
    let rest = match rest.rsplit_once('-') {
        Some((head, lun)) if lun.contains(':') => head,
        _ => rest,
    };
    let serial = rest.rsplit('_').next()?;
    (!serial.is_empty()).then(|| serial.to_owned())
}

/// The `serial` attribute of the nearest ancestor of the disk's device that has one (the USB device).
fn sysfs_serial(disk_dir: &Path) -> Option<String> {
    let mut dir = std::fs::canonicalize(disk_dir.join("device")).ok()?;
    for _ in 0..8 {
        if let Ok(s) = std::fs::read_to_string(dir.join("serial")) {
            let s = s.trim();
            if !s.is_empty() {
                return Some(s.to_owned());
            }
        }
        if !dir.pop() {
            break;
        }
    }
    None
}

/// `(link name, file name of its target)` for each symlink in `dir`.
fn links(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?;
            Some((
                e.file_name().to_string_lossy().into_owned(),
                target.file_name()?.to_string_lossy().into_owned(),
            ))
        })
        .collect()
}

/// The disk a block device name belongs to: itself when it is a disk, else the disk that has it as a partition.
fn disk_of(sys_block: &Path, name: &str) -> String {
    if sys_block.join(name).exists() {
        return name.to_owned();
    }
    std::fs::read_dir(sys_block)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .find(|e| e.path().join(name).exists())
        .map_or_else(
            || name.to_owned(),
            |e| e.file_name().to_string_lossy().into_owned(),
        )
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn a_mounted_usb_stick_with_serial_label_and_mount_point() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let usb_dev = root.join("devices/usb1/1-1");
        let scsi = usb_dev.join("1-1:1.0/host2/2:0:0:0");
        std::fs::create_dir_all(&scsi).unwrap();
        std::fs::write(usb_dev.join("serial"), "60A44C3FACB3\n").unwrap();
        let block = root.join("block");
        for (disk, removable) in [("sda", "0"), ("sdb", "1"), ("loop0", "0")] {
            std::fs::create_dir_all(block.join(disk)).unwrap();
            std::fs::write(block.join(disk).join("removable"), removable).unwrap();
        }
        std::fs::create_dir_all(block.join("sdb/sdb1")).unwrap();
        std::fs::write(block.join("sdb/sdb1/partition"), "1").unwrap();
        symlink(&scsi, block.join("sdb/device")).unwrap();
        let by_id = root.join("by-id");
        let by_label = root.join("by-label");
        std::fs::create_dir_all(&by_id).unwrap();
        std::fs::create_dir_all(&by_label).unwrap();
        symlink(
            "../../sdb1",
            by_id.join("usb-Kingston_DataTraveler_3.0_60A44C3FACB3-0:0-part1"),
        )
        .unwrap();
        symlink("../../sdb1", by_label.join("KINGSTON\\x20U")).unwrap();
        let mounts = root.join("mounts");
        std::fs::write(
            &mounts,
            "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /media/user/KINGSTON\\040U vfat rw 0 0\nproc /proc proc rw 0 0\n",
        )
        .unwrap();
        let media = scan(&Roots {
            sys_block: block,
            by_id,
            by_label,
            mounts,
        });
        assert_eq!(
            media,
            vec![RemovableMedium {
                serial: "60A44C3FACB3".into(),
                label: Some("KINGSTON U".into()),
                mount: Some("/media/user/KINGSTON U".into()),
            }]
        );
    }

    #[test]
    fn serial_from_the_by_id_name() {
        assert_eq!(
            serial_from_by_id("Kingston_DataTraveler_3.0_60A44C3F-0:0-part1").as_deref(),
            Some("60A44C3F")
        );
        assert_eq!(
            serial_from_by_id("SanDisk_Cruzer_4C53-0:0").as_deref(),
            Some("4C53")
        );
    }
}
