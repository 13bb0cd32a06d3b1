package org.sls.control.internal;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Structure;
import com.sun.jna.ptr.IntByReference;
import java.util.Map;

/**
 * The few libc calls a Unix domain socket server with peer credentials needs. Java's own
 * UnixDomainSocketAddress channels report the peer's user but not its PID, and the control protocol
 * authorizes by PID.
 */
interface LibC extends Library {

    int AF_UNIX = 1;
    int SOCK_STREAM = 1;
    int SOCK_CLOEXEC = 0x80000;
    int SOL_SOCKET = 1;
    int SO_PEERCRED = 17;
    int SO_RCVTIMEO = 20;
    int SO_SNDTIMEO = 21;
    short POLLIN = 1;
    int EINTR = 4;
    int EAGAIN = 11;

    static LibC load() {
        return Native.load("c", LibC.class, Map.of(Library.OPTION_CLASSLOADER, LibC.class.getClassLoader()));
    }

    @Structure.FieldOrder({"sun_family", "sun_path"})
    class SockaddrUn extends Structure {
        public short sun_family = AF_UNIX;
        public byte[] sun_path = new byte[108];
    }

    @Structure.FieldOrder({"pid", "uid", "gid"})
    class Ucred extends Structure {
        public int pid;
        public int uid;
        public int gid;
    }

    @Structure.FieldOrder({"tv_sec", "tv_usec"})
    class Timeval extends Structure {
        public long tv_sec;
        public long tv_usec;
    }

    @Structure.FieldOrder({"fd", "events", "revents"})
    class PollFd extends Structure {
        public int fd;
        public short events;
        public short revents;
    }

    int socket(int domain, int type, int protocol) throws LastErrorException;

    int bind(int fd, SockaddrUn addr, int len) throws LastErrorException;

    int listen(int fd, int backlog) throws LastErrorException;

    int accept4(int fd, Structure addr, IntByReference len, int flags) throws LastErrorException;

    int getsockopt(int fd, int level, int name, Structure value, IntByReference len) throws LastErrorException;

    int setsockopt(int fd, int level, int name, Structure value, int len) throws LastErrorException;

    int poll(PollFd fds, int nfds, int timeoutMs) throws LastErrorException;

    long read(int fd, byte[] buf, long count) throws LastErrorException;

    long write(int fd, byte[] buf, long count) throws LastErrorException;

    int close(int fd);
}
