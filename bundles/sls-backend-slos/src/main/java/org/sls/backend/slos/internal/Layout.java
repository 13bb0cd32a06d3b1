package org.sls.backend.slos.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The fixed part of the on-disk format.
 *
 * <pre>
 * offset 0      header block   magic "SLOSSTOR", format version, block size, store id, creation time, CRC32C
 * offset 4096   metadata slot 0 \  written alternately (double buffer, seed 000): magic "SLOSSLOT",
 * offset 8192   metadata slot 1 /  version, commit flag, store id, generation, capacity, catalog
 *                                  location + length + CRC32C, CRC32C of the slot itself
 * offset 65536  payload: 4 KiB blocks holding page extents, epoch records and catalog blobs,
 *               allocated from the free space left by both live catalogs
 * </pre>
 *
 * The header is written once, when the store is created; everything else changes only through a
 * slot write, which is the commit point of every metadata change.
 */
final class Layout {

    static final int FORMAT_VERSION = 1;
    /** How every decoder names a structure written by a newer format version (which opening refuses). */
    static final String NEWER_VERSION = "written by newer format version";
    static final int BLOCK = 4096;
    static final long HEADER_OFFSET = 0;
    static final long[] SLOT_OFFSETS = {4096, 8192};
    static final long PAYLOAD_START = 65536;

    static final byte[] HEADER_MAGIC = "SLOSSTOR".getBytes(StandardCharsets.US_ASCII);
    static final byte[] SLOT_MAGIC = "SLOSSLOT".getBytes(StandardCharsets.US_ASCII);
    static final byte[] CATALOG_MAGIC = "SLOSCATL".getBytes(StandardCharsets.US_ASCII);
    static final byte[] RECORD_MAGIC = "SLOSEREC".getBytes(StandardCharsets.US_ASCII);

    /** The seed's WRITE_LOCK: a slot counts only once this exact value is in place ("COMT"). */
    static final int COMMIT_FLAG = 0x434F4D54;

    private static final int HEADER_BYTES = 8 + 4 + 4 + 8 + 8;
    private static final int SLOT_BYTES = 8 + 4 + 4 + 8 + 8 + 8 + 8 + 8 + 4;

    private Layout() {
    }

    static long roundUp(long bytes) {
        return (bytes + BLOCK - 1) / BLOCK * BLOCK;
    }

    static int crc(ByteBuffer data) {
        CRC32C c = new CRC32C();
        c.update(data.duplicate());
        return (int) c.getValue();
    }

    static int crc(byte[] data, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(data, off, len);
        return (int) c.getValue();
    }

    record Header(int version, int blockSize, long storeId, long createdMillis) {
    }

    record Slot(int version, int commitFlag, long storeId, long generation, long capacity, long catalogOffset,
                long catalogLength, int catalogCrc) {
    }

    static ByteBuffer encodeHeader(Header h) {
        ByteBuffer b = ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN);
        b.put(HEADER_MAGIC).putInt(h.version()).putInt(h.blockSize()).putLong(h.storeId()).putLong(h.createdMillis());
        b.putInt(crc(b.array(), 0, HEADER_BYTES));
        b.clear();
        return b;
    }

    /** What the first block of a file says about it. */
    sealed interface HeaderCheck permits HeaderOk, NotAStore, NewerVersion, DamagedHeader {
    }

    record HeaderOk(Header header) implements HeaderCheck {
    }

    record NotAStore() implements HeaderCheck {
    }

    record NewerVersion(int version) implements HeaderCheck {
    }

    record DamagedHeader() implements HeaderCheck {
    }

    static HeaderCheck decodeHeader(ByteBuffer block) {
        ByteBuffer b = block.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        b.position(0);
        byte[] magic = new byte[8];
        b.get(magic);
        if (!java.util.Arrays.equals(magic, HEADER_MAGIC)) {
            return new NotAStore();
        }
        int version = b.getInt();
        int blockSize = b.getInt();
        long storeId = b.getLong();
        long created = b.getLong();
        int stored = b.getInt();
        byte[] all = new byte[HEADER_BYTES];
        block.duplicate().position(0).get(all);
        if (stored != crc(all, 0, HEADER_BYTES)) {
            return new DamagedHeader();
        }
        if (version > FORMAT_VERSION) {
            return new NewerVersion(version);
        }
        if (blockSize != BLOCK) {
            return new DamagedHeader();
        }
        return new HeaderOk(new Header(version, blockSize, storeId, created));
    }

    static ByteBuffer encodeSlot(Slot s) {
        ByteBuffer b = ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN);
        b.put(SLOT_MAGIC).putInt(s.version()).putInt(s.commitFlag()).putLong(s.storeId()).putLong(s.generation())
                .putLong(s.capacity()).putLong(s.catalogOffset()).putLong(s.catalogLength()).putInt(s.catalogCrc());
        b.putInt(crc(b.array(), 0, SLOT_BYTES));
        b.clear();
        return b;
    }

    /** A slot, or why it does not count (null slot). */
    record SlotCheck(Slot slot, String problem) {
    }

    static SlotCheck decodeSlot(ByteBuffer block, long storeId) {
        ByteBuffer b = block.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        b.position(0);
        byte[] magic = new byte[8];
        b.get(magic);
        if (!java.util.Arrays.equals(magic, SLOT_MAGIC)) {
            return new SlotCheck(null, "no slot magic");
        }
        Slot s = new Slot(b.getInt(), b.getInt(), b.getLong(), b.getLong(), b.getLong(), b.getLong(), b.getLong(),
                b.getInt());
        int stored = b.getInt();
        byte[] all = new byte[SLOT_BYTES];
        block.duplicate().position(0).get(all);
        if (stored != crc(all, 0, SLOT_BYTES)) {
            return new SlotCheck(null, "CRC32C mismatch");
        }
        if (s.commitFlag() != COMMIT_FLAG) {
            return new SlotCheck(null, "commit flag not set");
        }
        if (s.storeId() != storeId) {
            return new SlotCheck(null, "belongs to another store");
        }
        if (s.version() > FORMAT_VERSION) {
            return new SlotCheck(null, NEWER_VERSION + " " + s.version());
        }
        return new SlotCheck(s, null);
    }
}
