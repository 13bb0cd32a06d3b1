package org.sls.backend.slos.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** ConfigAdmin PID {@code org.sls.backend.slos} (etc/org.sls.backend.slos.cfg). */
@ObjectClassDefinition(name = "SLS SLOS backend", description = "The crash-consistent on-disk object store")
public @interface SlosConfiguration {

    @AttributeDefinition(description = "Store file or raw block device; empty means ${karaf.data}/sls/slos.store")
    String storePath() default "";

    @AttributeDefinition(description = "Size in MiB a store file may grow to (ignored for a block device)")
    long storeSizeMb() default 4096;

    @AttributeDefinition(description = "Epochs kept per partition; older ones are freed unless a kept delta needs them")
    int retainEpochs() default 16;

    @AttributeDefinition(description = "Directory for the engine's page files; empty means /dev/shm if present, "
            + "else the store's directory")
    String pageDir() default "";

    @AttributeDefinition(description = "Check every page's CRC32C before handing an epoch's pages to the restorer")
    boolean verifyOnRestore() default true;
}
