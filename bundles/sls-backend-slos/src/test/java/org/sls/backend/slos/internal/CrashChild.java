package org.sls.backend.slos.internal;

import java.io.PrintStream;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.nio.file.Path;
import java.util.List;
import org.sls.api.EpochInfo;

/**
 * The crash test's victim, run in its own JVM: opens the store and commits the deterministic
 * stream of {@link CrashContent} until it is killed. Prints, unbuffered: {@code OPEN <newest>} once
 * open, {@code W <pos> <len>} before every store write, {@code S} after every fdatasync, and
 * {@code C <epoch>} only after commit returned.
 *
 * <p>Arguments: store path, retained epochs.
 */
public final class CrashChild {

    private CrashChild() {
    }

    public static void main(String[] args) {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true);
        Path store = Path.of(args[0]);
        int retain = Integer.parseInt(args[1]);
        StoreFile.WriteObserver tap = new StoreFile.WriteObserver() {
            @Override
            public void beforeWrite(long position, long length) {
                out.println("W " + position + " " + length);
            }

            @Override
            public void afterSync() {
                out.println("S");
            }
        };
        Store.Options options = new Store.Options(store, 64L << 20, retain, store.resolveSibling("pages"), true, tap);
        try (Store s = Store.open(options)) {
            List<EpochInfo> epochs = s.epochs(CrashContent.OID);
            long previous = epochs.isEmpty() ? 0 : epochs.get(epochs.size() - 1).epoch();
            out.println("OPEN " + previous);
            // Commits until killed; stops by itself should the test JVM die first (no orphan left running).
            ProcessHandle testJvm = ProcessHandle.current().parent().orElseThrow();
            while (testJvm.isAlive()) {
                long epoch = previous + 1;
                long parent = CrashContent.isDelta(epoch, previous) ? previous : -1;
                Epochs.commit(s::beginEpoch, CrashContent.OID, epoch, parent, CrashContent.captured(epoch, previous));
                out.println("C " + epoch);
                previous = epoch;
            }
        }
    }
}
