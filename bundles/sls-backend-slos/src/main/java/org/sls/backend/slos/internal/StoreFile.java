package org.sls.backend.slos.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.sls.api.SlsException;

/**
 * Positional I/O on the store file. A thread interrupted during FileChannel I/O closes the channel
 * for every thread; so that one cancelled checkpoint cannot take the store down, the channel is
 * reopened and the other threads retry, while the interrupted thread's operation fails.
 */
final class StoreFile implements AutoCloseable {

    /** Sees every write before it is issued and every completed fdatasync (the crash test's tap). */
    interface WriteObserver {
        void beforeWrite(long position, long length);

        void afterSync();
    }

    static final WriteObserver NO_OBSERVER = new WriteObserver() {
        @Override
        public void beforeWrite(long position, long length) {
        }

        @Override
        public void afterSync() {
        }
    };

    private final Path path;
    private final WriteObserver observer;
    private volatile FileChannel channel;
    private volatile boolean closed;

    StoreFile(Path path, WriteObserver observer) throws IOException {
        this.path = path;
        this.observer = observer;
        this.channel = openChannel();
    }

    Path path() {
        return path;
    }

    private FileChannel openChannel() throws IOException {
        return FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    private interface ChannelOp {
        void run(FileChannel ch) throws IOException;
    }

    private void withChannel(String what, ChannelOp op) throws IOException {
        while (true) {
            FileChannel ch = channel;
            if (closed) {
                throw new SlsException("SLOS store " + path + " is closed (" + what + ")");
            }
            try {
                op.run(ch);
                return;
            } catch (ClosedByInterruptException e) {
                reopenIfStill(ch);
                throw new SlsException("SLOS store " + path + ": " + what + " interrupted", e);
            } catch (ClosedChannelException e) {
                if (closed) {
                    throw new SlsException("SLOS store " + path + " was closed during " + what, e);
                }
                reopenIfStill(ch);
            }
        }
    }

    private synchronized void reopenIfStill(FileChannel broken) throws IOException {
        if (!closed && channel == broken) {
            channel = openChannel();
        }
    }

    void write(ByteBuffer data, long position) throws IOException {
        observer.beforeWrite(position, data.remaining());
        ByteBuffer src = data.duplicate();
        long start = position;
        withChannel("write at " + position, ch -> {
            long pos = start + (src.position() - data.position());
            while (src.hasRemaining()) {
                pos += ch.write(src, pos);
            }
        });
    }

    /** Reads exactly dst.remaining() bytes; a short file is an IOException naming the offset. */
    void readFully(ByteBuffer dst, long position) throws IOException {
        int startPos = dst.position();
        withChannel("read at " + position, ch -> {
            long pos = position + (dst.position() - startPos);
            while (dst.hasRemaining()) {
                int n = ch.read(dst, pos);
                if (n < 0) {
                    throw new IOException("store file ends at " + pos + ", expected data up to "
                            + (position + dst.limit() - startPos));
                }
                pos += n;
            }
        });
    }

    /** fdatasync. */
    void sync() throws IOException {
        withChannel("fdatasync", ch -> ch.force(false));
        observer.afterSync();
    }

    long size() throws IOException {
        long[] out = new long[1];
        withChannel("size", ch -> out[0] = ch.size());
        return out[0];
    }

    @Override
    public synchronized void close() throws IOException {
        closed = true;
        channel.close();
    }
}
