package org.sls.control.internal;

import com.sun.jna.LastErrorException;
import com.sun.jna.ptr.IntByReference;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A line-oriented Unix domain socket server: each connection sends request lines and gets one reply
 * line per request; the handler sees the peer's kernel-vouched credentials.
 */
final class UnixSocketServer {

    private static final Logger LOG = LoggerFactory.getLogger(UnixSocketServer.class);
    private static final int MAX_LINE = 4096;

    private final LibC libc;
    private final Path path;
    private final BiFunction<String, PeerCredentials, String> handler;
    private final int requestTimeoutSeconds;
    private final ExecutorService clients;
    private final Thread acceptor;
    private final int listenFd;
    private volatile boolean running = true;

    UnixSocketServer(LibC libc, Path path, String mode, int requestTimeoutSeconds, int maxClients,
                     BiFunction<String, PeerCredentials, String> handler) throws IOException {
        this.libc = libc;
        this.path = path;
        this.handler = handler;
        this.requestTimeoutSeconds = requestTimeoutSeconds;
        byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
        if (p.length >= 108) {
            throw new IOException("control socket path is longer than 107 bytes: " + path);
        }
        Files.createDirectories(path.getParent());
        Files.deleteIfExists(path); // a socket left by a previous run that did not stop cleanly
        int fd = libc.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0);
        try {
            LibC.SockaddrUn addr = new LibC.SockaddrUn();
            System.arraycopy(p, 0, addr.sun_path, 0, p.length);
            addr.write();
            libc.bind(fd, addr, addr.size());
            Files.setPosixFilePermissions(path, permissions(mode));
            libc.listen(fd, 64);
        } catch (LastErrorException e) {
            libc.close(fd);
            throw new IOException("cannot listen on " + path + ": errno " + e.getErrorCode(), e);
        } catch (IOException | RuntimeException e) {
            libc.close(fd);
            throw e;
        }
        this.listenFd = fd;
        AtomicInteger n = new AtomicInteger();
        this.clients = Executors.newFixedThreadPool(maxClients, r -> {
            Thread t = new Thread(r, "sls-control-client-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.acceptor = new Thread(this::acceptLoop, "sls-control-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    Path path() {
        return path;
    }

    void stop() {
        running = false;
        try {
            acceptor.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        libc.close(listenFd);
        clients.shutdownNow();
        try {
            clients.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.warn("cannot remove control socket {}: {}", path, e.getMessage());
        }
    }

    private void acceptLoop() {
        LibC.PollFd pfd = new LibC.PollFd();
        while (running) {
            try {
                pfd.fd = listenFd;
                pfd.events = LibC.POLLIN;
                pfd.revents = 0;
                // Poll with a timeout so that stop() is noticed without closing the fd under accept.
                if (libc.poll(pfd, 1, 200) <= 0) {
                    continue;
                }
                int client = libc.accept4(listenFd, null, null, LibC.SOCK_CLOEXEC);
                clients.execute(() -> serve(client));
            } catch (LastErrorException e) {
                if (e.getErrorCode() != LibC.EINTR && e.getErrorCode() != LibC.EAGAIN && running) {
                    LOG.warn("control socket accept failed: errno {}", e.getErrorCode());
                }
            }
        }
    }

    private void serve(int fd) {
        try {
            LibC.Ucred cred = new LibC.Ucred();
            IntByReference len = new IntByReference(cred.size());
            libc.getsockopt(fd, LibC.SOL_SOCKET, LibC.SO_PEERCRED, cred, len);
            cred.read();
            PeerCredentials peer = new PeerCredentials(cred.pid, cred.uid, cred.gid);
            LibC.Timeval tv = new LibC.Timeval();
            tv.tv_sec = requestTimeoutSeconds;
            tv.write();
            libc.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVTIMEO, tv, tv.size());
            libc.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_SNDTIMEO, tv, tv.size());
            String line;
            while ((line = readLine(fd)) != null) {
                String reply = handler.apply(line, peer) + "\n";
                byte[] out = reply.getBytes(StandardCharsets.UTF_8);
                if (libc.write(fd, out, out.length) != out.length) {
                    break;
                }
            }
        } catch (LastErrorException e) {
            LOG.debug("control client: errno {}", e.getErrorCode());
        } finally {
            libc.close(fd);
        }
    }

    /** Reads one line byte by byte (requests are tiny); null at end of stream or timeout. */
    private String readLine(int fd) {
        byte[] buf = new byte[MAX_LINE];
        byte[] one = new byte[1];
        int n = 0;
        while (n < MAX_LINE) {
            long r;
            try {
                r = libc.read(fd, one, 1);
            } catch (LastErrorException e) {
                return null;
            }
            if (r <= 0) {
                return null;
            }
            if (one[0] == '\n') {
                return new String(buf, 0, n, StandardCharsets.UTF_8);
            }
            buf[n++] = one[0];
        }
        return null;
    }

    private static Set<PosixFilePermission> permissions(String octal) {
        int m = Integer.parseInt(octal, 8);
        Set<PosixFilePermission> s = new HashSet<>();
        PosixFilePermission[] order = {
            PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ};
        for (int bit = 0; bit < 9; bit++) {
            if ((m & (1 << bit)) != 0) {
                s.add(order[bit]);
            }
        }
        return s;
    }
}
