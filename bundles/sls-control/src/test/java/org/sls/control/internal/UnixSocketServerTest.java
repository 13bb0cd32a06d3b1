package org.sls.control.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UnixSocketServerTest {

    @TempDir
    Path dir;

    private static String exchange(Path socket, String request) throws IOException {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            ch.write(ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8)));
            ByteBuffer buf = ByteBuffer.allocate(4096);
            StringBuilder sb = new StringBuilder();
            while (ch.read(buf) > 0) {
                buf.flip();
                sb.append(StandardCharsets.UTF_8.decode(buf));
                buf.clear();
                if (sb.indexOf("\n") >= 0) {
                    break;
                }
            }
            return sb.toString().trim();
        }
    }

    @Test
    void servesRequestsWithThePeersKernelCredentials() throws IOException {
        Path socket = dir.resolve("control.sock");
        UnixSocketServer server = new UnixSocketServer(LibC.load(), socket, "0660", 5, 2,
                (line, peer) -> "OK " + line + " from " + peer.pid() + "/" + peer.uid());
        try {
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
            assertEquals("OK PING from " + ProcessHandle.current().pid() + "/0", exchange(socket, "PING"));
        } finally {
            server.stop();
        }
        assertFalse(Files.exists(socket), "the socket file is removed on stop");
    }

    @Test
    void anUnprivilegedClientIsIdentifiedAsItself() throws Exception {
        Path socket = dir.resolve("control.sock");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        UnixSocketServer server = new UnixSocketServer(LibC.load(), socket, "0666", 5, 2,
                (line, peer) -> "OK uid=" + peer.uid() + " pid=" + peer.pid());
        try {
            String py = "import os,socket\ns=socket.socket(socket.AF_UNIX)\ns.connect('" + socket + "')\n"
                    + "s.sendall(b'WHO\\n')\nprint(os.getpid(), s.recv(100).decode().strip())\n";
            Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "/usr/bin/python3", "-c", py).redirectErrorStream(true).start();
            assertTrue(p.waitFor(20, TimeUnit.SECONDS));
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            String[] parts = out.split(" ", 2);
            assertEquals("OK uid=65534 pid=" + parts[0], parts[1], out);
        } finally {
            server.stop();
        }
    }

    @Test
    void aSocketPathThatIsTooLongIsRefusedClearly() {
        Path socket = dir.resolve("x".repeat(120));
        IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
                () -> new UnixSocketServer(LibC.load(), socket, "0660", 5, 2, (l, p) -> "OK"));
        assertTrue(e.getMessage().startsWith("control socket path is longer than 107 bytes"), e.getMessage());
    }
}
