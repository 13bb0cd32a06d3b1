package org.sls.backend.slos.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;

/**
 * Bringing a store file or device into existence and finding out what it is: atomic creation,
 * in-place initialisation of an empty device, the lock file, a device's size.
 */
final class StoreCreation {

    private StoreCreation() {
    }

    static Path lockPath(Path path, boolean device) {
        return device ? Path.of(System.getProperty("java.io.tmpdir"),
                "slos-" + path.toString().replace('/', '_') + ".lock") : path.resolveSibling(path.getFileName() + ".lock");
    }

    /** Temporary files of a creation that crashed before its rename; only ever seen under the store lock. */
    static void deleteInterruptedCreations(Path path) throws IOException {
        String prefix = path.getFileName() + ".creating-";
        try (var siblings = Files.list(path.toAbsolutePath().getParent())) {
            for (Path p : (Iterable<Path>) siblings::iterator) {
                if (p.getFileName().toString().startsWith(prefix)) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /**
     * A raw device is taken over only when its first MiB is all zeros: every common signature (file
     * systems including btrfs at 64 KiB, LVM, swap, partition tables, ZFS labels) lies in there.
     * Prepare one with {@code dd if=/dev/zero of=DEVICE bs=1M count=1}.
     */
    static boolean firstBytesAllZero(Path device) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(1 << 20);
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.READ)) {
            while (b.hasRemaining() && ch.read(b, b.position()) > 0) {
                // read the whole first MiB (or the whole device if smaller)
            }
        }
        for (int i = 0; i < b.position(); i++) {
            if (b.get(i) != 0) {
                return false;
            }
        }
        return true;
    }

    /** A new store appears whole or not at all: built under a temporary name, synced, renamed. */
    static void createFile(Path path, Store.Options o) throws IOException {
        Path dir = path.getParent();
        Files.createDirectories(dir);
        Path temp = dir.resolve(path.getFileName() + ".creating-" + ProcessHandle.current().pid());
        Files.deleteIfExists(temp);
        Files.createFile(temp);
        initialize(temp, o);
        Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    static void initialize(Path target, Store.Options o) throws IOException {
        long id = new SecureRandom().nextLong();
        Catalog empty = Catalog.empty();
        byte[] blob = empty.encode(0);
        try (FileChannel ch = FileChannel.open(target, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            writeAll(ch, Layout.encodeHeader(new Layout.Header(Layout.FORMAT_VERSION, Layout.BLOCK, id,
                    System.currentTimeMillis())), Layout.HEADER_OFFSET);
            writeAll(ch, ByteBuffer.wrap(blob), Layout.PAYLOAD_START);
            writeAll(ch, Layout.encodeSlot(new Layout.Slot(Layout.FORMAT_VERSION, Layout.COMMIT_FLAG, id, 0,
                    o.capacityBytes(), Layout.PAYLOAD_START, blob.length, Layout.crc(blob, 0, blob.length))),
                    Layout.SLOT_OFFSETS[0]);
            writeAll(ch, ByteBuffer.allocate(Layout.BLOCK), Layout.SLOT_OFFSETS[1]);
            ch.force(true);
        }
    }

    static void writeAll(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
    }

    static long deviceSize(Path device) throws IOException {
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > 0) {
                return size;
            }
        }
        Object rdev = Files.getAttribute(device, "unix:rdev");
        long dev = ((Number) rdev).longValue();
        long major = (dev >> 8) & 0xfff;
        long minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
        Path sys = Path.of("/sys/dev/block/" + major + ":" + minor + "/size");
        return Long.parseLong(Files.readString(sys).trim()) * 512;
    }
}
