package org.sls.control.internal;

import java.util.LinkedHashMap;
import java.util.Map;
import org.sls.api.CheckpointResult;
import org.sls.api.PartitionInfo;
import org.sls.api.PartitionService;
import org.sls.api.SlsException;

/**
 * The control protocol libsls speaks: one request line, one reply line.
 *
 * <pre>
 *   PING                       -> OK pong
 *   ATTACH oid [pid]           -> OK            (pid: the caller by default)
 *   DETACH oid [pid]           -> OK
 *   CHECKPOINT oid             -> OK epoch      (returns once the epoch is committed)
 *   errors                     -> ERR errno message
 * </pre>
 *
 * A caller that is not root may act only on its own process and its descendants, and may checkpoint
 * only a partition its own process is attached to.
 */
final class ControlProtocol {

    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int ESRCH = 3;
    static final int EIO = 5;
    static final int EBUSY = 16;
    static final int EEXIST = 17;
    static final int EINVAL = 22;
    static final int ENOSYS = 38;

    private final PartitionService partitions;
    private final ProcessLineage lineage;

    ControlProtocol(PartitionService partitions, ProcessLineage lineage) {
        this.partitions = partitions;
        this.lineage = lineage;
    }

    String handle(String line, PeerCredentials peer) {
        String[] w = line.trim().split("\\s+");
        try {
            switch (w[0]) {
                case "PING":
                    return "OK pong";
                case "ATTACH": {
                    long oid = oid(w);
                    int pid = target(w, peer);
                    partitions.attach(oid, pid);
                    return "OK";
                }
                case "DETACH": {
                    long oid = oid(w);
                    int pid = target(w, peer);
                    partitions.detach(oid, pid);
                    return "OK";
                }
                case "CHECKPOINT": {
                    long oid = oid(w);
                    if (!peer.root()) {
                        PartitionInfo p = partitions.partition(oid);
                        if (p.pids().stream().noneMatch(pid -> lineage.isSelfOrDescendant(peer.pid(), pid))) {
                            return err(EPERM, "process " + peer.pid() + " is not in partition " + oid);
                        }
                    }
                    CheckpointResult r = partitions.checkpoint(oid, false);
                    return "OK " + r.epoch();
                }
                default:
                    return err(EINVAL, "unknown request '" + w[0] + "'");
            }
        } catch (Denied d) {
            return err(EPERM, d.getMessage());
        } catch (NumberFormatException e) {
            return err(EINVAL, "malformed request '" + line.trim() + "'");
        } catch (SlsException e) {
            return err(errno(e.getMessage()), e.getMessage());
        } catch (RuntimeException e) {
            return err(EIO, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    private static long oid(String[] w) {
        if (w.length < 2) {
            throw new NumberFormatException();
        }
        return Long.parseLong(w[1]);
    }

    private int target(String[] w, PeerCredentials peer) {
        int pid = w.length > 2 ? Integer.parseInt(w[2]) : peer.pid();
        if (!peer.root() && !lineage.isSelfOrDescendant(pid, peer.pid())) {
            throw new Denied("process " + peer.pid() + " may not act on process " + pid
                    + " (only on itself and its descendants)");
        }
        return pid;
    }

    /** The core's one-line errors, by a phrase they contain, mapped to errno values a C caller can switch on. */
    private static final Map<String, Integer> ERRNO_BY_PHRASE = new LinkedHashMap<>();

    static {
        ERRNO_BY_PHRASE.put("does not exist", ENOENT);
        ERRNO_BY_PHRASE.put("has exited", ESRCH);
        ERRNO_BY_PHRASE.put("already attached", EEXIST);
        ERRNO_BY_PHRASE.put("already exists", EEXIST);
        ERRNO_BY_PHRASE.put("is not attached", ENOENT);
        ERRNO_BY_PHRASE.put("not available", ENOSYS);
        ERRNO_BY_PHRASE.put("backend unavailable", EBUSY);
        ERRNO_BY_PHRASE.put("must be a positive integer", EINVAL);
    }

    static int errno(String message) {
        for (Map.Entry<String, Integer> e : ERRNO_BY_PHRASE.entrySet()) {
            if (message.contains(e.getKey())) {
                return e.getValue();
            }
        }
        return EIO;
    }

    private static String err(int errno, String message) {
        return "ERR " + errno + " " + message.replace('\n', ' ');
    }

    private static final class Denied extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Denied(String message) {
            super(message);
        }
    }
}
