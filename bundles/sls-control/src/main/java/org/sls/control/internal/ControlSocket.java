package org.sls.control.internal;

import java.io.IOException;
import java.nio.file.Path;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;
import org.sls.api.PartitionService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the control socket for libsls while the partition service is present. It holds no state of
 * its own: every request becomes a call on PartitionService, like a shell command.
 */
@Component(immediate = true, configurationPid = "org.sls.control")
@Designate(ocd = ControlConfig.class)
public class ControlSocket {

    private static final Logger LOG = LoggerFactory.getLogger(ControlSocket.class);

    @Reference
    PartitionService partitions;

    private UnixSocketServer server;

    @Activate
    @Modified
    void configure(ControlConfig config) throws IOException {
        stop();
        String p = config.socketPath();
        Path path = p == null || p.isBlank()
                ? Path.of(System.getProperty("karaf.data", System.getProperty("java.io.tmpdir")), "sls", "control.sock")
                : Path.of(p);
        ControlProtocol protocol = new ControlProtocol(partitions, new ProcessLineage(Path.of("/proc")));
        server = new UnixSocketServer(LibC.load(), path, config.socketMode(), config.requestTimeoutSeconds(),
                Math.max(1, config.maxClients()), protocol::handle);
        LOG.info("SLS control socket listening on {}", path);
    }

    @Deactivate
    void stop() {
        if (server != null) {
            server.stop();
            server = null;
        }
    }
}
