package org.sls.control.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class ControlProtocolTest {

    private final FakePartitions partitions = new FakePartitions().with(3);
    private final int self = (int) ProcessHandle.current().pid();
    private final int parentOfSelf = (int) ProcessHandle.current().parent().orElseThrow().pid();
    private final ControlProtocol protocol = new ControlProtocol(partitions, new ProcessLineage(Path.of("/proc")));
    private final PeerCredentials user = new PeerCredentials(self, 1000, 1000);

    @Test
    void attachWithoutPidAttachesTheCaller() {
        assertEquals("OK", protocol.handle("ATTACH 3", user));
        assertEquals(List.of(self), partitions.pids.get(3L));
    }

    @Test
    void aUserMayNotActOnAnotherProcess() {
        assertEquals("ERR 1 process " + self + " may not act on process " + parentOfSelf
                + " (only on itself and its descendants)", protocol.handle("ATTACH 3 " + parentOfSelf, user));
        assertEquals(List.of(), partitions.pids.get(3L));
    }

    @Test
    void aUserMayActOnItsDescendants() {
        PeerCredentials parent = new PeerCredentials(parentOfSelf, 1000, 1000);
        assertEquals("OK", protocol.handle("ATTACH 3 " + self, parent));
    }

    @Test
    void rootMayActOnAnyProcess() {
        assertEquals("OK", protocol.handle("ATTACH 3 " + parentOfSelf, new PeerCredentials(self, 0, 0)));
    }

    @Test
    void checkpointIsAllowedOnlyForAPartitionTheCallerIsIn() {
        assertEquals("ERR 1 process " + self + " is not in partition 3", protocol.handle("CHECKPOINT 3", user));
        protocol.handle("ATTACH 3", user);
        assertEquals("OK 0", protocol.handle("CHECKPOINT 3", user));
        assertEquals("OK 1", protocol.handle("CHECKPOINT 3", user));
    }

    @Test
    void errorsCarryAnErrnoAndTheCoreMessage() {
        assertEquals("ERR 2 partition 9 does not exist", protocol.handle("ATTACH 9", user));
        assertEquals("ERR 2 process " + self + " is not attached to partition 3", protocol.handle("DETACH 3", user));
        assertEquals("ERR 22 malformed request 'ATTACH x'", protocol.handle("ATTACH x", user));
        assertEquals("ERR 22 malformed request 'CHECKPOINT'", protocol.handle("CHECKPOINT", user));
        assertEquals("ERR 22 unknown request 'FLY'", protocol.handle("FLY 1", user));
    }
}
