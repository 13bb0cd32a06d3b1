package org.sls.backend.memory.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "SLS memory backend", description = "Epochs kept in memory (tmpfs) until the partition is deleted")
@interface MemoryBackendConfig {

    @AttributeDefinition(description = "Directory on a memory file system for page data; empty means /dev/shm/sls-memory-<JVM pid>")
    String directory() default "";
}
