package org.sls.control.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "SLS control socket", description = "The Unix domain socket libsls applications talk to")
@interface ControlConfig {

    @AttributeDefinition(description = "Socket path; empty means ${karaf.data}/sls/control.sock")
    String socketPath() default "";

    @AttributeDefinition(description = "Permissions of the socket file (octal); 0660 lets the owner and group connect")
    String socketMode() default "0660";

    @AttributeDefinition(description = "Seconds a client may take to send its request line")
    int requestTimeoutSeconds() default 10;

    @AttributeDefinition(description = "Connections served at the same time; more wait", min = "1")
    int maxClients() default 16;
}
