package org.sls.core.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "SLS core", description = "Partitions and checkpoint scheduling")
@interface CoreConfig {

    @AttributeDefinition(description = "Directory for the persisted partition list; empty means ${karaf.data}/sls")
    String stateDirectory() default "";

    @AttributeDefinition(description = "Threads running periodic checkpoints (different partitions run in parallel)", min = "1")
    int schedulerThreads() default 2;
}
